"""SageMaker training and tuning jobs: what SDK v2 needs, without invented results.

moto 5.2.5 gaps closed here:
- DescribeTrainingJob omits `OutputDataConfig.KmsKeyId`, which `Estimator.attach()` indexes:
  reported as "" (what AWS returns when no key was given).
- moto replaces the job's metric definitions with a fake one and reports a fake
  `train:progress` metric: the requested definitions are kept and no metric is reported until
  one is (see the result route below).
- Tuning jobs name a `BestTrainingJob` "FakeTrainingJobName" that cannot be described, and
  `ListTrainingJobsForHyperParameterTuningJob` is missing: a tuning job now creates its
  `MaxNumberOfTrainingJobs` child training jobs (hyperparameters sampled at random within the
  requested ranges, static ones copied), lists them, and names as best the child with the best
  *reported* objective value. With none reported there is no BestTrainingJob.

The emulator runs no training: like moto's own jobs, children are `Completed` at creation. The
tooling runs a job's training for real and then reports its outcome with

    POST /moto-api/dogops/sagemaker/training-job-result
    {"TrainingJobName": "...", "FinalMetricDataList": [{"MetricName": "valid_loss", "Value": 0.4}],
     "TrainingJobStatus": "Completed" | "Failed" | "Stopped", "FailureReason": "...",
     "Region": "us-east-1", "AccountId": "123456789012"}

Metrics of a Completed job are accepted only once its model artifact exists in the emulated S3,
so a best job's model URI always points at a real file.
"""

from __future__ import annotations

import copy
import json
import math
import random
import uuid
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.common_types import TYPE_RESPONSE
from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.moto_api._internal import urls as moto_api_urls
from moto.s3.models import s3_backends
from moto.sagemaker.exceptions import ResourceNotFound, ValidationError
from moto.sagemaker.models import (
    FakeTrainingJob,
    HyperParameterTuningJob,
    SageMakerModelBackend,
    sagemaker_backends,
)
from moto.sagemaker.responses import SageMakerResponse

RESULT_ROUTE = "{0}/moto-api/dogops/sagemaker/training-job-result"
TERMINAL_STATUSES = ("Completed", "Failed", "Stopped")
_CHILDREN_ATTR = "_dogops_tuning_children"  # backend: tuning job name -> [child job names]
_TUNED_ATTR = "_dogops_tuned_hyperparameters"  # backend: child job name -> sampled values


# -- training jobs ---------------------------------------------------------------------------
_original_training_init = FakeTrainingJob.__init__


def _training_init(self: FakeTrainingJob, *args: Any, **kwargs: Any) -> None:
    requested = copy.deepcopy(kwargs.get("algorithm_specification") or {})
    kwargs["output_data_config"] = {"KmsKeyId": "", **(kwargs.get("output_data_config") or {})}
    _original_training_init(self, *args, **kwargs)
    if "MetricDefinitions" in requested:
        self.algorithm_specification["MetricDefinitions"] = requested["MetricDefinitions"]
    else:
        self.algorithm_specification.pop("MetricDefinitions", None)
    self.final_metric_data_list = None  # nothing measured yet: omitted from Describe


def _artifact_exists(account_id: str, s3_uri: str) -> bool:
    bucket, _, key = s3_uri.removeprefix("s3://").partition("/")
    try:
        return s3_backends[account_id]["aws"].get_object(bucket, key) is not None
    except Exception:  # noqa: BLE001 - moto raises MissingBucket/MissingKey/...: all mean "no"
        return False


# -- tuning jobs -----------------------------------------------------------------------------
def _sample(ranges: dict[str, Any], rng: random.Random) -> dict[str, str]:
    """One random point of the tuning job's ParameterRanges, as SageMaker's string values."""

    def scaled(low: float, high: float, scaling: str | None) -> float:
        if scaling in ("Logarithmic", "ReverseLogarithmic") and low > 0:
            return math.exp(rng.uniform(math.log(low), math.log(high)))
        return rng.uniform(low, high)

    values: dict[str, str] = {}
    for spec in ranges.get("IntegerParameterRanges", []):
        low, high = int(spec["MinValue"]), int(spec["MaxValue"])
        values[spec["Name"]] = str(
            min(high, max(low, round(scaled(low, high, spec.get("ScalingType")))))
        )
    for spec in ranges.get("ContinuousParameterRanges", []):
        low, high = float(spec["MinValue"]), float(spec["MaxValue"])
        values[spec["Name"]] = repr(scaled(low, high, spec.get("ScalingType")))
    for spec in ranges.get("CategoricalParameterRanges", []):
        values[spec["Name"]] = rng.choice(spec["Values"])
    return values


_original_create_tuning_job = SageMakerModelBackend.create_hyper_parameter_tuning_job


def _create_tuning_job(self: SageMakerModelBackend, **kwargs: Any) -> str:
    arn = _original_create_tuning_job(self, **kwargs)
    name = kwargs["hyper_parameter_tuning_job_name"]
    config = kwargs["hyper_parameter_tuning_job_config"]
    definition = (
        kwargs.get("training_job_definition")
        or ((kwargs.get("training_job_definitions") or [None])[0])
    )
    if definition is None:
        raise ValidationError(message="TrainingJobDefinition is required")
    limit = int(config.get("ResourceLimits", {}).get("MaxNumberOfTrainingJobs", 1))
    objective = config.get("HyperParameterTuningJobObjective", {})
    rng = random.Random(name)  # reproducible per tuning job name
    children = self.__dict__.setdefault(_CHILDREN_ATTR, {}).setdefault(name, [])
    tuned_store = self.__dict__.setdefault(_TUNED_ATTR, {})
    for index in range(1, limit + 1):
        tuned = _sample(
            definition.get("HyperParameterRanges") or config.get("ParameterRanges", {}), rng
        )
        hyperparameters = {**(definition.get("StaticHyperParameters") or {}), **tuned}
        if objective.get("MetricName"):
            hyperparameters["_tuning_objective_metric"] = objective["MetricName"]
        child_name = f"{name[:32]}-{index:03d}-{uuid.UUID(int=rng.getrandbits(128)).hex[:8]}"
        job = self.create_training_job(
            training_job_name=child_name,
            hyper_parameters=hyperparameters,
            algorithm_specification=copy.deepcopy(definition.get("AlgorithmSpecification", {})),
            role_arn=definition.get("RoleArn"),
            input_data_config=copy.deepcopy(definition.get("InputDataConfig", [])),
            output_data_config=copy.deepcopy(definition.get("OutputDataConfig", {})),
            resource_config=copy.deepcopy(definition.get("ResourceConfig", {})),
            vpc_config=definition.get("VpcConfig"),
            stopping_condition=definition.get("StoppingCondition"),
            tags=[],
            enable_network_isolation=definition.get("EnableNetworkIsolation", False),
            enable_inter_container_traffic_encryption=definition.get(
                "EnableInterContainerTrafficEncryption", False
            ),
            enable_managed_spot_training=definition.get("EnableManagedSpotTraining", False),
            checkpoint_config=definition.get("CheckpointConfig"),
            debug_hook_config=None,
            debug_rule_configurations=None,
            tensor_board_output_config=None,
            experiment_config=None,
        )
        job.tuning_job_arn = arn  # a real DescribeTrainingJob member (TuningJobArn)
        children.append(child_name)
        tuned_store[child_name] = tuned
    return arn


def _objective_value(job: FakeTrainingJob, metric_name: str) -> float | None:
    for metric in job.final_metric_data_list or []:
        if metric.get("MetricName") == metric_name:
            return float(metric["Value"])
    return None


def _child_summary(backend: SageMakerModelBackend, tuning: HyperParameterTuningJob, child: str):
    job = backend.training_jobs[child]
    objective = tuning.hyper_parameter_tuning_job_config.get("HyperParameterTuningJobObjective", {})
    value = _objective_value(job, objective.get("MetricName", ""))
    summary: dict[str, Any] = {
        "TrainingJobName": job.training_job_name,
        "TrainingJobArn": job.arn,
        "TuningJobName": tuning.hyper_parameter_tuning_job_name,
        "CreationTime": job.creation_time,
        "TrainingStartTime": job.training_start_time,
        "TrainingEndTime": job.training_end_time,
        "TrainingJobStatus": job.training_job_status,
        "TunedHyperParameters": backend.__dict__.get(_TUNED_ATTR, {}).get(child, {}),
    }
    if value is not None:
        summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
            "Type": objective.get("Type"),
            "MetricName": objective.get("MetricName"),
            "Value": value,
        }
        summary["ObjectiveStatus"] = "Succeeded"
    else:
        summary["ObjectiveStatus"] = "Failed" if job.training_job_status == "Failed" else "Pending"
    if getattr(job, "failure_reason", None):
        summary["FailureReason"] = job.failure_reason
    return summary


def _summaries(backend: SageMakerModelBackend, tuning: HyperParameterTuningJob) -> list[dict]:
    children = backend.__dict__.get(_CHILDREN_ATTR, {}).get(
        tuning.hyper_parameter_tuning_job_name, []
    )
    return [_child_summary(backend, tuning, c) for c in children if c in backend.training_jobs]


def _best(summaries: list[dict], objective_type: str | None) -> dict | None:
    scored = [
        s
        for s in summaries
        if s["TrainingJobStatus"] == "Completed"
        and "FinalHyperParameterTuningJobObjectiveMetric" in s
    ]
    if not scored:
        return None
    pick = max if objective_type == "Maximize" else min
    return pick(scored, key=lambda s: s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])


def _describe_tuning_job(self: HyperParameterTuningJob) -> dict[str, Any]:
    backend = sagemaker_backends[self.account_id][self.region_name]
    summaries = _summaries(backend, self)
    objective = self.hyper_parameter_tuning_job_config.get("HyperParameterTuningJobObjective", {})
    status_counts = {
        "Completed": 0,
        "InProgress": 0,
        "RetryableError": 0,
        "NonRetryableError": 0,
        "Stopped": 0,
    }
    objective_counts = {"Succeeded": 0, "Pending": 0, "Failed": 0}
    for summary in summaries:
        status = summary["TrainingJobStatus"]
        status_counts["NonRetryableError" if status == "Failed" else status] += 1
        objective_counts[summary["ObjectiveStatus"]] += 1
    description = {
        "HyperParameterTuningJobName": self.hyper_parameter_tuning_job_name,
        "HyperParameterTuningJobArn": self.arn,
        "HyperParameterTuningJobConfig": self.hyper_parameter_tuning_job_config,
        "TrainingJobDefinition": self.training_job_definition,
        "TrainingJobDefinitions": self.training_job_definitions,
        "HyperParameterTuningJobStatus": self.hyper_parameter_tuning_job_status,
        "CreationTime": self.creation_time,
        "HyperParameterTuningEndTime": self.hyper_parameter_tuning_end_time,
        "LastModifiedTime": self.last_modified_time,
        "TrainingJobStatusCounters": status_counts,
        "ObjectiveStatusCounters": objective_counts,
        "WarmStartConfig": self.warm_start_config,
        "Autotune": self.autotune,
    }
    best = _best(summaries, objective.get("Type"))
    if best is not None:
        description["BestTrainingJob"] = best
    return {k: v for k, v in description.items() if v is not None}


def list_training_jobs_for_hyper_parameter_tuning_job(self: SageMakerResponse) -> ActionResult:
    name = self._get_param("HyperParameterTuningJobName")
    backend = self.sagemaker_backend
    if name not in backend.hyper_parameter_tuning_jobs:
        raise ResourceNotFound(message=f"Could not find hyper parameter tuning job '{name}'.")
    summaries = _summaries(backend, backend.hyper_parameter_tuning_jobs[name])
    status = self._get_param("StatusEquals")
    if status:
        summaries = [s for s in summaries if s["TrainingJobStatus"] == status]
    sort_by = self._get_param("SortBy") or "Name"
    reverse = (self._get_param("SortOrder") or "Ascending") == "Descending"
    if sort_by == "FinalObjectiveMetricValue":
        scored = [s for s in summaries if "FinalHyperParameterTuningJobObjectiveMetric" in s]
        unscored = [s for s in summaries if s not in scored]
        scored.sort(
            key=lambda s: s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"], reverse=reverse
        )
        summaries = scored + unscored
    else:
        key = {
            "Name": "TrainingJobName",
            "CreationTime": "CreationTime",
            "Status": "TrainingJobStatus",
        }.get(sort_by, "TrainingJobName")
        summaries.sort(key=lambda s: s[key], reverse=reverse)
    max_results = self._get_param("MaxResults")
    if max_results:
        summaries = summaries[: int(max_results)]
    return ActionResult({"TrainingJobSummaries": summaries})


# -- result route ----------------------------------------------------------------------------
def _error(status: int, message: str) -> TYPE_RESPONSE:
    return status, {"Content-Type": "application/json"}, json.dumps({"error": message})


def report_training_job_result(request: Any, full_url: str, headers: Any) -> TYPE_RESPONSE:
    """The moto-api route through which the tooling reports a job's real outcome."""
    if request.method != "POST":
        return _error(405, "POST a JSON body")
    try:
        body = json.loads(request.data or b"{}")
        name = body["TrainingJobName"]
    except (ValueError, KeyError, TypeError):
        return _error(400, "body must be JSON with at least TrainingJobName")
    account = body.get("AccountId", DEFAULT_ACCOUNT_ID)
    backend = sagemaker_backends[account][body.get("Region", "us-east-1")]
    job = backend.training_jobs.get(name)
    if job is None:
        return _error(404, f"no training job named {name!r}")
    status = body.get("TrainingJobStatus", job.training_job_status)
    if status not in TERMINAL_STATUSES:
        return _error(400, f"TrainingJobStatus must be one of {', '.join(TERMINAL_STATUSES)}")
    metrics = body.get("FinalMetricDataList", [])
    if not isinstance(metrics, list) or not all(
        isinstance(m, dict)
        and isinstance(m.get("MetricName"), str)
        and isinstance(m.get("Value"), int | float)
        and math.isfinite(m["Value"])
        for m in metrics
    ):
        return _error(
            400, "FinalMetricDataList must be a list of {MetricName, Value (finite number)}"
        )
    artifact = job.model_artifacts["S3ModelArtifacts"]
    if status == "Completed" and not _artifact_exists(account, artifact):
        return _error(
            409, f"job {name} cannot be Completed: {artifact} does not exist; upload it first"
        )
    now = utcnow()
    job.training_job_status = job.secondary_status = status
    job.training_end_time = job.last_modified_time = now
    if status == "Failed":
        job.failure_reason = str(body.get("FailureReason", "reported as failed"))
    job.final_metric_data_list = [
        {"MetricName": m["MetricName"], "Value": float(m["Value"]), "Timestamp": now}
        for m in metrics
    ] or None
    return (
        200,
        {"Content-Type": "application/json"},
        json.dumps({"TrainingJobName": name, "TrainingJobStatus": status}),
    )


def apply() -> None:
    FakeTrainingJob.__init__ = _training_init
    SageMakerModelBackend.create_hyper_parameter_tuning_job = _create_tuning_job
    HyperParameterTuningJob.describe = _describe_tuning_job
    SageMakerResponse.list_training_jobs_for_hyper_parameter_tuning_job = (
        list_training_jobs_for_hyper_parameter_tuning_job
    )
    moto_api_urls.url_paths[RESULT_ROUTE] = report_training_job_result
