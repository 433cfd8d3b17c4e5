"""Front door to the dog-breed endpoint: validate the request, call SageMaker, answer in JSON.

Accepted events (see docs/lambda.md):
  {"url": "https://..."} or {"image": "<base64 JPEG/PNG>"} (+ optional "top_k"), invoked directly;
  Lambda function URL / API Gateway HTTP events whose body is that JSON, or a raw JPEG/PNG
  (base64-encoded by the service) with an image content type; ?top_k=N works there too.

Every answer is {"statusCode", "headers", "body"} with a JSON body: 200 with predictions, or
400/413/415/500/502/504 (or a 4xx the model itself returned) with {"error", "request_id"}.
Stdlib + boto3 only (url_fetch.py too): the Lambda runtime ships boto3, so the zip stays a few KB.
{"url": ...} is downloaded here (SSRF-guarded, url_fetch.py) and sent on as the image: the model
runs with network isolation.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import math
import os
import re
import time
from urllib.parse import urlsplit

import boto3

# The endpoint's SSRF-guarded downloader, the same file (a symlink to
# training/classifier/url_fetch.py): the model runs with network isolation, so urls are
# downloaded here and the endpoint gets the image.
import url_fetch
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    ReadTimeoutError,
)

LOGGER = logging.getLogger("lambda_function")
LOGGER.setLevel(logging.INFO)

# SageMaker InvokeEndpoint and synchronous Lambda payloads are both capped at 6 MB.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
# A base64 image inside the JSON we send grows by 4/3; keep the request under the cap.
MAX_IMAGE_BYTES = (MAX_PAYLOAD_BYTES - 256) * 3 // 4
MAX_URL_LENGTH = 2048
MAX_RESPONSE_BYTES = 1024 * 1024
ENDPOINT_TOP_K_LIMIT = 20  # the endpoint accepts top_k in 1..20

JSON_TYPES = {"application/json"}
IMAGE_TYPES = {"image/jpeg", "image/jpg", "image/png", "application/x-image",
               "application/octet-stream"}
IMAGE_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")  # JPEG, PNG
B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
B64_WHITESPACE = b" \t\r\n\v\f"

ENDPOINT_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9-]{1,64}$")
CLASS_PREFIX_PATTERN = re.compile(r"^\s*\d+\.(?=\S)")
DATA_URL_PREFIX_PATTERN = re.compile(r"^data:image/[a-z0-9.+-]+;base64,", re.IGNORECASE)

GENERIC_MODEL_MESSAGES = {
    400: "the model could not process the input",
    413: "the input is too large for the model",
    415: "the model does not accept this media type",
}


def _env_number(name: str, default: float, low: float, high: float) -> float:
    """A bounded number from the environment; out-of-range values fall back to the default."""
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if low <= value <= high else default


def create_runtime_client():
    """The one sagemaker-runtime client: explicit timeouts, bounded retries.

    Worst case with the defaults: 2 attempts x (2 s connect + 12 s read) + backoff, after at most
    8 s of url download, < 40 s, the function's default timeout. AWS_ENDPOINT_URL (read by
    boto3 itself) points it at the emulator.
    """
    config = Config(
        connect_timeout=_env_number("ENDPOINT_CONNECT_TIMEOUT_S", 2, 0.1, 60),
        read_timeout=_env_number("ENDPOINT_READ_TIMEOUT_S", 12, 0.1, 60),
        retries={"total_max_attempts": int(_env_number("ENDPOINT_MAX_ATTEMPTS", 2, 1, 3)),
                 "mode": "standard"},
        tcp_keepalive=True,
    )
    return boto3.client("sagemaker-runtime", config=config)


try:  # created once per execution environment (and captured by SnapStart)
    RUNTIME = create_runtime_client()
    RUNTIME_INIT_ERROR: str | None = None
except (BotoCoreError, ValueError) as init_error:  # e.g. no region outside Lambda
    RUNTIME = None
    RUNTIME_INIT_ERROR = type(init_error).__name__


class RequestError(Exception):
    """A failure with the status and message the caller should see."""

    def __init__(self, status: int, message: str, reason: str):
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason  # short machine-readable cause, for the log line


# --- configuration -----------------------------------------------------------------------------

def _small_int(text: str) -> int | None:
    """"12" -> 12; None for anything else (str.isdigit alone admits "²" and 5,000-digit runs)."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 6 else None


def _positive_int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    value = _small_int(raw)
    if value is None or value < 1:
        raise RequestError(500, f"the function is misconfigured: {name} must be a positive "
                                "integer", "config")
    return value


def _settings() -> tuple[str, int, int]:
    """Read per request so a changed environment needs no code change; it costs microseconds."""
    endpoint = os.environ.get("ENDPOINT_NAME", "").strip()
    if not endpoint:
        raise RequestError(500, "the function is misconfigured: ENDPOINT_NAME is not set",
                           "config")
    if not ENDPOINT_NAME_PATTERN.match(endpoint):
        raise RequestError(500, "the function is misconfigured: ENDPOINT_NAME is not a valid "
                                "endpoint name", "config")
    default_k = _positive_int_env("TOP_K", 3)
    max_k = _positive_int_env("MAX_TOP_K", 10)
    if max_k > ENDPOINT_TOP_K_LIMIT or default_k > max_k:
        raise RequestError(500, "the function is misconfigured: need TOP_K <= MAX_TOP_K <= "
                                f"{ENDPOINT_TOP_K_LIMIT}", "config")
    return endpoint, default_k, max_k


# --- request parsing ---------------------------------------------------------------------------

def _is_http_event(event: dict) -> bool:
    return any(key in event for key in ("requestContext", "body", "headers", "rawPath",
                                        "httpMethod"))


def _media_type(headers: object) -> str:
    if not isinstance(headers, dict):
        return ""
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == "content-type" and isinstance(value, str):
            return value.split(";", 1)[0].strip().lower()
    return ""


def _query_top_k(event: dict) -> object:
    params = event.get("queryStringParameters")
    if isinstance(params, dict) and "top_k" in params:
        return params["top_k"]
    return None


def _http_body(event: dict) -> str:
    body = event.get("body")
    if body is None or body == "":
        raise RequestError(400, "the request body is empty: send JSON {\"url\": ...} or "
                                "{\"image\": ...}, or a JPEG/PNG image", "empty_body")
    if not isinstance(body, str):
        raise RequestError(400, "the request body must be a string", "bad_body")
    # base64 text is 4/3 of the bytes; refuse oversized bodies before looking inside
    if len(body) > MAX_PAYLOAD_BYTES * 4 // 3 + 4:
        raise RequestError(413, f"the request body is larger than {_size(MAX_PAYLOAD_BYTES)}",
                           "too_large")
    return body


def _http_body_bytes(event: dict) -> bytes:
    body = _http_body(event)
    if event.get("isBase64Encoded") is True:
        return base64.b64decode(_clean_base64(body, "the request body"))
    return body.encode("utf-8", "surrogatepass")


def _parse_json_object(raw: bytes) -> dict:
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise RequestError(413, f"the request body is larger than {_size(MAX_PAYLOAD_BYTES)}",
                           "too_large")
    try:
        document = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise RequestError(400, "the request body is not UTF-8 text", "bad_json") from None
    except ValueError as error:  # the decoder's message names a position, never the content
        raise RequestError(400, f"the request body is not valid JSON ({error})",
                           "bad_json") from None
    except RecursionError:
        raise RequestError(400, "the request body is nested too deeply", "bad_json") from None
    if not isinstance(document, dict):
        raise RequestError(400, "the JSON body must be an object with \"url\" or \"image\"",
                           "bad_json")
    return document


def _validated_url(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RequestError(400, "\"url\" must be a non-empty string", "bad_url")
    url = value.strip()
    if len(url) > MAX_URL_LENGTH:
        raise RequestError(400, f"\"url\" is longer than {MAX_URL_LENGTH} characters", "bad_url")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise RequestError(400, "\"url\" must not contain spaces or control characters",
                           "bad_url")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise RequestError(400, "\"url\" is not a valid URL", "bad_url") from None
    if parts.scheme.lower() not in ("https", "http"):
        raise RequestError(400, "\"url\" must start with https:// or http://", "bad_url")
    if not parts.hostname:
        raise RequestError(400, "\"url\" has no host name", "bad_url")
    if parts.username is not None or parts.password is not None:
        raise RequestError(400, "\"url\" must not contain credentials", "bad_url")
    if not _is_public_host(parts.hostname):
        raise RequestError(400, "\"url\" must point to a public host", "bad_url")
    return url


def _is_public_host(hostname: str) -> bool:
    """Refuse the obvious internal targets early (the endpoint re-checks after DNS resolution)."""
    host = hostname.rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return False
    try:
        return ipaddress.ip_address(host).is_global
    except ValueError:
        return True  # a name, not an address literal


def _clean_base64(text: str, what: str) -> bytes:
    """Checked base64 text, line breaks dropped, without decoding it.

    A C-speed alphabet and padding check instead of a full decode: the text goes to the endpoint
    as it is, so only its first bytes (the image signature) ever need decoding here.
    """
    invalid = RequestError(400, f"{what} is not valid base64", "bad_base64")
    if not text.isascii():
        raise invalid
    raw = text.encode("ascii")
    if raw.translate(None, B64_ALPHABET + b"="):  # more than the alphabet: maybe line breaks
        raw = raw.translate(None, B64_WHITESPACE)
        if raw.translate(None, B64_ALPHABET + b"="):
            raise invalid
    data = raw.rstrip(b"=")
    if not raw or len(raw) % 4 or len(raw) - len(data) > 2 or b"=" in data:
        raise invalid
    return raw


def _check_image(head: bytes, size: int) -> None:
    if size == 0:
        raise RequestError(400, "the image is empty", "empty_image")
    if size > MAX_IMAGE_BYTES:
        raise RequestError(413, f"the image is {_size(size)}; the limit is "
                                f"{_size(MAX_IMAGE_BYTES)}", "too_large")
    if not head.startswith(IMAGE_SIGNATURES):
        raise RequestError(415, "the image must be a JPEG or PNG", "unsupported_image")


def _checked_base64_image(raw: bytes) -> int:
    """Size and signature checks on clean base64; returns the image's size in bytes."""
    size = len(raw) // 4 * 3 - (len(raw) - len(raw.rstrip(b"=")))
    _check_image(base64.b64decode(raw[:12]), size)
    return size


def _image_from_base64(value: object) -> tuple[bytes, int]:
    """The "image" field: clean base64 (reused as is) and the image's size."""
    if not isinstance(value, str) or not value.strip():
        raise RequestError(400, "\"image\" must be a non-empty base64 string", "bad_image")
    text = value.strip()
    prefix = DATA_URL_PREFIX_PATTERN.match(text)
    if prefix:
        text = text[prefix.end():]
    if len(text) > MAX_IMAGE_BYTES * 4 // 3 + 4 + len(text) // 76 * 2:  # + line breaks
        raise RequestError(413, f"the image is larger than {_size(MAX_IMAGE_BYTES)}", "too_large")
    raw = _clean_base64(text, "\"image\"")
    return raw, _checked_base64_image(raw)


def _http_image(event: dict) -> tuple[bytes, int]:
    """A raw image body (function URLs base64-encode binary bodies): base64 text and size."""
    body = _http_body(event)
    if event.get("isBase64Encoded") is True:
        raw = _clean_base64(body, "the request body")
        return raw, _checked_base64_image(raw)
    data = body.encode("utf-8", "surrogatepass")
    _check_image(data[:16], len(data))
    return base64.b64encode(data), len(data)


def _top_k(value: object, default_k: int, max_k: int) -> int:
    if value is None:
        return default_k
    if isinstance(value, str) and _small_int(value) is not None:
        value = _small_int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= max_k:
        raise RequestError(400, f"\"top_k\" must be an integer from 1 to {max_k}", "bad_top_k")
    return value


def _document_request(document: dict, top_k: int, info: dict) -> bytes:
    has_url, has_image = "url" in document, "image" in document
    if has_url == has_image:
        raise RequestError(400, "send exactly one of \"url\" or \"image\"", "bad_request")
    if has_url:
        url = _validated_url(document["url"])
        info["input"] += "url"
        info["url_host"] = urlsplit(url).hostname
        image = download_image(url)
        info["image_bytes"] = len(image)
        return _image_request(base64.b64encode(image), top_k)
    raw, size = _image_from_base64(document["image"])
    info["input"] += "image"
    info["image_bytes"] = size
    return _image_request(raw, top_k)


def download_image(url: str) -> bytes:
    """The image at a vetted url: public addresses only (checked again after every DNS answer
    and redirect), bounded size and time; 400/413/415/502/504 as the endpoint used to answer."""
    limits = url_fetch.Limits(
        max_image_bytes=MAX_IMAGE_BYTES,
        download_timeout_s=_env_number("URL_DOWNLOAD_TIMEOUT_S", 8, 1, 60),
        connect_timeout_s=_env_number("URL_CONNECT_TIMEOUT_S", 3, 0.1, 30),
    )
    try:
        image = url_fetch.fetch_url(url, limits)
    except url_fetch.FetchError as error:
        raise RequestError(error.status_code, f"the image url: {error.error}",
                           "url_fetch") from None
    _check_image(image[:16], len(image))
    return image


def _image_request(raw_base64: bytes, top_k: int) -> bytes:
    # Clean base64 needs no JSON escaping: splice it in rather than re-encode megabytes.
    return _request_bytes(b"".join((b'{"image": "', raw_base64, b'", "top_k": ',
                                    str(top_k).encode("ascii"), b"}")))


def _request_bytes(body: bytes) -> bytes:
    if len(body) > MAX_PAYLOAD_BYTES:
        raise RequestError(413, f"the request is larger than {_size(MAX_PAYLOAD_BYTES)}",
                           "too_large")
    return body


def build_endpoint_payload(event: object, default_k: int, max_k: int, info: dict) -> bytes:
    """Turn any supported event into the endpoint's JSON request (DESIGN.md, Endpoint).

    Notes what kind of input it was (and the top_k asked for) in `info`, for the log line.
    """
    if not isinstance(event, dict):
        raise RequestError(400, "the event must be a JSON object", "bad_event")
    if not _is_http_event(event):
        info["input"] = "direct:"
        info["top_k"] = _top_k(event.get("top_k"), default_k, max_k)
        return _document_request(event, info["top_k"], info)

    info["input"] = "http:"
    media_type = _media_type(event.get("headers"))
    query_k = _query_top_k(event)
    if media_type in IMAGE_TYPES:
        raw, size = _http_image(event)
        info["input"] += "binary"
        info["image_bytes"] = size
        info["top_k"] = _top_k(query_k, default_k, max_k)
        return _image_request(raw, info["top_k"])
    if media_type and media_type not in JSON_TYPES:
        raise RequestError(415, f"unsupported content type {media_type[:60]!r}: send "
                                "application/json, image/jpeg or image/png", "unsupported_type")
    document = _parse_json_object(_http_body_bytes(event))
    info["top_k"] = _top_k(document.get("top_k", query_k), default_k, max_k)
    return _document_request(document, info["top_k"], info)


# --- endpoint call -----------------------------------------------------------------------------

def _model_message(original: object, status: int) -> str:
    """The endpoint's short JSON message ({"error", "status"}) without any appended traceback."""
    if isinstance(original, str):
        try:
            document, _ = json.JSONDecoder().raw_decode(original.strip())
        except ValueError:
            document = None
        if isinstance(document, dict) and isinstance(document.get("error"), str):
            return _clip(document["error"])
    return GENERIC_MODEL_MESSAGES.get(status, "the model rejected the request")


def _error_from_client_error(error: ClientError, info: dict) -> RequestError:
    details = error.response.get("Error", {})
    code = str(details.get("Code", "Unknown"))[:64]
    info["endpoint_error"] = code
    if code == "ModelError":
        original_status = error.response.get("OriginalStatusCode")
        info["model_status"] = original_status
        if isinstance(original_status, int) and 400 <= original_status < 500:
            message = _model_message(error.response.get("OriginalMessage"), original_status)
            return RequestError(original_status, message, "model_rejected")
        if original_status == 504 or "timed out" in str(details.get("Message", "")).lower():
            return RequestError(504, "the model endpoint timed out", "model_timeout")
        return RequestError(502, "the model endpoint failed to process the request",
                            "model_error")
    # Endpoint missing, throttled, not ready, access denied...: the raw message can carry the
    # account id and ARNs, so the caller gets a fixed sentence and the log keeps the code.
    return RequestError(502, "the model endpoint is unavailable", "endpoint_unavailable")


def _check_runtime(info: dict) -> None:
    if RUNTIME is None:
        info["endpoint_error"] = RUNTIME_INIT_ERROR
        raise RequestError(500, "the function is misconfigured: no AWS region for the "
                                "SageMaker runtime client", "config")


def invoke_endpoint(endpoint: str, payload: bytes, info: dict) -> dict:
    _check_runtime(info)
    try:
        response = RUNTIME.invoke_endpoint(EndpointName=endpoint, ContentType="application/json",
                                           Accept="application/json", Body=payload)
        raw = response["Body"].read(MAX_RESPONSE_BYTES + 1)
    except ClientError as error:
        raise _error_from_client_error(error, info) from None
    except (ConnectTimeoutError, ReadTimeoutError):
        raise RequestError(504, "the model endpoint timed out", "timeout") from None
    except BotoCoreError as error:
        info["endpoint_error"] = type(error).__name__
        raise RequestError(502, "the model endpoint could not be reached",
                           "endpoint_unreachable") from None
    if len(raw) > MAX_RESPONSE_BYTES:
        raise RequestError(502, "the model endpoint returned an oversized response",
                           "bad_response")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise RequestError(502, "the model endpoint returned an invalid response",
                           "bad_response") from None


# --- response ----------------------------------------------------------------------------------

def readable_label(label: str) -> str:
    """"046.Carolina_dog" -> "Carolina dog" (the endpoint already does this; be defensive)."""
    return " ".join(CLASS_PREFIX_PATTERN.sub("", label).replace("_", " ").split())


def parse_predictions(document: object, top_k: int) -> list[dict]:
    invalid = RequestError(502, "the model endpoint returned an invalid response",
                           "bad_response")
    predictions = document.get("predictions") if isinstance(document, dict) else None
    if not isinstance(predictions, list) or not predictions:
        raise invalid
    parsed = []
    for item in predictions[:top_k]:
        if not isinstance(item, dict):
            raise invalid
        label, probability = item.get("label"), item.get("probability")
        if (not isinstance(label, str) or isinstance(probability, bool)
                or not isinstance(probability, (int, float))
                or not math.isfinite(probability) or not 0 <= probability <= 1):
            raise invalid
        name = readable_label(label)
        if not name:
            raise invalid
        parsed.append({"label": name[:200], "probability": float(probability)})
    return parsed


def _response(status: int, body: dict) -> dict:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"},
            "body": json.dumps(body)}


def _request_id(event: object, context: object) -> str:
    candidates = [getattr(context, "aws_request_id", None)]
    if isinstance(event, dict) and isinstance(event.get("requestContext"), dict):
        candidates.append(event["requestContext"].get("requestId"))
    for candidate in candidates:
        if isinstance(candidate, str) and REQUEST_ID_PATTERN.match(candidate):
            return candidate
    return "local-" + os.urandom(8).hex()


def _clip(text: str, limit: int = 300) -> str:
    printable = "".join(ch if ch.isprintable() else " " for ch in text[:limit])
    return printable.strip() or "the model rejected the request"


def _size(size: int) -> str:
    return f"{size:,} bytes"


def lambda_handler(event, context):
    """Entry point: always returns a proxy response with a JSON body, never raises."""
    started = time.perf_counter()
    request_id = _request_id(event, context)
    info: dict = {"input": "unknown"}
    endpoint = None
    try:
        endpoint, default_k, max_k = _settings()
        _check_runtime(info)  # before any url download: a misconfigured function fetches nothing
        payload = build_endpoint_payload(event, default_k, max_k, info)
        result = invoke_endpoint(endpoint, payload, info)
        predictions = parse_predictions(result, info["top_k"])
        status, body = 200, {"predictions": predictions, "request_id": request_id}
    except RequestError as error:
        info["reason"] = error.reason
        status, body = error.status, {"error": error.message, "request_id": request_id}
    except Exception as error:  # noqa: BLE001 - the caller must never see a traceback
        info["reason"] = "internal:" + type(error).__name__
        status, body = 500, {"error": "internal error", "request_id": request_id}
    _log_request(request_id, status, started, endpoint, info)
    return _response(status, body)


def _log_request(request_id: str, status: int, started: float, endpoint, info: dict) -> None:
    record = {"request_id": request_id, "status": status,
              "latency_ms": round((time.perf_counter() - started) * 1000, 2),
              "endpoint": endpoint, **info}
    LOGGER.info(json.dumps(record, default=str))
