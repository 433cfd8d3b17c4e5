"""Property tests: whatever arrives, the handler answers a well-formed response and never raises."""

from __future__ import annotations

import base64
import binascii
import json

from botocore.stub import Stubber
from hypothesis import HealthCheck, given, settings
from hypothesis import event as event_note
from hypothesis import strategies as st
from lambda_helpers import (
    DOCUMENTED_ERRORS,
    SEED_URL,
    FakeContext,
    add_model_error,
    b64,
    endpoint_response,
    image_bytes,
    parse_response,
)

PROPERTY_SETTINGS = settings(max_examples=300, deadline=None,
                             suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                    HealthCheck.too_slow])
JPEG = image_bytes("JPEG")
PNG = image_bytes("PNG")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
urls = st.one_of(
    st.just(SEED_URL),
    st.text(max_size=60),
    st.builds(lambda scheme, rest: f"{scheme}://{rest}",
              st.sampled_from(["https", "http", "ftp", "file", "HTTPS", ""]),
              st.text(max_size=40)),
)
raw_images = st.one_of(st.just(JPEG), st.just(PNG), st.binary(max_size=64),
                       st.binary(max_size=32).map(lambda tail: b"\xff\xd8\xff" + tail))
images = st.one_of(raw_images.map(b64), st.text(max_size=60),
                   raw_images.map(lambda data: "data:image/png;base64," + b64(data)))
top_ks = st.one_of(st.none(), st.integers(-5, 30), st.text(max_size=4), st.floats(), st.booleans(),
                 st.text(st.characters(categories=("Nd", "No")), max_size=3))
documents = st.fixed_dictionaries({}, optional={"url": urls | json_values,
                                                "image": images | json_values,
                                                "top_k": top_ks})
content_types = st.one_of(st.none(), st.text(max_size=20), st.sampled_from([
    "application/json", "application/json; charset=utf-8", "image/jpeg", "image/png",
    "application/x-image", "application/octet-stream", "text/plain", "image/gif",
    "multipart/form-data; boundary=x"]))
bodies = st.one_of(
    st.none(), st.text(max_size=80), documents.map(json.dumps), json_values.map(json.dumps),
    raw_images.map(b64), st.binary(max_size=80).map(lambda data: base64.b64encode(data).decode()),
)


@st.composite
def http_events(draw) -> dict:
    event = {"version": "2.0", "rawPath": "/",
             "requestContext": draw(st.one_of(
                 st.just({"requestId": "req-1", "http": {"method": "POST"}}), json_values))}
    content_type = draw(content_types)
    header_name = draw(st.sampled_from(["content-type", "Content-Type", "CONTENT-TYPE"]))
    event["headers"] = draw(st.one_of(
        st.just({header_name: content_type} if content_type is not None else {}), json_values))
    event["body"] = draw(bodies | json_values)
    event["isBase64Encoded"] = draw(st.booleans() | json_values)
    if draw(st.booleans()):
        event["queryStringParameters"] = draw(st.one_of(
            st.fixed_dictionaries({"top_k": st.text(max_size=3)}), json_values))
    return event


# Mostly-valid requests too, so the endpoint-error and success paths get their share of examples.
plausible_documents = st.one_of(
    st.fixed_dictionaries(
        {"url": st.sampled_from([SEED_URL, "http://example.org/a.png?x=1", "https://h/p#f"])},
        optional={"top_k": st.integers(0, 12)}),
    st.fixed_dictionaries({"image": raw_images.map(b64)}, optional={"top_k": st.integers(0, 12)}),
)
plausible_http_events = st.one_of(
    plausible_documents.map(lambda doc: {"headers": {"content-type": "application/json"},
                                         "body": json.dumps(doc), "isBase64Encoded": False}),
    raw_images.map(lambda data: {"headers": {"content-type": "image/jpeg"}, "body": b64(data),
                                 "isBase64Encoded": True}),
)
events = st.one_of(plausible_documents, plausible_http_events, json_values, documents,
                   http_events())

valid_predictions = st.lists(
    st.fixed_dictionaries({"label": st.sampled_from(["046.Carolina_dog", "Akita", "001.x"]),
                           "probability": st.floats(0, 1)}), min_size=1, max_size=25,
).map(lambda items: {"predictions": items})
endpoint_outcomes = st.one_of(
    valid_predictions.map(lambda doc: ("valid", json.dumps(doc).encode())),
    json_values.map(lambda doc: ("ok", json.dumps(doc).encode())),
    st.binary(max_size=64).map(lambda raw: ("ok", raw)),
    st.tuples(st.integers(0, 599), st.text(max_size=80)).map(lambda e: ("model_error", e)),
)


def run_handler(lf, client, event, outcome) -> tuple[int, dict]:
    kind, value = outcome
    with Stubber(client) as stub:  # a fresh stub per example: unused responses are dropped
        if kind in ("ok", "valid"):
            stub.add_response("invoke_endpoint", endpoint_response(value))
        else:
            add_model_error(stub, *value)
        response = lf.lambda_handler(event, FakeContext())
    return parse_response(response)


@PROPERTY_SETTINGS
@given(event=events, outcome=endpoint_outcomes)
def test_any_event_gets_a_documented_answer(lf, stub_client, event, outcome):
    status, body = run_handler(lf, stub_client, event, outcome)
    event_note(f"status {status}")
    assert status == 200 or status in DOCUMENTED_ERRORS or (
        outcome[0] == "model_error" and status == outcome[1][0] and 400 <= status < 500)
    if status == 200:
        assert 1 <= len(body["predictions"]) <= 10


@PROPERTY_SETTINGS
@given(document=documents | plausible_documents, outcome=endpoint_outcomes)
def test_successful_answers_respect_top_k(lf, stub_client, document, outcome):
    status, body = run_handler(lf, stub_client, document, outcome)
    if status == 200:
        asked = document.get("top_k")
        limit = asked if isinstance(asked, int) and not isinstance(asked, bool) else 3
        assert len(body["predictions"]) <= limit
        assert all("_" not in p["label"] and p["label"] == p["label"].strip()
                   for p in body["predictions"])
        if outcome[0] == "valid":
            assert {p["label"] for p in body["predictions"]} <= {"Carolina dog", "Akita", "x"}


@PROPERTY_SETTINGS
@given(data=st.binary(max_size=256), content_type=content_types, encoded=st.booleans())
def test_arbitrary_bytes_in_an_http_body(lf, stub_client, data, content_type, encoded):
    body = base64.b64encode(data).decode() if encoded else data.decode("latin-1")
    event = {"headers": {"content-type": content_type} if content_type else {},
             "body": body, "isBase64Encoded": encoded}
    outcome = ("ok", json.dumps({"predictions": [{"label": "Akita", "probability": 1}]}).encode())
    status, _ = run_handler(lf, stub_client, event, outcome)
    assert status in {200, 400, 413, 415}


base64_texts = st.one_of(
    st.binary(max_size=40).map(b64),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= \t\r\n",
            max_size=40),
    st.binary(max_size=40).map(lambda data: base64.encodebytes(data).decode()),  # line-wrapped
    st.text(max_size=20),
)


@PROPERTY_SETTINGS
@given(text=base64_texts)
def test_fast_base64_check_agrees_with_strict_stdlib_decoding(lf, text):
    """The handler validates base64 without decoding it; it must accept exactly what a strict
    decoder accepts (after dropping line breaks), and the text must decode the same. One
    deliberate difference: CPython's strict mode lets a stray "=" follow a complete quantum
    ("0000="); RFC 4648 text is a multiple of 4 characters, so the handler refuses it."""
    compact = "".join(ch for ch in text if ch not in " \t\r\n\v\f")
    try:
        expected = binascii.a2b_base64(compact.encode("ascii"), strict_mode=True)
        stdlib_accepts = bool(compact) and len(compact) % 4 == 0
    except (binascii.Error, UnicodeEncodeError):
        stdlib_accepts = False
    try:
        raw = lf._clean_base64(text, "image")
    except lf.RequestError as error:
        assert error.status == 400
        assert not stdlib_accepts
    else:
        assert stdlib_accepts
        assert base64.b64decode(raw) == expected
