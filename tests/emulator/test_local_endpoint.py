"""The local endpoint host: the serving contract in-process, then detached behind InvokeEndpoint."""

from __future__ import annotations

import base64
import io
import json
import sys
import threading
import uuid
from datetime import UTC
from http.server import ThreadingHTTPServer

import pytest
import requests
from botocore.exceptions import ClientError
from emulator_test_helpers import make_model_archive, make_model_dir
from PIL import Image

from dogops.errors import UserError
from dogops.local_aws import emulator
from dogops.local_aws import endpoint_host as local_endpoint


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 120, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module", autouse=True)
def restore_import_state():
    """The host imports `inference` and extends sys.path as the container does: undo that here,
    so later tests in this process import training/inference.py, not our test-local module."""
    saved_path, saved_module = list(sys.path), sys.modules.get("inference")
    yield
    sys.path[:] = saved_path
    if saved_module is None:
        sys.modules.pop("inference", None)
    else:
        sys.modules["inference"] = saved_module


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return make_model_dir(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="module")
def host_url(model_dir):
    """The host's HTTP layer served in-process on a free port (no subprocess needed)."""
    service = local_endpoint.ModelService(model_dir)
    server = ThreadingHTTPServer(("127.0.0.1", 0), local_endpoint.make_handler(service))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_ping(host_url):
    assert requests.get(f"{host_url}/ping", timeout=5).status_code == 200


def test_image_bytes_and_json_with_default_accept(host_url):
    image = png_bytes()
    by_bytes = requests.post(
        f"{host_url}/invocations",
        data=image,
        headers={"Content-Type": "image/png", "Accept": "*/*"},
        timeout=30,
    )
    assert by_bytes.status_code == 200
    assert by_bytes.headers["Content-Type"] == "application/json"
    predictions = by_bytes.json()["predictions"]
    assert {p["label"] for p in predictions} == {"Affenpinscher", "Carolina dog", "Lowchen"}
    assert sum(p["probability"] for p in predictions) == pytest.approx(1.0, abs=1e-4)

    body = json.dumps({"image": base64.b64encode(image).decode()})
    by_json = requests.post(
        f"{host_url}/invocations",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert by_json.json() == by_bytes.json()  # same image, same model, same answer


def test_handler_status_codes_pass_through(host_url):
    unsupported = requests.post(
        f"{host_url}/invocations", data=b"x", headers={"Content-Type": "text/csv"}, timeout=10
    )
    assert unsupported.status_code == 415
    assert unsupported.json() == {"error": "unsupported content type text/csv", "status": 415}
    not_image = requests.post(
        f"{host_url}/invocations",
        data=b"not an image",
        headers={"Content-Type": "image/jpeg"},
        timeout=10,
    )
    assert not_image.status_code == 400


def test_unexpected_errors_are_500_without_internals(host_url):
    reply = requests.post(
        f"{host_url}/invocations",
        data=json.dumps({"boom": True}),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert reply.status_code == 500
    assert "secret internals" not in reply.text
    assert "Traceback" not in reply.text
    assert reply.json()["status"] == 500


def test_bad_requests(host_url):
    invalid_utf8 = requests.post(
        f"{host_url}/invocations",
        data=b"\xff\xfe",
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert invalid_utf8.status_code == 400
    too_big = requests.post(
        f"{host_url}/invocations",
        data=b"0" * (local_endpoint.MAX_BODY_BYTES + 1),
        headers={"Content-Type": "image/png"},
        timeout=10,
    )
    assert too_big.status_code == 413
    assert requests.get(f"{host_url}/nope", timeout=5).status_code == 404


def test_missing_inference_module_is_a_clear_error(tmp_path):
    (tmp_path / "code").mkdir()
    with pytest.raises(UserError, match="code/inference.py"):
        local_endpoint.ModelService(tmp_path)


def test_cli_rejects_bad_model_data(capsys):
    assert local_endpoint.main(["--model-data", "not-s3", "--port", "1"]) == 2
    assert "s3://bucket/key" in capsys.readouterr().err


@pytest.fixture
def deployed_endpoint(aws):
    """An endpoint resource in the emulator (what Terraform creates)."""
    sm = aws("sagemaker")
    name = f"ep-{uuid.uuid4().hex[:8]}"
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
        PrimaryContainer={"Image": "pytorch-inference:2.6.0"},
    )
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.g5.xlarge",
            }
        ],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    return name


def test_invoke_endpoint_forwards_to_the_detached_host(
    aws, emulator_port, emulator_dir, model_dir, tmp_path, deployed_endpoint
):
    s3, runtime = aws("s3"), aws("sagemaker-runtime")
    bucket = f"models-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    archive = make_model_archive(model_dir, tmp_path / "model.tar.gz")
    s3.upload_file(str(archive), bucket, "training-jobs/job/output/model.tar.gz")
    model_data = f"s3://{bucket}/training-jobs/job/output/model.tar.gz"

    with pytest.raises(ClientError) as no_host:
        runtime.invoke_endpoint(
            EndpointName=deployed_endpoint, Body=b"{}", ContentType="application/json"
        )
    assert "no local endpoint host running" in no_host.value.response["Error"]["Message"]

    env = emulator.client_environment(emulator_port)
    info = local_endpoint.start_host(deployed_endpoint, model_data, state_dir=emulator_dir, env=env)
    try:
        again = local_endpoint.start_host(
            deployed_endpoint, model_data, state_dir=emulator_dir, env=env
        )
        assert again.pid == info.pid  # idempotent
        reply = runtime.invoke_endpoint(
            EndpointName=deployed_endpoint,
            Body=png_bytes(),
            ContentType="image/png",
            Accept="application/json",
            CustomAttributes="trace=1",
        )
        assert reply["ContentType"] == "application/json"
        predictions = json.loads(reply["Body"].read())["predictions"]
        assert len(predictions) == 3

        with pytest.raises(ClientError) as model_error:
            runtime.invoke_endpoint(
                EndpointName=deployed_endpoint, Body=b"x", ContentType="text/csv"
            )
        error = model_error.value.response
        assert error["Error"]["Code"] == "ModelError"
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
        assert error["OriginalStatusCode"] == 415
        assert json.loads(error["OriginalMessage"])["status"] == 415
        assert published_sums(aws("cloudwatch"), deployed_endpoint) == {
            "Invocations": 2, "Invocation4XXErrors": 1, "Invocation5XXErrors": 0,
            "ModelLatency": 2}  # ModelLatency: sample count (one per invocation)
    finally:
        assert local_endpoint.stop_host(deployed_endpoint, emulator_dir)
    assert not local_endpoint.stop_host(deployed_endpoint, emulator_dir)  # idempotent
    with pytest.raises(ClientError) as stopped:
        runtime.invoke_endpoint(
            EndpointName=deployed_endpoint, Body=b"{}", ContentType="application/json"
        )
    assert "no local endpoint host running" in stopped.value.response["Error"]["Message"]


def published_sums(cloudwatch, endpoint: str) -> dict[str, float]:
    """Sum (SampleCount for ModelLatency) of the endpoint's AWS/SageMaker metrics."""
    from datetime import datetime, timedelta

    now = datetime.now(UTC)
    sums = {}
    for metric in ("Invocations", "Invocation4XXErrors", "Invocation5XXErrors", "ModelLatency"):
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/SageMaker", MetricName=metric, StartTime=now - timedelta(minutes=10),
            EndTime=now + timedelta(minutes=1), Period=60, Statistics=["Sum", "SampleCount"],
            Dimensions=[{"Name": "EndpointName", "Value": endpoint},
                        {"Name": "VariantName", "Value": "AllTraffic"}])["Datapoints"]
        key = "SampleCount" if metric == "ModelLatency" else "Sum"
        sums[metric] = sum(point[key] for point in points)
    return sums


def test_invoke_unknown_endpoint_is_a_validation_error(aws):
    with pytest.raises(ClientError) as err:
        aws("sagemaker-runtime").invoke_endpoint(
            EndpointName="missing", Body=b"{}", ContentType="application/json"
        )
    assert err.value.response["Error"]["Code"] == "ValidationError"
    assert "Endpoint missing of account" in err.value.response["Error"]["Message"]


def test_cli_reports_a_failing_model_fn_without_exiting_badly(tmp_path, capsys):
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "inference.py").write_text(
        "def model_fn(model_dir):\n    raise RuntimeError('weights missing')\n"
    )
    assert local_endpoint.main(["--model-dir", str(tmp_path), "--port", "0"]) == 1
    assert "the model could not be loaded: RuntimeError: weights missing" in capsys.readouterr().err
