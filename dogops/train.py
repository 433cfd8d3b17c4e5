"""`invoke train`: train on the target, then record the artifact for `deploy`.

Local: the training script runs on this machine against the emulated bucket (see
`local_training`). AWS: a SageMaker job (or tuning job) through SDK v2 (see `sagemaker_jobs`).
Same data + code + hyperparameters as the recorded model -> the artifact is reused.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dogops import config, dataset, state
from dogops.backend import Backend, for_target
from dogops.errors import UserError

# Local defaults are sized for a 2-core laptop and the digits sample; AWS defaults for dogImages.
# (digits are 8x8 at source, so 16 px loses nothing; no ONNX export to save start-up time)
LOCAL_HYPERPARAMETERS = {"arch": "resnet18", "epochs": 3, "batch-size": 64,
                         "learning-rate": 0.002, "image-size": 16, "pretrained": "none",
                         "freeze": "none", "augment": "none", "num-workers": 0,
                         "export-onnx": False}
AWS_HYPERPARAMETERS = {"arch": "resnet50", "epochs": 10, "batch-size": 64,
                       "learning-rate": 0.003, "image-size": 224, "pretrained": "imagenet"}
LOCAL_TRAINING_IMAGE = "763104351884.dkr.ecr.{region}.amazonaws.com/pytorch-training:2.8.0-cpu-py312"


@dataclass
class TrainRequest:
    target: str = config.DEFAULT_TARGET
    hyperparameters: Mapping[str, object] = field(default_factory=dict)
    instances: int = 1
    instance_type: str = "ml.g5.xlarge"
    spot: bool = False
    tune: bool = False
    max_jobs: int = 4
    max_parallel_jobs: int = 2
    force: bool = False
    sample_data: Path | None = None  # local: ImageFolder dir to use when the bucket has no data

    def resolved_hyperparameters(self) -> dict[str, object]:
        defaults = LOCAL_HYPERPARAMETERS if self.target == "local" else AWS_HYPERPARAMETERS
        merged = dict(defaults)
        merged.update({k: v for k, v in self.hyperparameters.items() if v is not None})
        return merged

    def fingerprint_settings(self) -> dict[str, object]:
        settings: dict[str, object] = {"hyperparameters": self.resolved_hyperparameters(),
                                       "instances": self.instances}
        if self.target == "aws":
            settings["instance_type"] = self.instance_type
        if self.tune:
            settings["tune"] = {"max_jobs": self.max_jobs}
        return settings


def ensure_local_data(backend: Backend, bucket: str, source: Path | None) -> dict[str, str]:
    """Local target: sync `source` when given (unchanged files are skipped); with no source and
    an empty data prefix, upload the digits sample dataset."""
    s3 = backend.client("s3")
    listing = dataset.remote_listing(s3, bucket)
    if listing and source is None:
        return listing
    if source is None:
        from dogops.sample_data import make_digits_imagefolder

        source = config.paths("local").state_dir / "sample-digits"
        if not dataset.is_imagefolder_root(source):
            print(f"making the sample dataset (scikit-learn digits) in {source}")
            make_digits_imagefolder(source)
    root = dataset.find_imagefolder_root(Path(source))
    print(f"uploading {root} to s3://{bucket}/{config.DATA_PREFIX}")
    dataset.sync(s3, root, bucket)
    return dataset.remote_listing(s3, bucket)


def artifact_exists(s3, url: str) -> bool:
    from botocore.exceptions import ClientError

    if not url or not url.startswith("s3://"):
        return False
    bucket, _, key = url[len("s3://"):].partition("/")
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError:
        return False


def train(request: TrainRequest, backend: Backend | None = None) -> str:
    """Train (or reuse) and record the model; returns its model_data_url."""
    config.check_target(request.target)
    if request.instances < 1:
        raise UserError("--instances must be at least 1")
    backend = backend or for_target(request.target)
    if not backend.is_local:  # quota before the stack or any job: a new account often has 0
        from dogops.preflight import before_training

        before_training(backend, request.instance_type, request.instances,
                        request.max_parallel_jobs if request.tune else 1, request.spot)
    outputs = backend.ensure_stack()
    bucket = str(outputs["bucket_name"])
    s3 = backend.client("s3")
    if backend.is_local:
        listing = ensure_local_data(backend, bucket, request.sample_data)
    else:
        listing = dataset.remote_listing(s3, bucket)
        if not listing:
            raise UserError(f"s3://{bucket}/{config.DATA_PREFIX} is empty: run "
                            "`invoke data --target aws` first")
    hyperparameters = request.resolved_hyperparameters()
    inputs = {"data": state.data_digest(listing.items()), "code": state.code_digest(),
              "settings": state.fingerprint("", "", request.fingerprint_settings())}
    fingerprint = state.fingerprint(inputs["data"], inputs["code"],
                                    request.fingerprint_settings())
    recorded = state.load(request.target)
    if (not request.force and recorded.get("fingerprint") == fingerprint
            and artifact_exists(s3, recorded.get("model_data_url", ""))):
        url = recorded["model_data_url"]
        print(f"model up to date (same data, code and hyperparameters): {url}\n"
              "use --force to train again")
        if state.read_tfvars(request.target).get("model_data_url") != url:
            details = {k: v for k, v in recorded.items() if k != "model_data_url"}
            state.record_model(request.target, url, **details)
        return url
    changed = [name for name, digest in inputs.items()
               if recorded.get("inputs", {}).get(name) not in (None, digest)]
    if changed and not request.force:
        print(f"training again: {', '.join(changed)} changed since the recorded model")

    from dogops.serving_wheels import stage

    stage()  # every model archive carries the wheels its isolated endpoint installs from
    started = time.monotonic()
    metrics: dict[str, float] = {}
    if backend.is_local and request.tune:
        job_name, url, details = tune_locally(request, backend, outputs, hyperparameters)
    elif backend.is_local:
        job_name = f"dog-breeds-local-{time.strftime('%Y%m%d-%H%M%S')}"
        result = run_job_here(backend, outputs, job_name, hyperparameters, request.instances)
        url, metrics, details = result.model_data_url, result.metrics, {}
    else:
        job_name, url, details = train_on_sagemaker(request, backend, outputs, hyperparameters)
    # The job's own record wins: a tuning winner's real hyperparameters and metrics.
    record = {"hyperparameters": hyperparameters, "metrics": metrics, **details}
    state.record_model(request.target, url, fingerprint=fingerprint, inputs=inputs,
                       job_name=job_name, instances=request.instances,
                       trained_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **record)
    from dogops.registry import register_trained

    register_trained(backend, request.target)  # a model version (SageMaker Model Registry)
    print(f"trained in {time.monotonic() - started:.0f} s: {url}")
    print(f"recorded for deploy in {config.paths(request.target).tfvars_file}")
    return url


def run_job_here(backend: Backend, outputs: Mapping[str, object], job_name: str,
                 hyperparameters: Mapping[str, object], instances: int,
                 existing_job: bool = False):
    from dogops.local_aws.training_job import run_local_job

    return run_local_job(
        backend.client("s3"), backend.client("sagemaker"), bucket=str(outputs["bucket_name"]),
        role_arn=str(outputs.get("training_role_arn", "")), job_name=job_name,
        hyperparameters=hyperparameters, instances=instances,
        image_uri=LOCAL_TRAINING_IMAGE.format(region=backend.region),
        work_dir=config.paths(backend.target).work_dir, endpoint_url=backend.endpoint_url or "",
        existing_job=existing_job)


def sdk_hyperparameters(raw: Mapping[str, str]) -> dict[str, object]:
    """A job's HyperParameters as train.py arguments: SDK bookkeeping dropped, JSON decoded."""
    decoded: dict[str, object] = {}
    for name, value in raw.items():
        if name.startswith(("sagemaker_", "_tuning")):
            continue
        try:
            decoded[name] = json.loads(value)
        except (TypeError, json.JSONDecodeError):
            decoded[name] = value
    return decoded


def job_record(sagemaker_client, job_name: str) -> dict[str, object]:
    """What a finished job really ran with and scored (its hyperparameters as train.py got them,
    its final metrics as the tuner saw them), for the state file."""
    job = sagemaker_client.describe_training_job(TrainingJobName=job_name)
    return {"hyperparameters": sdk_hyperparameters(job.get("HyperParameters", {})),
            "metrics": {m["MetricName"]: m["Value"] for m in job.get("FinalMetricDataList", [])}}


def tune_locally(request: TrainRequest, backend: Backend, outputs: Mapping[str, object],
                 hyperparameters: Mapping[str, object]) -> tuple[str, str, dict]:
    """The SDK's HyperparameterTuner against the emulator; each child job trains here for real.

    The emulator samples the children's hyperparameters and picks the best job from the
    metrics each real run reports.
    """
    from dogops import sagemaker_jobs

    bucket = str(outputs["bucket_name"])
    role = str(outputs.get("training_role_arn", ""))
    static = {k: v for k, v in hyperparameters.items() if k not in ("learning-rate", "batch-size")}
    with backend.sdk_environment():
        session = sagemaker_jobs.make_session(bucket, backend.session())
        tuning_job = sagemaker_jobs.new_job_name("dog-breeds-hpo", tuning=True)
        estimator = sagemaker_jobs.build_estimator(
            session, role, bucket, static, sagemaker_jobs.JobSettings(instance_type="ml.m5.large"),
            run_name=tuning_job)
        tuner = sagemaker_jobs.build_tuner(estimator, request.max_jobs, request.max_parallel_jobs)
        tuner.fit(sagemaker_jobs.training_inputs(bucket), job_name=tuning_job, wait=False)
        client = session.sagemaker_client
        children = client.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=tuning_job)["TrainingJobSummaries"]
        for index, child in enumerate(children, 1):
            name = child["TrainingJobName"]
            raw = client.describe_training_job(TrainingJobName=name)["HyperParameters"]
            child_hps = sdk_hyperparameters(raw)
            print(f"[{tuning_job}] job {index}/{len(children)}: {name} "
                  f"learning-rate={child_hps.get('learning-rate')} "
                  f"batch-size={child_hps.get('batch-size')}")
            run_job_here(backend, outputs, name, child_hps, request.instances, existing_job=True)
        best, url = sagemaker_jobs.best_job(client, tuning_job)
        winner = job_record(client, best)
    print(f"tuning job {tuning_job}: best training job {best} {winner['hyperparameters']}")
    return best, url, {"tuning_job": tuning_job, **winner}


def train_on_sagemaker(request: TrainRequest, backend: Backend, outputs: Mapping[str, object],
                       hyperparameters: Mapping[str, object]) -> tuple[str, str, dict]:
    from dogops import sagemaker_jobs

    settings = sagemaker_jobs.JobSettings(instance_type=request.instance_type,
                                          instances=request.instances, spot=request.spot)
    role = outputs.get("training_role_arn")
    if not role:
        raise UserError("the stack has no training_role_arn output: run `invoke plan`")
    bucket = str(outputs["bucket_name"])
    with backend.sdk_environment():
        session = sagemaker_jobs.make_session(bucket, backend.session())
        if request.tune:
            tuned = {k: v for k, v in hyperparameters.items()
                     if k not in ("learning-rate", "batch-size")}
            run_name = sagemaker_jobs.new_job_name("dog-breeds-hpo", tuning=True)
            estimator = sagemaker_jobs.build_estimator(session, str(role), bucket, tuned, settings,
                                                       run_name)
            tuner = sagemaker_jobs.build_tuner(estimator, request.max_jobs,
                                               request.max_parallel_jobs)
            tuning_job, best, url = sagemaker_jobs.tune(tuner, bucket, run_name)
            winner = job_record(session.sagemaker_client, best)
            print(f"tuning job {tuning_job}: best training job {best} {winner['hyperparameters']}")
            return best, url, {"tuning_job": tuning_job, **winner}
        run_name = sagemaker_jobs.new_job_name("dog-breeds")
        estimator = sagemaker_jobs.build_estimator(session, str(role), bucket, hyperparameters,
                                                   settings, run_name)
        job_name, url = sagemaker_jobs.fit(estimator, bucket, run_name)
        return job_name, url, job_record(session.sagemaker_client, job_name)
