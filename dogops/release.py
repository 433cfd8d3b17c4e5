"""`invoke deploy [--model N]`, `invoke rollback`, `invoke models`: verified, reversible rollouts.

A deploy picks a model version (dogops.registry), checks its archive before anything is applied,
then runs `terraform apply` with that version's `model_data_url` (the one model variable) and
verifies the result: the endpoint is `InService` on the planned endpoint config and a probe
request is answered by the planned model (the `model_version` field the serving handler adds from
the model's `MODEL_VERSION` environment).

Why the live model and config are taken out of the Terraform state during a rollout: with
create-before-destroy, Terraform deletes the old model and config right after UpdateEndpoint
returns. When SageMaker's deployment guardrails roll the update back, the endpoint is
`InService` again on the *old* config, the provider reports success and deletes exactly the
config the endpoint still uses (hashicorp/terraform-provider-aws#48997), so the next apply fails.
Here the old pair is detached first; after a verified rollout it is deleted through the API;
after a rollback the new pair is deleted and the old one re-imported, so the state matches the
endpoint again, the next `plan` is empty and the next `deploy` converges.
"""

from __future__ import annotations

import io
import json
import tarfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dogops import config, registry, serving_wheels, state
from dogops.backend import Backend
from dogops.errors import UserError

MODEL_ADDRESS = "module.endpoint[0].aws_sagemaker_model.this"
CONFIG_ADDRESS = "module.endpoint[0].aws_sagemaker_endpoint_configuration.this"
REQUIRED_MEMBERS = ("code/inference.py", "model_config.json", "model.pth")
MAX_ARCHIVE_BYTES = 10 * 1024 ** 3
SETTLING = ("Creating", "Updating", "SystemUpdating", "RollingBack", "UpdateRollbackFailed")
DEFAULT_ENDPOINT = "dog-breeds-endpoint"


@dataclass(frozen=True)
class LiveEndpoint:
    """What the endpoint runs now, read from SageMaker (not from any local file)."""

    config_name: str
    model_name: str
    model_data_url: str
    instance_count: int | None


class RolledBack(UserError):
    def __init__(self, message: str):
        super().__init__(message, exit_code=1)


# -- pieces ----------------------------------------------------------------------------------
def registry_for(backend: Backend, outputs: Mapping[str, object] | None = None):
    outputs = outputs if outputs is not None else backend.outputs()
    endpoint = str(outputs.get("endpoint_name") or DEFAULT_ENDPOINT)
    return registry.Registry(backend.client("sagemaker"), registry.group_name(endpoint)), endpoint


def check_artifact(s3, url: str, needs_wheels: bool = False) -> None:
    """Refuse a missing, unreadable or incomplete model.tar.gz before anything is applied.

    ``needs_wheels``: the archive is for SageMaker, whose container installs
    code/requirements.txt with no index (network isolation): it must carry a locked wheel for
    the inference image of every locked project, or the endpoint would fail at start, billed."""
    from botocore.exceptions import ClientError

    if not url.startswith("s3://") or "/" not in url[5:]:
        raise UserError(f"model {url!r} is not an s3://bucket/key URI")
    bucket, key = url[5:].split("/", 1)
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError:
        raise UserError(f"model archive {url} does not exist (deleted, or the emulator was "
                        "restarted): train again or pick another version (`invoke models`)") from None
    if head.get("ContentLength", 0) > MAX_ARCHIVE_BYTES:
        raise UserError(f"model archive {url} is over {MAX_ARCHIVE_BYTES} bytes")
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    names: set[str] = set()
    try:  # streamed: members are listed without keeping the archive in memory or on disk
        with tarfile.open(fileobj=body, mode="r|gz") as tar:
            for member in tar:
                names.add(member.name.removeprefix("./"))
    except (tarfile.TarError, OSError, EOFError) as err:
        raise UserError(f"model archive {url} is not a readable .tar.gz ({err}); nothing was "
                        "deployed") from None
    missing = [m for m in REQUIRED_MEMBERS if m not in names]
    if missing:
        raise UserError(f"model archive {url} lacks {', '.join(missing)} (see docs/DESIGN.md, "
                        "'Model artifact'); nothing was deployed")
    if needs_wheels:
        lacking = missing_wheels(names)
        if lacking:
            raise UserError(f"model archive {url} has no code/wheels/ wheel for "
                            f"{serving_wheels.IMAGE_TARGET.describe()} of {', '.join(lacking)}: "
                            "the endpoint installs with no index and would fail to start. "
                            "Retrain with `invoke train` (it stages the wheels); nothing was "
                            "deployed")


def missing_wheels(names: set[str]) -> list[str]:
    """Locked projects without a wheel for the inference image among the archive's members."""
    shipped = {serving_wheels.wheel_project(Path(name)) for name in names
               if name.startswith("code/wheels/") and name.endswith(".whl")
               and serving_wheels.fits(Path(name), serving_wheels.IMAGE_TARGET)}
    return sorted(set(serving_wheels.locked_hashes()) - shipped)


def live_endpoint(sagemaker, endpoint_name: str) -> LiveEndpoint | None:
    from botocore.exceptions import ClientError

    try:
        endpoint = sagemaker.describe_endpoint(EndpointName=endpoint_name)
        config_name = endpoint["EndpointConfigName"]
        variant = sagemaker.describe_endpoint_config(
            EndpointConfigName=config_name)["ProductionVariants"][0]
        model = sagemaker.describe_model(ModelName=variant["ModelName"])
    except ClientError:
        return None
    count = (endpoint.get("ProductionVariants") or [{}])[0].get("CurrentInstanceCount")
    return LiveEndpoint(config_name, variant["ModelName"],
                        (model.get("PrimaryContainer") or {}).get("ModelDataUrl", ""), count)


def wait_settled(sagemaker, endpoint_name: str, timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        described = sagemaker.describe_endpoint(EndpointName=endpoint_name)
        if described["EndpointStatus"] not in SETTLING or time.monotonic() > deadline:
            return described
        time.sleep(2)


def probe_identity(runtime, endpoint_name: str) -> str | None:
    """Ask the endpoint once (a 32x32 PNG) and return the model_version it reports."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (128, 96, 64)).save(buffer, format="PNG")
    reply = runtime.invoke_endpoint(EndpointName=endpoint_name, ContentType="image/png",
                                    Accept="application/json", Body=buffer.getvalue())
    try:
        return json.loads(reply["Body"].read()).get("model_version")
    except (ValueError, AttributeError):
        return None


def resolve_version(backend: Backend, reg: registry.Registry, model: int | None, force: bool,
                    image: str) -> registry.ModelVersion:
    """The version to deploy: --model N, else the recorded model, else the newest approved."""
    if model is not None:
        version = reg.get(model)
        if version.status == registry.REJECTED and not force:
            raise UserError(f"v{version.number} was rejected ({version.description}): add "
                            "--force to deploy it anyway")
        if not version.approved:
            if not force:
                raise UserError(f"v{version.number} is {version.status} ({version.description}):"
                                " add --force to approve and deploy it")
            reg.set_status(version, registry.APPROVED,
                           f"approved by hand (invoke deploy --model {model} --force)")
        return version
    from dogops.deploy import recorded_model

    url = recorded_model(backend.target)
    version = reg.find(url)
    if version is None:  # e.g. `invoke ec2-train`, or a state from before versions existed
        version = reg.register(url, image, state.load(backend.target).get("metrics") or {}, {},
                               True, "registered at deploy (chosen by hand)")
        print(f"registered {url} as v{version.number}")
    if version.approved:
        return version
    approved = [v for v in reg.versions() if v.approved]
    if not approved:
        raise UserError(f"v{version.number} is {version.status} ({version.description}) and no "
                        f"version is approved: `invoke deploy --model {version.number} --force`")
    print(f"v{version.number} is {version.status} ({version.description}); deploying the newest "
          f"approved version v{approved[-1].number} (ship v{version.number} with `invoke deploy "
          f"--model {version.number} --force`)")
    return approved[-1]


# -- the deploy ------------------------------------------------------------------------------
def deploy(backend: Backend, model: int | None = None, force: bool = False,
           verify_timeout_s: float = 3600) -> dict[str, object]:
    outputs = backend.outputs()
    reg, endpoint_name = registry_for(backend, outputs)
    sm = backend.client("sagemaker")
    image = str(outputs.get("inference_image_uri") or "")
    version = resolve_version(backend, reg, model, force, image)
    check_artifact(backend.client("s3"), version.model_data_url,
                   needs_wheels=backend.target == "aws")
    live = live_endpoint(sm, endpoint_name) if outputs.get("endpoint_deployed") else None
    variables: dict[str, object] = {"model_data_url": version.model_data_url}
    if live and live.instance_count and live.model_data_url != version.model_data_url:
        # keep an autoscaled fleet at its current size through the rollout (the new config's
        # initial count would otherwise reset it to min_capacity); only with a new model, so an
        # unchanged deploy does not replace the config because autoscaling moved
        variables["endpoint_initial_instance_count"] = live.instance_count
    print(f"[{backend.target}] deploying v{version.number}: {version.model_data_url}"
          + (f" (live: {live.model_data_url})" if live else ""))
    with backend.terraform() as tf:
        detached: list[str] = []
        if live is not None:  # a replaced config means an UpdateEndpoint: a guarded rollout
            planned = tf.planned_actions({**backend.base_variables(), **variables})
            detached = [a for a in (MODEL_ADDRESS, CONFIG_ADDRESS)
                        if "delete" in planned.get(a, [])]
            if CONFIG_ADDRESS in detached:
                tf.state_rm(detached)  # see the module docstring
            else:
                detached = []
        rollout = bool(detached)
        if rollout and not backend.is_local:
            print(f"[aws] blue/green rollout: a second fleet of {live.instance_count or 1} "
                  "instance(s) runs, and is billed, beside the live one until the rollout ends "
                  "(docs/terraform.md, 'The rollout timeline on AWS')")
        try:
            tf.apply({**backend.base_variables(), **variables})
        except BaseException:  # failed or interrupted: the state must match the endpoint again
            if rollout:
                _restore(backend, tf, sm, endpoint_name, live, detached)
            raise
        outputs = tf.output()
        planned_config = str(outputs.get("endpoint_config_name") or "")
        planned_model = str(outputs.get("model_name") or "")
        described = wait_settled(sm, endpoint_name, verify_timeout_s)
        rolled_back = rollout and (described["EndpointStatus"] != "InService"
                                   or described["EndpointConfigName"] != planned_config)
        if rolled_back:
            reason = described.get("FailureReason") or described["EndpointStatus"]
            _restore(backend, tf, sm, endpoint_name, live, detached)
            previous = reg.find(live.model_data_url)
            reg.set_status(version, registry.REJECTED, f"rolled back by SageMaker: {reason}"[:1000])
            _record(backend.target, previous, live.model_data_url, "rolled back", str(reason))
            raise RolledBack(
                f"SageMaker rolled the update back ({reason}); "
                f"{'v' + str(previous.number) if previous else live.model_data_url} is still live "
                f"and its config {live.config_name} was kept; v{version.number} is now Rejected")
        if described["EndpointStatus"] != "InService":
            raise UserError(f"endpoint {endpoint_name} is {described['EndpointStatus']}: "
                            f"{described.get('FailureReason', 'no reason given')}", 1)
        if described["EndpointConfigName"] != planned_config:
            raise UserError(f"endpoint {endpoint_name} is on config "
                            f"{described['EndpointConfigName']}, not the planned {planned_config}"
                            ": run `invoke plan` to see the difference", 1)
    if backend.is_local:
        from dogops.deploy import serve_locally

        serve_locally(backend, endpoint_name, version.model_data_url, planned_model)
    _verify_identity(backend, endpoint_name, planned_model)
    if rollout:
        _retire(sm, live, detached)
    _write_tfvars(backend.target, variables)
    _record(backend.target, version, version.model_data_url, "deployed", "")
    print(f"v{version.number} is live on {endpoint_name} (config {planned_config})")
    return outputs


def _verify_identity(backend: Backend, endpoint_name: str, planned_model: str) -> None:
    from botocore.exceptions import ClientError

    try:
        answered = probe_identity(backend.client("sagemaker-runtime"), endpoint_name)
    except ClientError as err:
        raise UserError(f"the endpoint is InService but the probe request failed: {err}", 1) \
            from None
    if answered is None:
        print("note: the model does not report its identity (archive trained before "
              "model_version existed); InService on the planned config was verified")
    elif answered != planned_model:
        raise UserError(f"the endpoint answers as {answered}, not the planned {planned_model}", 1)
    else:
        print(f"verified: the endpoint answers as {answered}")


def _restore(backend: Backend, tf, sm, endpoint_name: str, live: LiveEndpoint,
             detached: list[str]) -> None:
    """After a failed or rolled-back rollout: the state describes what the endpoint runs (the
    detached live pair re-imported, the new pair deleted), and the tfvars name the live model."""
    now = live_endpoint(sm, endpoint_name)
    if now is None or now.config_name != live.config_name:
        print("note: the endpoint left its previous config; Terraform's state is kept as applied")
        return
    tf.state_rm(detached)
    for_import = {**backend.base_variables(), "model_data_url": live.model_data_url}
    if live.instance_count:
        for_import["endpoint_initial_instance_count"] = live.instance_count
    names = {MODEL_ADDRESS: live.model_name, CONFIG_ADDRESS: live.config_name}
    for address in detached:
        tf.import_resource(address, names[address], for_import)
    _delete_unused(sm, endpoint_name, live)
    _write_tfvars(backend.target, for_import)


def _delete_unused(sm, endpoint_name: str, live: LiveEndpoint) -> None:
    """Delete this endpoint's configs and models other than the live pair: the failed new
    pair, now in no state and used by nothing (names are `<endpoint name>-<suffix>`)."""
    from botocore.exceptions import ClientError

    configs = sm.list_endpoint_configs(NameContains=endpoint_name, MaxResults=100)
    models = sm.list_models(NameContains=endpoint_name, MaxResults=100)
    for name in (c["EndpointConfigName"] for c in configs["EndpointConfigs"]):
        if name != live.config_name:
            try:
                sm.delete_endpoint_config(EndpointConfigName=name)
            except ClientError:
                pass
    in_use = {v["ModelName"] for v in sm.describe_endpoint_config(
        EndpointConfigName=live.config_name)["ProductionVariants"]}
    for name in (m["ModelName"] for m in models["Models"]):
        if name != live.model_name and name not in in_use:
            try:
                sm.delete_model(ModelName=name)
            except ClientError:
                pass


def _retire(sm, old: LiveEndpoint, detached: list[str]) -> None:
    """After a verified rollout: delete the detached old config (and model, when replaced)."""
    from botocore.exceptions import ClientError

    calls = {CONFIG_ADDRESS: (sm.delete_endpoint_config, {"EndpointConfigName": old.config_name}),
             MODEL_ADDRESS: (sm.delete_model, {"ModelName": old.model_name})}
    for address in (CONFIG_ADDRESS, MODEL_ADDRESS):
        if address in detached:
            call, kwargs = calls[address]
            try:
                call(**kwargs)
            except ClientError as err:
                print(f"note: could not delete the previous {address.rsplit('.', 2)[-2]}: {err}")


def _write_tfvars(target: str, variables: Mapping[str, object]) -> None:
    tfvars = state.read_tfvars(target)
    for name in ("model_data_url", "endpoint_initial_instance_count"):
        if variables.get(name) is not None:
            tfvars[name] = variables[name]
    state.write_json_atomic(config.paths(target).tfvars_file, tfvars)


def _record(target: str, version: registry.ModelVersion | None, url: str, outcome: str,
            reason: str) -> None:
    """state.json says which model is live and how the last deploy ended (other keys kept)."""
    recorded = state.load(target)
    recorded["live"] = {"version": version.number if version else None, "model_data_url": url}
    recorded["last_deploy"] = {"outcome": outcome, "reason": reason,
                               "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    state.save(target, recorded)


# -- models / rollback -----------------------------------------------------------------------
def list_models(backend: Backend) -> str:
    reg, endpoint_name = registry_for(backend)
    versions = reg.versions()
    url = registry.live_model_url(backend.client("sagemaker"), endpoint_name)
    live = next((v for v in reversed(versions) if v.model_data_url == url), None) if url else None
    return registry.format_versions(versions, live)


def rollback(backend: Backend) -> dict[str, object]:
    reg, endpoint_name = registry_for(backend)
    live = registry.live_version(reg, backend.client("sagemaker"), endpoint_name)
    if live is None:
        raise UserError(f"nothing registered is live on {endpoint_name}: `invoke models`")
    previous = reg.previous_approved(live)
    print(f"rolling back from v{live.number} to v{previous.number}")
    return deploy(backend, model=previous.number)
