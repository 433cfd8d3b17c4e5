"""Every accepted input form reaches the endpoint as the documented JSON request."""

from __future__ import annotations

import json
import logging

import pytest
from lambda_helpers import (
    ACCOUNT_ID,
    SEED_URL,
    FakeContext,
    add_prediction,
    b64,
    http_event,
    image_bytes,
    parse_response,
    url_body,
)


def test_seed_url_event_returns_readable_top_k(lf, stubber):
    add_prediction(stubber, expected_body=url_body(3))
    status, body = parse_response(lf.lambda_handler({"url": SEED_URL}, FakeContext()))
    assert status == 200
    assert body["predictions"] == [
        {"label": "Carolina dog", "probability": 0.93},
        {"label": "Basenji", "probability": 0.04},
        {"label": "Akita", "probability": 0.02},
    ]
    assert body["request_id"] == FakeContext.aws_request_id


def test_context_and_account_never_reach_the_caller(lf, stubber):
    add_prediction(stubber)
    response = lf.lambda_handler({"url": SEED_URL}, FakeContext())
    text = json.dumps(response)
    assert ACCOUNT_ID not in text and "arn:aws" not in text and "LambdaContext" not in text


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_direct_base64_image(lf, stubber, fmt):
    encoded = b64(image_bytes(fmt))
    add_prediction(stubber, expected_body={"image": encoded, "top_k": 3})
    status, _ = parse_response(lf.lambda_handler({"image": encoded}, None))
    assert status == 200


def test_data_url_and_line_wrapped_base64_are_accepted(lf, stubber):
    encoded = b64(image_bytes("JPEG", size=64))
    wrapped = "\n".join(encoded[i:i + 76] for i in range(0, len(encoded), 76))
    add_prediction(stubber, expected_body={"image": encoded, "top_k": 3})
    add_prediction(stubber, expected_body={"image": encoded, "top_k": 3})
    assert parse_response(lf.lambda_handler({"image": wrapped}, None))[0] == 200
    event = {"image": "data:image/jpeg;base64," + encoded}
    assert parse_response(lf.lambda_handler(event, None))[0] == 200


def test_function_url_json_body(lf, stubber):
    add_prediction(stubber, expected_body=url_body(2))
    event = http_event(json.dumps({"url": SEED_URL, "top_k": 2}),
                       content_type="application/json; charset=utf-8")
    status, body = parse_response(lf.lambda_handler(event, FakeContext()))
    assert status == 200 and len(body["predictions"]) == 2


def test_function_url_json_body_base64_encoded_and_no_content_type(lf, stubber):
    add_prediction(stubber, expected_body=url_body(3))
    event = http_event(b64(json.dumps({"url": SEED_URL}).encode()), content_type=None,
                       base64_encoded=True)
    assert parse_response(lf.lambda_handler(event, None))[0] == 200


@pytest.mark.parametrize("content_type", ["image/jpeg", "image/png", "application/x-image",
                                          "application/octet-stream"])
def test_function_url_binary_image(lf, stubber, content_type):
    data = image_bytes("PNG" if content_type == "image/png" else "JPEG")
    add_prediction(stubber, expected_body={"image": b64(data), "top_k": 5})
    event = http_event(b64(data), content_type=content_type, base64_encoded=True,
                       query={"top_k": "5"})
    status, body = parse_response(lf.lambda_handler(event, None))
    assert status == 200
    assert body["request_id"] == "http-req-1"  # from requestContext when there is no context


def test_api_gateway_style_mixed_case_headers(lf, stubber):
    data = image_bytes("JPEG")
    add_prediction(stubber, expected_body={"image": b64(data), "top_k": 3})
    event = {"httpMethod": "POST", "headers": {"Content-Type": "image/jpeg"},
             "body": b64(data), "isBase64Encoded": True}
    assert parse_response(lf.lambda_handler(event, None))[0] == 200


def test_top_k_default_and_bounds_come_from_environment(lf, stubber, monkeypatch):
    monkeypatch.setenv("TOP_K", "1")
    monkeypatch.setenv("MAX_TOP_K", "20")
    add_prediction(stubber, ("001.Affenpinscher", 0.5), ("Akita", 0.3),
                   expected_body=url_body(1))
    status, body = parse_response(lf.lambda_handler({"url": SEED_URL}, None))
    assert status == 200 and body["predictions"] == [{"label": "Affenpinscher",
                                                      "probability": 0.5}]
    add_prediction(stubber, expected_body=url_body(20))
    assert parse_response(lf.lambda_handler({"url": SEED_URL, "top_k": 20}, None))[0] == 200


def test_endpoint_returning_more_than_top_k_is_truncated(lf, stubber):
    pairs = [(f"{i:03d}.Breed_{i}", 0.1) for i in range(1, 8)]
    add_prediction(stubber, *pairs)
    status, body = parse_response(lf.lambda_handler({"url": SEED_URL, "top_k": 2}, None))
    assert status == 200
    assert [p["label"] for p in body["predictions"]] == ["Breed 1", "Breed 2"]


@pytest.mark.parametrize("raw, readable", [
    ("046.Carolina_dog", "Carolina dog"),
    ("001.Affenpinscher", "Affenpinscher"),
    ("Carolina dog", "Carolina dog"),
    ("124.Poodle__toy", "Poodle toy"),
    ("007", "007"),
])
def test_readable_label(lf, raw, readable):
    assert lf.readable_label(raw) == readable


def test_one_structured_log_line_without_secrets(lf, stubber, caplog):
    add_prediction(stubber)
    add_prediction(stubber)
    url = "https://example.org/dog.jpg?X-Amz-Signature=secret-token"
    image = b64(image_bytes("JPEG"))
    with caplog.at_level(logging.INFO, logger="lambda_function"):
        lf.lambda_handler({"url": url}, FakeContext())
        lf.lambda_handler({"image": image}, FakeContext())
    records = [r for r in caplog.records if r.name == "lambda_function"]
    assert len(records) == 2
    first, second = (json.loads(r.getMessage()) for r in records)
    assert first["request_id"] == FakeContext.aws_request_id
    assert first["status"] == 200 and first["endpoint"] == "dog-breeds-endpoint"
    assert first["input"] == "direct:url" and first["url_host"] == "example.org"
    assert isinstance(first["latency_ms"], float)
    assert second["input"] == "direct:image" and second["image_bytes"] > 0
    logged = caplog.text
    assert "secret-token" not in logged and image[:40] not in logged
    assert ACCOUNT_ID not in logged


@pytest.mark.parametrize("url", ["https://93.184.216.34/dog.jpg", "HTTP://Example.org/dog.jpg",
                                 "https://xn--hund-4qa.example/b%C3%A4r.png?size=large#top"])
def test_public_urls_pass_through_unchanged(lf, stubber, url):
    add_prediction(stubber, expected_body=url_body(3))
    assert parse_response(lf.lambda_handler({"url": url}, None))[0] == 200
