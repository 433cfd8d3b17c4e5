"""Environments side by side, and `invoke promote --from dev --to prod`.

An environment (`--env NAME` or DOGOPS_ENV) has its own Terraform state key, variable file
(terraform/envs/<env>.tfvars.json, optional) and resource names (`<project>-<env>-...`), so a
staging and a production endpoint coexist in one account. Promote deploys the model that is live
in one environment into another: the archive is copied into the target environment's bucket
(each environment's SageMaker role reads only its own bucket), recorded there, and deployed.
"""

from __future__ import annotations

from collections.abc import Callable

from dogops import config, state
from dogops.backend import Backend, for_target
from dogops.errors import UserError

PROMOTED_PREFIX = "models/promoted"


def live_model(backend: Backend) -> str | None:
    """The model URI live in `backend.env`, or None when nothing is deployed there.

    Read from that environment's Terraform state (the `model_data_url` output of the last
    apply), i.e. what its endpoint serves. The one place that answers "which model is live in
    env X": a model registry can answer it here later without touching promote."""
    value = backend.outputs().get("model_data_url")
    return str(value) if value else None


def split_s3_url(url: str) -> tuple[str, str]:
    bucket, _, key = url.removeprefix("s3://").partition("/")
    if not url.startswith("s3://") or not bucket or not key:
        raise UserError(f"not an S3 object URI: {url!r}")
    return bucket, key


def copy_artifact(s3, source_url: str, bucket: str, from_env: str) -> str:
    """The archive inside `bucket` (models/promoted/<from env>/<source key>); copied only when
    it is not already there with the same content."""
    from botocore.exceptions import ClientError

    source_bucket, source_key = split_s3_url(source_url)
    if source_bucket == bucket:
        return source_url
    key = f"{PROMOTED_PREFIX}/{from_env}/{source_key}"
    source_etag = s3.head_object(Bucket=source_bucket, Key=source_key)["ETag"]
    try:
        if s3.head_object(Bucket=bucket, Key=key)["ETag"] == source_etag:
            return f"s3://{bucket}/{key}"
    except ClientError:
        pass
    s3.copy({"Bucket": source_bucket, "Key": source_key}, bucket, key)
    return f"s3://{bucket}/{key}"


def promote(target: str, from_env: str, to_env: str,
            deploy: Callable[[Backend], object] | None = None) -> str:
    """Deploy the model live in `from_env` into `to_env`; returns the URI now served there."""
    if deploy is None:
        from dogops.deploy import deploy
    from_env, to_env = config.check_env(from_env), config.check_env(to_env)
    if from_env == to_env:
        raise UserError(f"--from and --to are both {from_env!r}: name two environments")
    with config.use_env(from_env):
        source = for_target(target)
        model = live_model(source)
    if model is None:
        raise UserError(f"no model is live in environment {from_env!r} (--target {target}): "
                        f"deploy one there first (invoke deploy --env {from_env})")
    with config.use_env(to_env):
        destination = for_target(target)
        bucket = str(destination.ensure_stack()["bucket_name"])
        url = copy_artifact(destination.client("s3"), model, bucket, from_env)
        print(f"[{target}] promoting {model} ({from_env}) -> {url} ({to_env})")
        state.record_model(target, url, source=f"promote:{from_env}", promoted_from=model)
        deploy(destination)
    return url
