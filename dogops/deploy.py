"""`invoke deploy`, `plan`, `destroy`: Terraform with the recorded model, plus the local host.

Deploy applies the root configuration with the model URI that `train` recorded. On the local
target it then serves that model with a local endpoint host (the SageMaker container contract)
and registers it, so the emulator's InvokeEndpoint reaches real predictions.
"""

from __future__ import annotations

from dogops import config, state
from dogops.backend import Backend
from dogops.errors import UserError

USER_OUTPUTS = ("bucket_name", "endpoint_name", "function_name", "function_alias_arn",
                "function_url", "sagemaker_execution_role_arn", "training_host_instance_id")


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

    outputs = release(backend, model=model, force=force)
    print_outputs(outputs)
    return outputs


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


def plan(backend: Backend) -> bool:
    """Show the plan with the recorded model; True when something would change."""
    model = state.read_tfvars(backend.target).get("model_data_url")
    with backend.terraform() as tf:
        return tf.plan({**backend.base_variables(), "model_data_url": model})


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
    if backend.is_local:
        from dogops.backend import emulator_port
        from dogops.local_aws import emulator

        stop_local_hosts()
        emulator.stop(emulator_port(), config.paths("local").state_dir)
        paths = config.paths("local")
        if paths.terraform_state:
            paths.terraform_state.unlink(missing_ok=True)
    print(f"[{backend.target}] destroyed: nothing left in the Terraform state")
    return left
