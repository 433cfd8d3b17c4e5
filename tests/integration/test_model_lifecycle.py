"""Model lifecycle on the emulator: versions, verified blue/green rollouts, automatic rollback.

One module-scoped stack (conftest.py); the tests run in file order, as a user would:
(1) deploy model A, deploy B (a canary rollout), predictions come from B, `rollback` serves A
    again, the plan is empty after each step;
(2) a model that fails every request is rolled back by the rollback alarm while A keeps
    answering; deploy exits non-zero; nothing is lost from the state; the next deploy converges;
(3) a missing or corrupt model.tar.gz is refused before anything is applied.
The emulator profile bakes 4 s per traffic step and 3 s at the end (terraform/emulator/).
"""

from __future__ import annotations

import io
import json
import tarfile
import threading
import time

import pytest

from dogops import config, registry, state
from dogops.errors import UserError

pytestmark = [pytest.mark.integration, pytest.mark.slow]
TINY = {"epochs": 1}
ENDPOINT = "dog-breeds-endpoint"
BROKEN_HANDLER = b"""

def predict_fn(data, model, context=None):  # a deliberately broken model: every request fails
    raise RuntimeError("deliberately broken model")
"""


@pytest.fixture(scope="module")
def backend(workspace):
    from dogops.backend import for_target

    return for_target("local")


@pytest.fixture(scope="module")
def model_a(backend, digits):
    from dogops.train import TrainRequest, train

    return train(TrainRequest(target="local", hyperparameters=TINY, sample_data=digits), backend)


@pytest.fixture(scope="module")
def image(digits) -> bytes:
    from dogops.sample_data import sample_image

    return sample_image(digits)[0].read_bytes()


def read_archive(backend, url: str) -> dict[str, bytes]:
    bucket, _, key = url.removeprefix("s3://").partition("/")
    body = backend.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def put_archive(backend, url: str, members: dict[str, bytes]) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in sorted(members.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    bucket, _, key = url.removeprefix("s3://").partition("/")
    backend.client("s3").put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())


def new_version(backend, key: str, members: dict[str, bytes]) -> registry.ModelVersion:
    """A model artifact under `key` registered as a version (as `train` would register one)."""
    from dogops.release import registry_for

    bucket = str(backend.outputs()["bucket_name"])
    url = f"s3://{bucket}/{key}"
    if members:
        put_archive(backend, url, members)
    reg, _ = registry_for(backend)
    image = str(backend.outputs()["inference_image_uri"])
    return reg.register(url, image, {"test_accuracy": 0.5}, {"job": key}, True, "test model")


def ask(backend, image: bytes) -> tuple[int, str | None]:
    """(status, model_version) of one InvokeEndpoint call."""
    from botocore.exceptions import ClientError

    try:
        reply = backend.client("sagemaker-runtime").invoke_endpoint(
            EndpointName=ENDPOINT, ContentType="image/png", Body=image)
    except ClientError as err:
        return int(err.response.get("OriginalStatusCode") or 400), None
    return 200, json.loads(reply["Body"].read()).get("model_version")


def test_deploy_a_then_b_then_rollback_to_a(backend, model_a, image):
    from dogops.deploy import deploy, plan
    from dogops.release import list_models, rollback

    outputs = deploy(backend)
    model_name_a = str(outputs["model_name"])
    assert plan(backend) is False, "plan must be empty after deploying A"
    assert ask(backend, image) == (200, model_name_a)
    config_a = backend.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)[
        "EndpointConfigName"]

    b = new_version(backend, "models/b/model.tar.gz", read_archive(backend, model_a))
    outputs = deploy(backend, model=b.number)
    model_name_b = str(outputs["model_name"])
    assert model_name_b != model_name_a
    assert plan(backend) is False, "plan must be empty after deploying B"
    assert {ask(backend, image) for _ in range(6)} == {(200, model_name_b)}
    sm = backend.client("sagemaker")
    described = sm.describe_endpoint(EndpointName=ENDPOINT)
    assert described["LastDeploymentConfig"]["BlueGreenUpdatePolicy"][
        "TrafficRoutingConfiguration"]["Type"] == "CANARY"
    with pytest.raises(sm.exceptions.ClientError):  # the verified rollout retired A's config
        sm.describe_endpoint_config(EndpointConfigName=config_a)
    listing = list_models(backend)
    assert f"* {b.number:>4}  Approved" in listing

    outputs = rollback(backend)
    assert str(outputs["model_name"]) == model_name_a
    assert plan(backend) is False, "plan must be empty after the rollback"
    assert {ask(backend, image) for _ in range(6)} == {(200, model_name_a)}
    assert state.load("local")["live"]["model_data_url"] == model_a


def test_broken_model_rolls_back_automatically_and_a_keeps_answering(backend, model_a, image):
    from dogops.deploy import deploy, plan

    sm = backend.client("sagemaker")
    before = sm.describe_endpoint(EndpointName=ENDPOINT)
    model_name_a = sm.describe_endpoint_config(EndpointConfigName=before["EndpointConfigName"])[
        "ProductionVariants"][0]["ModelName"]
    members = read_archive(backend, model_a)
    members["code/inference.py"] += BROKEN_HANDLER
    broken = new_version(backend, "models/broken/model.tar.gz", members)
    recorded_before = state.load("local")

    answers: list[tuple[float, int, str | None]] = []
    stop = threading.Event()

    def traffic():  # users keep calling the endpoint during the rollout
        while not stop.is_set():
            answers.append((time.monotonic(), *ask(backend, image)))
            time.sleep(0.05)

    caller = threading.Thread(target=traffic, daemon=True)
    caller.start()
    try:
        with pytest.raises(UserError, match="rolled the update back") as raised:
            deploy(backend, model=broken.number)
    finally:
        stop.set()
        caller.join(timeout=30)
    assert raised.value.exit_code == 1
    assert "alarm dog-breeds-endpoint-5xx-errors went to ALARM" in raised.value.message
    ok = [a for a in answers if a[1] == 200]
    failed = [a for a in answers if a[1] != 200]
    assert ok and {a[2] for a in ok} == {model_name_a}, "every answer must come from A"
    assert failed and {a[1] for a in failed} == {500}, "only the canary's share may fail"
    assert ok[-1][0] > failed[-1][0], "A must keep answering after the rollback"

    after = sm.describe_endpoint(EndpointName=ENDPOINT)
    assert after["EndpointStatus"] == "InService"
    assert after["EndpointConfigName"] == before["EndpointConfigName"]
    assert "rolled back" in after["FailureReason"]
    sm.describe_endpoint_config(EndpointConfigName=before["EndpointConfigName"])  # kept
    sm.describe_model(ModelName=model_name_a)  # kept
    from dogops.release import registry_for

    reg, _ = registry_for(backend)
    assert reg.get(broken.number).status == registry.REJECTED
    recorded = state.load("local")
    assert {k: v for k, v in recorded.items() if k not in ("live", "last_deploy")} == {
        k: v for k, v in recorded_before.items() if k not in ("live", "last_deploy")}
    assert recorded["live"]["model_data_url"] == model_a
    assert recorded["last_deploy"]["outcome"] == "rolled back"
    assert state.read_tfvars("local")["model_data_url"] == model_a
    assert plan(backend) is False, "the state must describe the endpoint again"
    assert {ask(backend, image) for _ in range(6)} == {(200, model_name_a)}
    outputs = deploy(backend)  # the next deploy converges on A without a rollout
    assert str(outputs["model_name"]) == model_name_a


@pytest.mark.parametrize("kind", ["missing", "corrupt"])
def test_missing_or_corrupt_archive_is_refused_before_apply(backend, model_a, kind):
    from dogops.deploy import deploy

    tf_state = config.paths("local").terraform_state
    before = tf_state.stat().st_mtime_ns
    if kind == "missing":
        version = new_version(backend, "models/missing/model.tar.gz", {})
        expected = "does not exist"
    else:
        version = new_version(backend, "models/corrupt/model.tar.gz", {})
        bucket, _, key = version.model_data_url.removeprefix("s3://").partition("/")
        body = backend.client("s3")
        body.put_object(Bucket=bucket, Key=key, Body=b"\x1f\x8b\x08 truncated, not an archive")
        expected = "not a readable .tar.gz"
    with pytest.raises(UserError, match=expected) as raised:
        deploy(backend, model=version.number)
    assert "nothing was deployed" in raised.value.message or "does not exist" in raised.value.message
    assert tf_state.stat().st_mtime_ns == before, "terraform must not have run"
