"""`invoke ec2-train`: turn the EC2 training host on, wait for its artifact, turn it off.

The host's user data (terraform/modules/training_host/user_data.sh.tftpl) fetches
`code/training.tar.gz` and `data/` from the bucket, runs training/train.py and uploads
`models/ec2/<run id>/model.tar.gz`. The emulator launches no machines, so on the local target the
user data Terraform rendered is read back from the emulated instance and run here (POWER_OFF=0).
"""

from __future__ import annotations

import base64
import io
import os
import re
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from dogops import config, state
from dogops.backend import Backend
from dogops.errors import UserError
from dogops.local_aws.training_job import hyperparameter_args
from dogops.train import LOCAL_HYPERPARAMETERS, artifact_exists, ensure_local_data

LOCAL_TRAIN_ARGS = " ".join(hyperparameter_args(LOCAL_HYPERPARAMETERS))
POLL_S = 10


def training_code_archive(root: Path = config.TRAINING_DIR) -> bytes:
    """training/ as a tar.gz with `training/` at its root (what the user data unpacks)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root)
            if "__pycache__" in relative.parts or path.suffix == ".pyc" or not path.is_file():
                continue
            tar.add(path, arcname=(Path("training") / relative).as_posix(), recursive=False)
    return buffer.getvalue()


def rendered_user_data(backend: Backend, instance_id: str) -> str:
    attribute = backend.client("ec2").describe_instance_attribute(
        InstanceId=instance_id, Attribute="userData")
    encoded = attribute.get("UserData", {}).get("Value")
    if not encoded:
        raise UserError(f"instance {instance_id} has no user data", 1)
    return base64.b64decode(encoded).decode()


def instance_role_credentials(backend: Backend, instance_id: str) -> dict[str, str]:
    """The instance profile role's credentials, as EC2's instance metadata serves them (the
    emulator's STS, the role's trust policy evaluated for ec2.amazonaws.com)."""
    from dogops.local_aws.service_credentials import assume_role_as

    reservations = backend.client("ec2").describe_instances(InstanceIds=[instance_id])[
        "Reservations"]
    profile = next((i.get("IamInstanceProfile") for r in reservations for i in r["Instances"]),
                   None)
    if not profile:
        raise UserError(f"instance {instance_id} has no instance profile: its user data would "
                        "run without credentials", 1)
    name = profile["Arn"].rsplit("/", 1)[-1]
    roles = backend.client("iam").get_instance_profile(InstanceProfileName=name)[
        "InstanceProfile"]["Roles"]
    if not roles:
        raise UserError(f"instance profile {name} holds no role", 1)
    return assume_role_as("ec2.amazonaws.com", roles[0]["Arn"], instance_id,
                          backend.endpoint_url or "", backend.emulator_credentials(),
                          region=backend.region)


def run_user_data_here(backend: Backend, script: str, work_dir: Path,
                       role_credentials: dict[str, str]) -> None:
    """Run the host's rendered user data on this machine against the emulator, no power-off,
    with the instance profile role's credentials only."""
    from dogops.local_aws.service_credentials import with_role

    work_dir.mkdir(parents=True, exist_ok=True)
    # The template bakes in the host's scratch dir; here it goes under .dogops/local/.
    script = re.sub(r"^WORK_DIR='[^']*'$", f"WORK_DIR='{work_dir}'", script, count=1,
                    flags=re.MULTILINE)
    script_path = work_dir / "user_data.sh"
    script_path.write_text(script)
    env = with_role({**backend.client_environment(), "POWER_OFF": "0", "PYTHON": sys.executable,
                     "PATH": os.environ.get("PATH", "")}, role_credentials)
    code = subprocess.run(["bash", str(script_path)], env=env, check=False).returncode
    if code != 0:
        raise UserError(f"the training host's user data failed (exit {code}); log: "
                        f"{work_dir / 'training.log'}", 1)


def host_gone(backend: Backend, instance_id: str | None) -> bool:
    """True once the host has shut down (its user data powers off when done)."""
    if backend.is_local or not instance_id:
        return False
    reservations = backend.client("ec2").describe_instances(
        InstanceIds=[instance_id])["Reservations"]
    states = [i["State"]["Name"] for r in reservations for i in r["Instances"]]
    return bool(states) and all(s in ("shutting-down", "terminated", "stopped") for s in states)


def wait_for_artifact(backend: Backend, bucket: str, key: str, timeout_s: int,
                      instance_id: str | None = None) -> str:
    s3 = backend.client("s3")
    url = f"s3://{bucket}/{key}"
    log_key = key.replace("model.tar.gz", "training.log")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if artifact_exists(s3, url):
            return url
        if artifact_exists(s3, f"s3://{bucket}/{log_key}"):  # the host finished without a model
            raise UserError(f"the training host finished without a model; see "
                            f"s3://{bucket}/{log_key}", 1)
        if host_gone(backend, instance_id) and not artifact_exists(s3, url):
            raise UserError(f"the training host {instance_id} shut down without uploading "
                            f"{url}; see its console output in the EC2 console", 1)
        print(f"waiting for {url} ...")
        time.sleep(POLL_S)
    raise UserError(f"no artifact at {url} after {timeout_s} s", 1)


def ec2_train(backend: Backend, timeout_s: int = 7200, train_args: str | None = None) -> str:
    """`train_args`: extra train.py arguments for the host (local default: the tiny settings,
    with later flags winning)."""
    outputs = backend.ensure_stack()
    bucket = str(outputs["bucket_name"])
    s3 = backend.client("s3")
    if backend.is_local:
        ensure_local_data(backend, bucket, None)
    elif not s3.list_objects_v2(Bucket=bucket, Prefix=config.DATA_PREFIX, MaxKeys=1).get(
            "KeyCount"):
        raise UserError(f"s3://{bucket}/{config.DATA_PREFIX} is empty: run `invoke data "
                        "--target aws` first")
    from dogops.serving_wheels import stage

    stage()  # the host's archives must carry the serving wheels too
    s3.put_object(Bucket=bucket, Key=config.TRAINING_CODE_KEY, Body=training_code_archive())
    run_id = f"ec2-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
    key = f"{config.EC2_MODELS_PREFIX}{run_id}/model.tar.gz"
    host_vars = {"enable_training_host": True, "training_host_run_id": run_id}
    if backend.is_local or train_args:
        base = LOCAL_TRAIN_ARGS if backend.is_local else ""
        host_vars["training_host_train_args"] = " ".join(filter(None, [base, train_args]))
    print(f"[{backend.target}] turning the training host on (run {run_id})")
    try:
        outputs = backend.apply(host_vars)
        instance_id = outputs.get("training_host_instance_id")
        if not instance_id:
            raise UserError("the stack reported no training_host_instance_id", 1)
        if backend.is_local:
            script = rendered_user_data(backend, str(instance_id))
            run_user_data_here(backend, script, config.paths("local").work_dir / run_id,
                               instance_role_credentials(backend, str(instance_id)))
        url = wait_for_artifact(backend, bucket, key, timeout_s, str(instance_id))
    finally:
        print(f"[{backend.target}] turning the training host off")
        backend.apply({"enable_training_host": False})
    state.record_model(backend.target, url, job_name=run_id, source="ec2")
    print(f"EC2 artifact recorded for deploy: {url}")
    return url
