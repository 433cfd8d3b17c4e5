"""`invoke deploy`, `plan`, `destroy`: Terraform with the recorded model, plus the local host.

Deploy applies the root configuration with the model URI that `train` recorded. On the local
target it then serves that model with a local endpoint host (the SageMaker container contract)
and registers it, so the emulator's InvokeEndpoint reaches real predictions.
"""

from __future__ import annotations

import json
from pathlib import Path

from dogops import config, state
from dogops.backend import Backend
from dogops.errors import UserError

USER_OUTPUTS = ("bucket_name", "endpoint_name", "function_name", "function_alias_arn",
                "function_url", "training_role_arn", "serving_role_arn",
                "training_host_instance_id")


def recorded_model(target: str) -> str:
    url = state.read_tfvars(target).get("model_data_url") or state.load(target).get(
        "model_data_url")
    if not url:
        raise UserError(f"no trained model recorded for --target {target}: run `invoke train "
                        f"--target {target}` first")
    return str(url)


def deploy(backend: Backend, model: int | None = None, force: bool = False) -> dict[str, object]:
    """Apply the chosen model version and verify it (see dogops.release)."""
    from dogops.release import deploy as release

    if backend.is_local and model is None:
        from dogops.train import artifact_exists

        recorded = state.read_tfvars(backend.target).get("model_data_url")
        if recorded and not artifact_exists(backend.client("s3"), recorded):
            restore_local_artifact(backend, recorded)
    outputs = release(backend, model=model, force=force)
    print_outputs(outputs)
    return outputs


def restore_local_artifact(backend: Backend, model_data_url: str) -> None:
    """The emulator lost its memory (restarted): rebuild the stack's bucket and upload the
    trained model again from this machine's copy, or say how to get one."""
    from dogops.local_aws.training_job import local_artifact

    archive = local_artifact(config.paths(backend.target).work_dir, model_data_url)
    if archive is None:
        raise UserError(f"{model_data_url} is not in the emulator (was it restarted?): run "
                        "`invoke train` again (it retrains when the artifact is gone)")
    print(f"[{backend.target}] the emulator lost {model_data_url} (restarted?): rebuilding the "
          f"stack and uploading the local copy {archive}")
    backend.ensure_stack()
    bucket, _, key = model_data_url.removeprefix("s3://").partition("/")
    backend.client("s3").upload_file(str(archive), bucket, key)


def serve_locally(backend: Backend, endpoint_name: str, model_data_url: str,
                  model_name: str | None = None) -> None:
    """Run (or keep) the local endpoint host for this model and route the endpoint to it.

    The host gets the SageMaker model's container environment (e.g. MODEL_VERSION), as the
    serving container does."""
    from dogops.local_aws import endpoint_host as local_endpoint

    env = backend.client_environment()
    if model_name:
        container = backend.client("sagemaker").describe_model(ModelName=model_name)
        env.update((container.get("PrimaryContainer") or {}).get("Environment") or {})
    info = local_endpoint.start_host(endpoint_name, model_data_url,
                                     state_dir=config.paths("local").state_dir, env=env)
    print(f"local endpoint host for {endpoint_name}: {info.url} (pid {info.pid})")


def stop_local_hosts() -> list[str]:
    """Stop every local endpoint host of the local state dir."""
    from dogops.local_aws import endpoint_host as local_endpoint

    state_dir = config.paths("local").state_dir
    return [name for name in local_endpoint.hosted_endpoints(state_dir)
            if local_endpoint.stop_host(name, state_dir)]


def print_outputs(outputs: dict[str, object]) -> None:
    for name in USER_OUTPUTS:
        if outputs.get(name) not in (None, ""):
            print(f"{name:<30} {outputs[name]}")


REVIEW_FILE = config.REPO_ROOT / "build" / "plan-review.md"


def plan(backend: Backend, json_out: Path | None = None, review_file: Path | None = None) -> bool:
    """Show the plan with the recorded model and write its Markdown review (changes, policy
    diffs, hourly costs); True when something would change. `json_out` also writes
    `terraform show -json` of the plan (for the PR comment)."""
    from dogops.plan_review import TrainingRun, render_plan_review, summary
    from dogops.reviewed_apply import prices_for

    model = state.read_tfvars(backend.target).get("model_data_url")
    plan_file = config.paths(backend.target).state_dir / "plan.tfplan"
    try:
        with backend.terraform() as tf:
            if not model:  # nothing recorded here: plan against what is live (model_variables)
                model = backend.model_variables(tf).get("model_data_url")
            changed = tf.plan({**backend.base_variables(), "model_data_url": model},
                              out=plan_file)
            plan_json = tf.show_json(plan_file)
    finally:
        plan_file.unlink(missing_ok=True)
    if json_out is not None:
        json_out = Path(json_out).resolve()
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(plan_json, indent=1))
    prices = prices_for(backend)
    review_file = review_file or REVIEW_FILE
    review_file.parent.mkdir(parents=True, exist_ok=True)
    title = f"Terraform plan review: --target {backend.target}, {backend.region}"
    review_file.write_text(render_plan_review(plan_json, prices, TrainingRun(jobs=4,
                                                                             parallel_jobs=2),
                                              title=title))
    print(summary(plan_json, prices))
    print(f"review written to {review_file}")
    return changed


def empty_bucket(backend: Backend, bucket: str) -> int:
    """Delete every object version so Terraform can delete the (versioned) bucket."""
    from botocore.exceptions import ClientError

    s3 = backend.client("s3")
    deleted = 0
    try:
        pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket)
        for page in pages:
            items = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                     for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
            for start in range(0, len(items), 1000):
                s3.delete_objects(Bucket=bucket,
                                  Delete={"Objects": items[start:start + 1000], "Quiet": True})
            deleted += len(items)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") != "NoSuchBucket":
            raise
    return deleted


def other_local_envs(backend: Backend) -> list[str]:
    """Other environments with a recorded model or resources on the emulator (destroying one
    environment must not stop the emulator under the others)."""
    from dogops import remote_state

    found = set()
    envs_dir = config.paths("local").state_dir / "envs"
    names = sorted(p.name for p in envs_dir.glob("*") if config.ENV_NAME_PATTERN.match(p.name))
    for name in [config.DEFAULT_ENV, *names]:
        paths = config.paths("local", name)
        if paths.state_file.is_file() or remote_state.has_resources(paths.terraform_state):
            found.add(name)
    backend_file = remote_state.backend_file("local", backend.terraform_dir)
    if backend_file.is_file():  # the S3 backend rehearsal: states live in the emulator
        bucket = str(remote_state.read_settings(backend_file)["bucket"])
        found.update(remote_state.envs_with_resources(backend.client("s3"), bucket))
    return sorted(found - {backend.env})


def destroy(backend: Backend) -> list[str]:
    """Destroy the stack (bucket emptied first); returns what is left in the state (nothing)."""
    model = state.read_tfvars(backend.target).get("model_data_url")
    with backend.terraform() as tf:
        outputs = tf.output()
        if outputs.get("bucket_name"):
            removed = empty_bucket(backend, str(outputs["bucket_name"]))
            print(f"emptied s3://{outputs['bucket_name']} ({removed} object versions)")
        tf.destroy({**backend.base_variables(), "model_data_url": model})
        left = tf.state_resources()
    if left:
        raise UserError("terraform destroy left resources in the state: " + ", ".join(left), 1)
    state.forget(backend.target)
    others = other_local_envs(backend) if backend.is_local else []
    if others:  # stop only this environment's endpoint host; the others need the emulator
        from dogops.local_aws import endpoint_host as local_endpoint

        local_endpoint.stop_host(str(outputs.get("endpoint_name")), config.paths("local").state_dir)
        config.paths("local", backend.env).terraform_state.unlink(missing_ok=True)
        print(f"the emulator keeps running: environments {', '.join(others)} still live on it")
    elif backend.is_local:
        from dogops.backend import emulator_port
        from dogops.local_aws import emulator

        stop_local_hosts()
        emulator.stop(emulator_port(), config.paths("local").state_dir)
        paths = config.paths("local")
        if paths.terraform_state:
            paths.terraform_state.unlink(missing_ok=True)
    print(f"[{backend.target}] destroyed: nothing left in the Terraform state")
    return left
