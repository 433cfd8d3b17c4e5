"""Run training/train.py on this machine with the SageMaker script-mode contract.

Mirrors what a SageMaker training job does: the `training` channel is downloaded from the bucket's
data prefix, hyperparameters become `--name value` arguments, the script sees `SM_*` variables,
`--instances N > 1` runs it under torchrun (N processes, real DDP over gloo), and the model dir is
packed into `model.tar.gz` and uploaded to `s3://<bucket>/training-jobs/<job>/output/`. The job
is then recorded in the emulator with CreateTrainingJob so describe/attach flows see it.

As on SageMaker, the job's own work (reading the channel, writing the model and output archives,
the script's environment) runs with the job's role, assumed through the emulator's STS as
sagemaker.amazonaws.com; the caller's credentials only create and describe the job.

Checkpoints, like a SageMaker job's `CheckpointConfig.S3Uri` (one prefix shared by the jobs of a
setup, restored into /opt/ml/checkpoints at start), live outside the job dir in
`<work dir>/checkpoints/<setup hash>`: a job killed mid-epoch and run again with the same
hyperparameters and instance count resumes at the next epoch (train.py keys each checkpoint by
its run's full fingerprint and ignores other runs'; no TRAINING_JOB_NAME is set here, so a
re-run after a kill is the same run). A finished job removes its checkpoints.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from dogops import config
from dogops.errors import UserError
from dogops.local_aws.service_credentials import assume_role_as, role_client, with_role

METRIC_LINE = re.compile(r"\b(\w+)=([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)")
REPORTED_METRICS = ("train_loss", "valid_loss", "valid_accuracy", "test_loss", "test_accuracy",
                    "best_valid_loss", "best_valid_accuracy")
LOCAL_INSTANCE_TYPE = "ml.m5.large"  # what the emulator records; the work runs on this machine


@dataclass
class LocalJobResult:
    job_name: str
    model_data_url: str
    metrics: dict[str, float] = field(default_factory=dict)


def hyperparameter_args(hyperparameters: Mapping[str, object]) -> list[str]:
    """SageMaker passes each hyperparameter as `--name value`; we do the same."""
    args: list[str] = []
    for name, value in hyperparameters.items():
        if value is None:
            continue
        args += [f"--{name}", str(value).lower() if isinstance(value, bool) else str(value)]
    return args


def train_command(hyperparameters: Mapping[str, object], instances: int,
                  checkpoint_dir: Path) -> list[str]:
    script = str(config.TRAINING_DIR / "train.py")
    args = [*hyperparameter_args(hyperparameters), "--checkpoint-dir", str(checkpoint_dir)]
    if instances > 1:
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                    "--nnodes=1", f"--nproc_per_node={instances}"]
        return [*launcher, script, *args]
    return [sys.executable, script, *args]


def checkpoint_dir_for(work_dir: Path, hyperparameters: Mapping[str, object],
                       instances: int) -> Path:
    """The checkpoint dir of this setup: the same for every re-run of the same training."""
    setup = json.dumps({"hyperparameters": {k: str(v) for k, v in hyperparameters.items()},
                        "instances": instances}, sort_keys=True)
    return work_dir / "checkpoints" / hashlib.sha256(setup.encode()).hexdigest()[:16]


def script_mode_env(job_dir: Path, channel_dir: Path, hyperparameters: Mapping[str, object],
                    instances: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "SM_CHANNEL_TRAINING": str(channel_dir),
        "SM_CHANNELS": json.dumps(["training"]),
        "SM_MODEL_DIR": str(job_dir / "model"),
        "SM_OUTPUT_DATA_DIR": str(job_dir / "output" / "data"),
        "SM_OUTPUT_DIR": str(job_dir / "output"),
        "SM_HOSTS": json.dumps(["algo-1"]),
        "SM_CURRENT_HOST": "algo-1",
        "SM_NUM_GPUS": "0",
        "SM_NUM_CPUS": str(os.cpu_count() or 1),
        "SM_HPS": json.dumps(dict(hyperparameters)),
        "PYTHONUNBUFFERED": "1",
    })
    # N processes share this machine's cores instead of each grabbing all of them.
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // max(1, instances))))
    return env


def download_channel(s3, bucket: str, prefix: str, dest: Path) -> int:
    """Copy s3://bucket/prefix into dest (as SageMaker's File input mode does)."""
    keys = [item["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for item in page.get("Contents", [])
            if item["Key"][len(prefix):] and not item["Key"].endswith("/")]
    if not keys:
        raise UserError(f"s3://{bucket}/{prefix} is empty: run `invoke data` first")

    def fetch(key: str) -> None:
        target = dest / key[len(prefix):]
        target.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(bucket, key, str(target))

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(fetch, keys))
    return len(keys)


def pack_model(model_dir: Path, archive: Path) -> Path:
    """model.tar.gz holding the contents of the model dir at its top level (SageMaker layout)."""
    if not (model_dir / "model.pth").is_file():
        raise UserError(f"training finished but wrote no model.pth into {model_dir}", 1)
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(model_dir.rglob("*")):
            if "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            tar.add(path, arcname=path.relative_to(model_dir).as_posix(), recursive=False)
    return archive


def run_script(command: list[str], env: Mapping[str, str], log_path: Path) -> dict[str, float]:
    """Run the training script, echoing its output, keeping a log and the last metric values."""
    metrics: dict[str, float] = {}
    with open(log_path, "w") as log:
        proc = subprocess.Popen(command, env=dict(env), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, bufsize=1,
                                cwd=config.REPO_ROOT)
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            log.write(line)
            if "loss=" in line or "accuracy=" in line:
                metrics.update({k: float(v) for k, v in METRIC_LINE.findall(line)})
        code = proc.wait()
    if code != 0:
        raise UserError(f"local training failed (exit {code}); full log: {log_path}", 1)
    return metrics


def record_job(sagemaker, job_name: str, role_arn: str, bucket: str, image_uri: str,
               hyperparameters: Mapping[str, object], instances: int) -> None:
    """CreateTrainingJob in the emulator so `describe`/`attach` see the job we just ran."""
    sagemaker.create_training_job(
        TrainingJobName=job_name,
        HyperParameters={k: str(v) for k, v in hyperparameters.items() if v is not None},
        AlgorithmSpecification={"TrainingImage": image_uri, "TrainingInputMode": "File"},
        RoleArn=role_arn,
        InputDataConfig=[{
            "ChannelName": "training",
            "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": f"s3://{bucket}/{config.DATA_PREFIX}",
                "S3DataDistributionType": "FullyReplicated"}},
        }],
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/{config.TRAINING_JOBS_PREFIX}"},
        ResourceConfig={"InstanceType": LOCAL_INSTANCE_TYPE, "InstanceCount": instances,
                        "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 24 * 3600},
    )


def report_result(endpoint_url: str, job_name: str, metrics: Mapping[str, float],
                  status: str = "Completed", reason: str = "") -> None:
    """Tell the emulator how the job really ended (final metrics feed the tuner's best job)."""
    import requests

    body = {"TrainingJobName": job_name, "TrainingJobStatus": status,
            "FinalMetricDataList": [{"MetricName": k, "Value": v} for k, v in metrics.items()
                                    if k in REPORTED_METRICS]}
    if reason:
        body["FailureReason"] = reason[:1000]
    reply = requests.post(f"{endpoint_url.rstrip('/')}/moto-api/dogops/sagemaker/"
                          "training-job-result", json=body, timeout=30)
    if reply.ok:
        return
    try:
        refusal = reply.json().get("error")
    except (ValueError, AttributeError):
        refusal = None
    if reply.status_code == 404 and refusal is None:  # e.g. LocalStack: no such route
        print("note: this emulator has no training-result route (not the dogops emulator); "
              "the job's metrics stay local")
        return
    raise UserError(f"the emulator refused the result of {job_name}: {refusal or reply.text}", 1)


def local_artifact(work_dir: Path, model_data_url: str) -> Path | None:
    """This machine's copy of a local job's model.tar.gz (kept in its job dir), or None."""
    key = model_data_url.removeprefix("s3://").partition("/")[2]
    parts = key.split("/")
    if len(parts) != 4 or parts[0] != config.TRAINING_JOBS_PREFIX or parts[2:] != [
            "output", "model.tar.gz"]:
        return None
    archive = work_dir / parts[1] / "model.tar.gz"
    return archive if archive.is_file() else None


def job_role_credentials(s3, role_arn: str, job_name: str) -> dict[str, str]:
    """The training role's credentials, assumed as SageMaker assumes them for a job."""
    from dogops.local_aws.emulator import operator_credentials

    endpoint, region = s3.meta.endpoint_url, s3.meta.region_name
    account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""
    job_arn = f"arn:aws:sagemaker:{region}:{account}:training-job/{job_name.lower()}"
    return assume_role_as("sagemaker.amazonaws.com", role_arn, f"SageMaker-{job_name}", endpoint,
                          operator_credentials(endpoint), region=region, source_arn=job_arn)


def run_local_job(s3, sagemaker, *, bucket: str, role_arn: str, job_name: str,
                  hyperparameters: Mapping[str, object], instances: int = 1,
                  image_uri: str, work_dir: Path, endpoint_url: str,
                  existing_job: bool = False) -> LocalJobResult:
    """Run one job for real; `existing_job`: the emulator already holds it (a tuning child)."""
    if instances < 1:
        raise UserError("--instances must be at least 1")
    job_dir = work_dir / job_name
    shutil.rmtree(job_dir, ignore_errors=True)
    channel_dir = job_dir / "input" / "data" / "training"
    for directory in (channel_dir, job_dir / "model", job_dir / "output" / "data"):
        directory.mkdir(parents=True, exist_ok=True)
    # As SageMaker does, the job's data and artifacts move with the job's role, not the caller's.
    if existing_job:
        role_arn = sagemaker.describe_training_job(TrainingJobName=job_name)["RoleArn"]
    role_credentials = job_role_credentials(s3, role_arn, job_name)
    job_s3 = role_client(s3, role_credentials)
    files = download_channel(job_s3, bucket, config.DATA_PREFIX, channel_dir)
    print(f"[{job_name}] {files} training files from s3://{bucket}/{config.DATA_PREFIX}, "
          f"{instances} process(es)")

    checkpoints = checkpoint_dir_for(work_dir, hyperparameters, instances)
    if any(checkpoints.glob("*")):
        print(f"[{job_name}] resuming from the checkpoint of an interrupted run ({checkpoints})")
    command = train_command(hyperparameters, instances, checkpoints)
    env = with_role(script_mode_env(job_dir, channel_dir, hyperparameters, instances),
                    role_credentials)
    try:
        metrics = run_script(command, env, job_dir / "training.log")
    except UserError as err:
        if existing_job:
            report_result(endpoint_url, job_name, {}, "Failed", err.message)
        raise

    shutil.rmtree(checkpoints, ignore_errors=True)  # finished: the next run starts afresh
    archive = pack_model(job_dir / "model", job_dir / "model.tar.gz")
    key = f"{config.TRAINING_JOBS_PREFIX}/{job_name}/output/model.tar.gz"
    if existing_job:
        uri = sagemaker.describe_training_job(TrainingJobName=job_name)["ModelArtifacts"][
            "S3ModelArtifacts"]
        bucket, _, key = uri.removeprefix("s3://").partition("/")
    job_s3.upload_file(str(archive), bucket, key)
    output_dir = job_dir / "output" / "data"
    if any(output_dir.iterdir()):
        output_archive = job_dir / "output.tar.gz"
        with tarfile.open(output_archive, "w:gz") as tar:
            for path in sorted(output_dir.iterdir()):
                tar.add(path, arcname=path.name)
        job_s3.upload_file(str(output_archive), bucket,
                           key.replace("model.tar.gz", "output.tar.gz"))
    if not existing_job:
        record_job(sagemaker, job_name, role_arn, bucket, image_uri, hyperparameters, instances)
    report_result(endpoint_url, job_name, metrics)
    return LocalJobResult(job_name, f"s3://{bucket}/{key}", metrics)
