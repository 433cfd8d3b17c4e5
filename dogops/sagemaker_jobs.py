"""SageMaker training on AWS with SDK v2: one `PyTorch` estimator, optionally tuned.

The estimator ships `training/` as `source_dir` and runs `train.py` in script mode. Multi-instance
jobs use the SDK's `torch_distributed` launcher (torchrun on every host, real DDP); `--spot` uses
managed spot training with checkpoints synced to `s3://<bucket>/checkpoints/<job or tuning job>/`:
a location per run, so a restarted spot job resumes its own checkpoint and a retrain never picks
up another run's (inside it, train.py keys each checkpoint by the run's full fingerprint, which
keeps tuning children apart). The tuner's objective is `best_valid_loss`, the validation loss of
the weights the job saves, read from the training script's metric lines.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from dogops import config
from dogops.errors import UserError

FRAMEWORK_VERSION = "2.8.0"  # newest PyTorch training container SDK v2 knows (py312)
PY_VERSION = "py312"
_NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
# Names and regexes match train.py's lines: "epoch=3 train_loss=... valid_loss=... valid_accuracy=..."
METRIC_DEFINITIONS = [
    {"Name": name, "Regex": rf"\b{name}={_NUMBER}"}
    for name in ("train_loss", "valid_loss", "valid_accuracy", "test_loss", "test_accuracy",
                 "best_valid_loss", "best_valid_accuracy")
]
# The saved model is the best epoch's, so the objective is the best epoch's loss (train.py prints
# "best_epoch=N best_valid_loss=... best_valid_accuracy=..." once training ends), not the last's.
OBJECTIVE_METRIC = "best_valid_loss"
OBJECTIVE_TYPE = "Minimize"
LEARNING_RATE_RANGE = (0.001, 0.1)
BATCH_SIZE_RANGE = (32, 512)
GPU_FAMILIES = re.compile(r"^ml\.(p\d|g\d)")


@dataclass(frozen=True)
class JobSettings:
    instance_type: str = "ml.g5.xlarge"
    instances: int = 1
    spot: bool = False
    max_run_s: int = 4 * 3600
    max_wait_s: int = 8 * 3600  # spot: total time including waiting for capacity
    volume_size_gb: int = 30

    def validate(self) -> None:
        if self.instances < 1:
            raise UserError("--instances must be at least 1")
        if not self.instance_type.startswith("ml."):
            raise UserError(f"--instance-type {self.instance_type!r} is not a SageMaker type "
                            "(e.g. ml.g5.xlarge, ml.m5.2xlarge)")
        if self.instances > 1 and not GPU_FAMILIES.match(self.instance_type):
            raise UserError("multi-instance training runs DDP with the SDK's torch_distributed "
                            "launcher, which SageMaker supports on GPU instances only: use an "
                            "ml.g* or ml.p* --instance-type")
        if self.spot and self.max_wait_s < self.max_run_s:
            raise UserError("spot training needs max wait >= max run")

    def as_fingerprint(self) -> dict[str, object]:
        return {"instance_type": self.instance_type, "instances": self.instances}


def make_session(bucket: str, boto_session=None):
    """An SDK session bound to our bucket (so the SDK never looks up or creates its default)."""
    import boto3
    import sagemaker

    boto_session = boto_session or boto3.Session()
    return sagemaker.Session(boto_session=boto_session, default_bucket=bucket)


def new_job_name(base: str = "dog-breeds", tuning: bool = False) -> str:
    """A unique job name chosen before the job starts, so its checkpoint location can carry it
    (tuning job names are limited to 32 characters)."""
    from sagemaker.utils import name_from_base

    return name_from_base(base, max_length=32, short=True) if tuning else name_from_base(base)


def checkpoint_uri(bucket: str, run_name: str) -> str:
    return f"s3://{bucket}/{config.CHECKPOINTS_PREFIX}/{run_name}"


def build_estimator(session, role_arn: str, bucket: str, hyperparameters: Mapping[str, object],
                    settings: JobSettings, run_name: str, base_job_name: str = "dog-breeds"):
    """`run_name`: the job (or tuning job) this estimator will run; spot checkpoints go under it."""
    from sagemaker.pytorch import PyTorch

    settings.validate()
    kwargs: dict[str, object] = {}
    if settings.instances > 1:
        kwargs["distribution"] = {"torch_distributed": {"enabled": True}}
    if settings.spot:
        kwargs.update(
            use_spot_instances=True,
            max_wait=settings.max_wait_s,
            checkpoint_s3_uri=checkpoint_uri(bucket, run_name),
            checkpoint_local_path="/opt/ml/checkpoints",
        )
    return PyTorch(
        entry_point="train.py",
        source_dir=str(config.TRAINING_DIR),
        role=role_arn,
        framework_version=FRAMEWORK_VERSION,
        py_version=PY_VERSION,
        instance_type=settings.instance_type,
        instance_count=settings.instances,
        volume_size=settings.volume_size_gb,
        max_run=settings.max_run_s,
        hyperparameters={k: v for k, v in hyperparameters.items() if v is not None},
        metric_definitions=METRIC_DEFINITIONS,
        output_path=f"s3://{bucket}/{config.TRAINING_JOBS_PREFIX}",
        code_location=f"s3://{bucket}/{config.TRAINING_JOBS_PREFIX}",
        base_job_name=base_job_name,
        sagemaker_session=session,
        disable_profiler=True,
        **kwargs,
    )


def training_inputs(bucket: str) -> dict[str, str]:
    """One `training` channel holding train/ valid/ test/ (SM_CHANNEL_TRAINING)."""
    return {"training": f"s3://{bucket}/{config.DATA_PREFIX}"}


def model_artifact(sagemaker_client, job_name: str) -> str:
    """The job's model.tar.gz URI; a clear error when the job did not complete."""
    job = sagemaker_client.describe_training_job(TrainingJobName=job_name)
    status = job.get("TrainingJobStatus")
    if status != "Completed":
        reason = job.get("FailureReason", "no reason given")
        raise UserError(f"training job {job_name} ended {status}: {reason}", exit_code=1)
    return job["ModelArtifacts"]["S3ModelArtifacts"]


def fit(estimator, bucket: str, job_name: str, wait: bool = True,
        logs: str | bool = "All") -> tuple[str, str]:
    """Run one job named `job_name`; returns (job name, model artifact URI)."""
    from sagemaker.exceptions import UnexpectedStatusException

    try:
        estimator.fit(training_inputs(bucket), job_name=job_name, wait=wait, logs=logs)
    except UnexpectedStatusException as err:  # the job Failed/Stopped: say why, no traceback
        raise UserError(f"SageMaker training job failed: {err}", 1) from None
    job_name = estimator.latest_training_job.name
    return job_name, model_artifact(estimator.sagemaker_session.sagemaker_client, job_name)


def build_tuner(estimator, max_jobs: int, max_parallel_jobs: int):
    from sagemaker.tuner import ContinuousParameter, HyperparameterTuner, IntegerParameter

    if max_jobs < 1 or max_parallel_jobs < 1:
        raise UserError("--max-jobs and --max-parallel-jobs must be at least 1")
    if max_parallel_jobs > max_jobs:
        raise UserError("--max-parallel-jobs cannot exceed --max-jobs")
    ranges = {
        "learning-rate": ContinuousParameter(*LEARNING_RATE_RANGE, scaling_type="Logarithmic"),
        "batch-size": IntegerParameter(*BATCH_SIZE_RANGE, scaling_type="Logarithmic"),
    }
    return HyperparameterTuner(
        estimator,
        objective_metric_name=OBJECTIVE_METRIC,
        objective_type=OBJECTIVE_TYPE,
        hyperparameter_ranges=ranges,
        metric_definitions=METRIC_DEFINITIONS,
        max_jobs=max_jobs,
        max_parallel_jobs=max_parallel_jobs,
        base_tuning_job_name="dog-breeds-hpo",
    )


def best_job(sagemaker_client, tuning_job: str) -> tuple[str, str]:
    """(best training job, its artifact URI) of a finished tuning job."""
    description = sagemaker_client.describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=tuning_job)
    best = description.get("BestTrainingJob", {}).get("TrainingJobName")
    if not best:
        status = description.get("HyperParameterTuningJobStatus")
        raise UserError(f"tuning job {tuning_job} ({status}) has no best training job", 1)
    return best, model_artifact(sagemaker_client, best)


def tune(tuner, bucket: str, job_name: str) -> tuple[str, str, str]:
    """Run the tuning job and wait; returns (tuning job, best training job, its artifact URI)."""
    tuner.fit(training_inputs(bucket), job_name=job_name, wait=False)
    tuning_job = tuner.latest_tuning_job.name
    print(f"waiting for tuning job {tuning_job} ...")
    from sagemaker.exceptions import UnexpectedStatusException

    try:
        tuner.wait()
    except UnexpectedStatusException as err:
        raise UserError(f"SageMaker tuning job failed: {err}", 1) from None
    best, url = best_job(tuner.sagemaker_session.sagemaker_client, tuning_job)
    return tuning_job, best, url
