"""Every error path answers with the documented status and a JSON {"error", "request_id"}."""

from __future__ import annotations

import json
import logging

import pytest
from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError
from lambda_helpers import (
    ACCOUNT_ID,
    SEED_URL,
    FakeContext,
    add_model_error,
    b64,
    endpoint_response,
    fake_aws_env,
    http_event,
    image_bytes,
    parse_response,
)

GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01"


def call(lf, event, context=None):
    return parse_response(lf.lambda_handler(event, context))


# --- 400: malformed input (nothing reaches the endpoint; the Stubber would fail otherwise) ----

@pytest.mark.parametrize("event, fragment", [
    (None, "JSON object"),
    ([{"url": SEED_URL}], "JSON object"),
    ("https://example.org/dog.jpg", "JSON object"),
    ({}, "exactly one of"),
    ({"url": SEED_URL, "image": "abcd"}, "exactly one of"),
    ({"imgae": "abcd"}, "exactly one of"),
    ({"url": ""}, "non-empty string"),
    ({"url": 42}, "non-empty string"),
    ({"url": "ftp://example.org/dog.jpg"}, "https://"),
    ({"url": "file:///etc/passwd"}, "https://"),
    ({"url": "javascript:alert(1)"}, "https://"),
    ({"url": "https:///dog.jpg"}, "no host"),
    ({"url": "https://user:pw@example.org/dog.jpg"}, "credentials"),
    ({"url": "https://example.org:99999/dog.jpg"}, "not a valid URL"),
    ({"url": "https://example.org/a dog.jpg"}, "spaces"),
    ({"url": "http://169.254.169.254/latest/meta-data/"}, "public host"),
    ({"url": "http://127.0.0.1:8080/dog.jpg"}, "public host"),
    ({"url": "http://[::1]/dog.jpg"}, "public host"),
    ({"url": "https://10.0.0.7/dog.jpg"}, "public host"),
    ({"url": "http://LOCALHOST./dog.jpg"}, "public host"),
    ({"url": "http://api.localhost/dog.jpg"}, "public host"),
    ({"url": "https://example.org/" + "a" * 3000}, "longer than"),
    ({"image": ""}, "non-empty base64"),
    ({"image": ["abc"]}, "non-empty base64"),
    ({"image": "not base64!!"}, "not valid base64"),
    ({"image": "abc"}, "not valid base64"),
    ({"url": SEED_URL, "top_k": 0}, "top_k"),
    ({"url": SEED_URL, "top_k": 11}, "from 1 to 10"),
    ({"url": SEED_URL, "top_k": True}, "top_k"),
    ({"url": SEED_URL, "top_k": 2.5}, "top_k"),
    ({"url": SEED_URL, "top_k": "three"}, "top_k"),
    ({"url": SEED_URL, "top_k": "\u00b2"}, "top_k"),  # a digit to str.isdigit, not to int()
    ({"url": SEED_URL, "top_k": "9" * 5000}, "top_k"),  # past int()'s digit limit
])
def test_malformed_direct_events_are_400(lf, stubber, event, fragment):
    status, body = call(lf, event)
    assert status == 400
    assert fragment in body["error"]


@pytest.mark.parametrize("event, fragment", [
    (http_event(None), "body is empty"),
    (http_event(""), "body is empty"),
    (http_event("{not json"), "not valid JSON"),
    (http_event("[1, 2]"), "must be an object"),
    (http_event("[" * 100_000), "nested too deeply"),
    (http_event("\"just a string\""), "must be an object"),
    (http_event("%%%", base64_encoded=True), "not valid base64"),
    (http_event(b64(b"\xff\xfe\x00"), base64_encoded=True), "UTF-8"),
    (http_event(json.dumps({"url": SEED_URL}), query={"top_k": "99"}), "top_k"),
    (http_event(b64(image_bytes()), content_type="image/jpeg", base64_encoded=True,
                query={"top_k": "-1"}), "top_k"),
])
def test_malformed_http_events_are_400(lf, stubber, event, fragment):
    status, body = call(lf, event)
    assert status == 400
    assert fragment in body["error"]


# --- 413 / 415 ---------------------------------------------------------------------------------

def test_oversized_base64_image_is_413(lf, stubber):
    big = b"\xff\xd8\xff" + b"\0" * (lf.MAX_IMAGE_BYTES * 2)  # rejected before decoding
    status, body = call(lf, {"image": b64(big)})
    assert status == 413 and "larger than" in body["error"]


def test_image_just_over_the_limit_is_413_after_decoding(lf, stubber):
    data = b"\xff\xd8\xff" + b"\0" * (lf.MAX_IMAGE_BYTES - 2)  # one byte over
    status, body = call(lf, http_event(b64(data), content_type="image/jpeg",
                                       base64_encoded=True))
    assert status == 413 and "the limit is" in body["error"]


def test_oversized_http_body_is_413_before_decoding(lf, stubber):
    status, _ = call(lf, http_event("A" * (lf.MAX_PAYLOAD_BYTES * 2), content_type="image/png",
                                    base64_encoded=True))
    assert status == 413


@pytest.mark.parametrize("event", [
    {"image": b64(GIF)},
    {"image": b64(b"%PDF-1.7 not an image")},
    http_event(b64(GIF), content_type="image/gif", base64_encoded=True),
    http_event(b64(GIF), content_type="image/jpeg", base64_encoded=True),
    http_event("url=https://example.org", content_type="application/x-www-form-urlencoded"),
    http_event("hello", content_type="text/plain"),
])
def test_unsupported_media_is_415(lf, stubber, event):
    status, body = call(lf, event)
    assert status == 415
    assert "JPEG" in body["error"] or "image/jpeg" in body["error"]


# --- 500: configuration ------------------------------------------------------------------------

@pytest.mark.parametrize("env, fragment", [
    ({"ENDPOINT_NAME": ""}, "ENDPOINT_NAME is not set"),
    ({"ENDPOINT_NAME": "arn:aws:sagemaker:us-east-1:1:endpoint/x"}, "not a valid endpoint"),
    ({"TOP_K": "zero"}, "TOP_K must be a positive integer"),
    ({"TOP_K": "0"}, "TOP_K must be a positive integer"),
    ({"TOP_K": "\u00b3"}, "TOP_K must be a positive integer"),
    ({"MAX_TOP_K": "50"}, "MAX_TOP_K <= 20"),
    ({"TOP_K": "8", "MAX_TOP_K": "5"}, "TOP_K <= MAX_TOP_K"),
])
def test_misconfiguration_is_500_and_names_the_setting(lf, stubber, monkeypatch, env, fragment):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    status, body = call(lf, {"url": SEED_URL})
    assert status == 500 and fragment in body["error"]


def test_missing_endpoint_name_variable_is_500(lf, stubber, monkeypatch):
    monkeypatch.delenv("ENDPOINT_NAME")
    status, body = call(lf, {"url": SEED_URL})
    assert status == 500 and "ENDPOINT_NAME" in body["error"]


def test_client_that_could_not_be_created_is_500(lf, monkeypatch):
    monkeypatch.setattr(lf, "RUNTIME", None)
    monkeypatch.setattr(lf, "RUNTIME_INIT_ERROR", "NoRegionError")
    status, body = call(lf, {"url": SEED_URL})
    assert status == 500 and "region" in body["error"]


def test_unexpected_exception_is_500_without_details(lf, stubber, monkeypatch, caplog):
    def explode(*_):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(lf, "build_endpoint_payload", explode)
    with caplog.at_level(logging.INFO, logger="lambda_function"):
        status, body = call(lf, {"url": SEED_URL}, FakeContext())
    assert status == 500 and body["error"] == "internal error"
    assert "secret internal detail" not in json.dumps(body)
    assert json.loads(caplog.records[-1].getMessage())["reason"] == "internal:RuntimeError"


# --- the endpoint's own errors -----------------------------------------------------------------

@pytest.mark.parametrize("status", [400, 413, 415])
def test_model_4xx_passes_through_with_its_short_message(lf, stubber, status):
    message = (json.dumps({"error": "could not decode the image", "status": status})
               + "\nTraceback (most recent call last):\n  File \"/opt/ml/model/code/inference.py\"")
    add_model_error(stubber, status, message)
    got, body = call(lf, {"image": b64(image_bytes())}, FakeContext())
    assert got == status
    assert body["error"] == "could not decode the image"


def test_model_4xx_without_json_message_gets_a_generic_message(lf, stubber):
    add_model_error(stubber, 400, "Traceback (most recent call last):\n  File \"x.py\", line 1")
    status, body = call(lf, {"url": SEED_URL})
    assert status == 400 and body["error"] == "the model could not process the input"


@pytest.mark.parametrize("status", [500, 502, 503])
def test_model_5xx_is_502(lf, stubber, status):
    add_model_error(stubber, status, "{\"error\": \"CUDA out of memory\", \"status\": 500}")
    got, body = call(lf, {"url": SEED_URL})
    assert got == 502 and "CUDA" not in body["error"]


def test_model_504_url_download_timeout_is_504(lf, stubber):
    add_model_error(stubber, 504, "{\"error\": \"download timed out\", \"status\": 504}")
    assert call(lf, {"url": SEED_URL})[0] == 504


def test_container_invocation_timeout_is_504(lf, stubber):
    stubber.add_client_error(
        "invoke_endpoint", service_error_code="ModelError", http_status_code=424,
        service_message="Your invocation timed out while waiting for a response from "
                        "container primary.")
    assert call(lf, {"url": SEED_URL})[0] == 504


@pytest.mark.parametrize("code, http_status", [
    ("ValidationError", 400),  # e.g. the endpoint does not exist (yet)
    ("ThrottlingException", 400),
    ("ModelNotReadyException", 429),
    ("ServiceUnavailable", 503),
    ("InternalFailure", 500),
    ("AccessDeniedException", 403),
])
def test_service_errors_are_502_and_never_leak_the_account(lf, stubber, code, http_status):
    stubber.add_client_error(
        "invoke_endpoint", service_error_code=code, http_status_code=http_status,
        service_message=f"Endpoint dog-breeds-endpoint of account {ACCOUNT_ID} not found. "
                        f"arn:aws:sagemaker:us-east-1:{ACCOUNT_ID}:endpoint/dog-breeds-endpoint")
    status, body = call(lf, {"url": SEED_URL}, FakeContext())
    assert status == 502 and body["error"] == "the model endpoint is unavailable"


@pytest.mark.parametrize("document", [
    b"not json at all",
    b"[" * 100_000,
    b"",
    {"predictions": []},
    {"predictions": "Carolina dog"},
    {"logits": [0.1, 0.2]},
    {"predictions": [{"label": 46, "probability": 0.9}]},
    {"predictions": [{"label": "Carolina dog", "probability": 1.5}]},
    {"predictions": [{"label": "Carolina dog", "probability": "0.9"}]},
    {"predictions": [{"label": "Carolina dog", "probability": True}]},
    {"predictions": [{"label": "046.___", "probability": 0.9}]},
    {"predictions": [{"label": "", "probability": 0.9}]},
    [{"label": "Carolina dog", "probability": 0.9}],
])
def test_invalid_endpoint_responses_are_502(lf, stubber, document):
    stubber.add_response("invoke_endpoint", endpoint_response(document))
    status, body = call(lf, {"url": SEED_URL})
    assert status == 502 and "invalid response" in body["error"]


def test_oversized_endpoint_response_is_502(lf, stubber):
    stubber.add_response("invoke_endpoint",
                         endpoint_response(b" " * (lf.MAX_RESPONSE_BYTES + 10)))
    status, body = call(lf, {"url": SEED_URL})
    assert status == 502 and "oversized" in body["error"]


# --- transport failures (raised by a hook where a real socket would raise them) --------------

def _raise_on_send(client, error):
    def hook(**_):
        raise error

    client.meta.events.register_first("before-send.sagemaker-runtime.InvokeEndpoint", hook)
    return lambda: client.meta.events.unregister(
        "before-send.sagemaker-runtime.InvokeEndpoint", hook)


@pytest.mark.parametrize("error, expected", [
    (ConnectTimeoutError(endpoint_url="https://runtime.sagemaker.us-east-1.amazonaws.com"), 504),
    (EndpointConnectionError(endpoint_url="https://runtime.sagemaker.us-east-1.amazonaws.com"),
     502),
])
def test_connection_failures(lf, monkeypatch, error, expected):
    fake_aws_env(monkeypatch, ENDPOINT_MAX_ATTEMPTS="1")  # one attempt: no retry back-off here
    client = lf.create_runtime_client()
    monkeypatch.setattr(lf, "RUNTIME", client)
    undo = _raise_on_send(client, error)
    try:
        status, _ = call(lf, {"url": SEED_URL})
    finally:
        undo()
    assert status == expected
