"""Shared helpers for the Lambda handler tests (events, stub responses, response checks)."""

from __future__ import annotations

import base64
import io
import json

import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from PIL import Image

# Never real credentials: requests either hit a Stubber, a local socket or the in-process emulator.
FAKE_AWS_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
ENDPOINT_NAME = "dog-breeds-endpoint"
ACCOUNT_ID = "123456789012"
DOCUMENTED_ERRORS = {400, 413, 415, 500, 502, 504}
SEED_URL = ("https://s3.amazonaws.com/cdn-origin-etr.akc.org/wp-content/uploads/2017/11/"
            "20113314/Carolina-Dog-standing-outdoors.jpg")


def fake_aws_env(monkeypatch: pytest.MonkeyPatch, **extra: str) -> None:
    """Region + dummy credentials, and nothing from the developer's own AWS setup."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    for name, value in {**FAKE_AWS_ENV, **extra}.items():
        monkeypatch.setenv(name, value)


def endpoint_response(document: object) -> dict:
    raw = document if isinstance(document, bytes) else json.dumps(document).encode()
    return {"Body": StreamingBody(io.BytesIO(raw), len(raw)), "ContentType": "application/json"}


def predictions_document(*pairs: tuple[str, float]) -> dict:
    return {"predictions": [{"label": label, "probability": p} for label, p in pairs]}


def add_prediction(stub: Stubber, *pairs: tuple[str, float], expected_body: dict | None = None):
    expected = None
    if expected_body is not None:
        expected = {"EndpointName": ENDPOINT_NAME, "ContentType": "application/json",
                    "Accept": "application/json",
                    "Body": json.dumps(expected_body).encode()}
    pairs = pairs or (("046.Carolina_dog", 0.93), ("Basenji", 0.04), ("Akita", 0.02))
    stub.add_response("invoke_endpoint", endpoint_response(predictions_document(*pairs)),
                      expected)


def add_model_error(stub: Stubber, status: int, message: str) -> None:
    stub.add_client_error(
        "invoke_endpoint", service_error_code="ModelError", http_status_code=424,
        service_message=f"Received client error ({status}) from primary with message "
                        f"\"{message}\". See https://us-east-1.console.aws.amazon.com/cloudwatch"
                        f"/home?region=us-east-1#logEventViewer:group=/aws/sagemaker/Endpoints/"
                        f"{ENDPOINT_NAME} in account {ACCOUNT_ID} for more information.",
        modeled_fields={"OriginalStatusCode": status, "OriginalMessage": message,
                        "LogStreamArn": f"arn:aws:logs:us-east-1:{ACCOUNT_ID}:log-group:"
                                        f"/aws/sagemaker/Endpoints/{ENDPOINT_NAME}"})


def image_bytes(fmt: str = "JPEG", size: int = 16) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (200, 120, 40)).save(buffer, fmt)
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def http_event(body: str | None, content_type: str | None = "application/json",
               base64_encoded: bool = False, query: dict | None = None) -> dict:
    """A Lambda function URL (payload format 2.0) event, as AWS builds it."""
    headers = {"host": "abc123.lambda-url.us-east-1.on.aws", "user-agent": "curl/8.5.0"}
    if content_type is not None:
        headers["content-type"] = content_type
    event = {
        "version": "2.0", "routeKey": "$default", "rawPath": "/", "rawQueryString": "",
        "headers": headers, "isBase64Encoded": base64_encoded,
        "requestContext": {"accountId": "anonymous", "apiId": "abc123",
                           "domainName": "abc123.lambda-url.us-east-1.on.aws",
                           "http": {"method": "POST", "path": "/", "protocol": "HTTP/1.1",
                                    "sourceIp": "203.0.113.7", "userAgent": "curl/8.5.0"},
                           "requestId": "http-req-1", "stage": "$default"},
    }
    if body is not None:
        event["body"] = body
    if query is not None:
        event["queryStringParameters"] = query
    return event


class FakeContext:
    """What the Lambda runtime passes: carries identifiers the caller must never see."""

    aws_request_id = "9185d2d9-82e6-42dc-b277-2e324ab94821"
    function_name = "dog-breeds-inference"
    invoked_function_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:dog-breeds-inference"
    log_group_name = "/aws/lambda/dog-breeds-inference"
    memory_limit_in_mb = 256

    def get_remaining_time_in_millis(self) -> int:
        return 30_000

    def __str__(self) -> str:
        return f"LambdaContext([invoked_function_arn={self.invoked_function_arn}])"


def parse_response(response: object) -> tuple[int, dict]:
    """Assert the Lambda proxy response shape and return (status, decoded body)."""
    assert isinstance(response, dict)
    assert set(response) == {"statusCode", "headers", "body"}
    assert response["headers"] == {"Content-Type": "application/json"}
    status = response["statusCode"]
    assert isinstance(status, int)
    body = json.loads(response["body"])
    assert isinstance(body, dict)
    assert isinstance(body.get("request_id"), str) and body["request_id"]
    if status == 200:
        assert set(body) == {"predictions", "request_id"}
        for item in body["predictions"]:
            assert set(item) == {"label", "probability"}
            assert isinstance(item["label"], str) and item["label"]
            assert 0.0 <= item["probability"] <= 1.0
    else:
        assert set(body) == {"error", "request_id"}
        assert isinstance(body["error"], str) and body["error"]
        assert "Traceback" not in body["error"]
        assert ACCOUNT_ID not in response["body"] and "arn:aws" not in response["body"]
    return status, body


# What the stand-in downloader (conftest's `lf`) returns for any url: the Lambda downloads urls
# itself (the model runs with network isolation) and sends the endpoint the image.
URL_IMAGE = image_bytes("JPEG", 24)


def url_body(top_k: int) -> dict:
    """The endpoint request a {"url": ...} event becomes."""
    return {"image": b64(URL_IMAGE), "top_k": top_k}
