"""`invoke predict`: send an image (file or URL) to the deployed Lambda alias, print top breeds."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from dogops.backend import Backend
from dogops.errors import UserError

MAX_IMAGE_BYTES = 4 * 1024 * 1024  # base64 + JSON must stay under Lambda's 6 MB request cap


@dataclass
class Prediction:
    label: str
    probability: float


def build_payload(image: str | None, url: str | None, top_k: int | None) -> dict[str, object]:
    if (image is None) == (url is None):
        raise UserError("give exactly one of --image PATH or --url URL")
    payload: dict[str, object] = {}
    if image is not None:
        path = Path(image).expanduser()
        if not path.is_file():
            raise UserError(f"--image {image}: no such file")
        data = path.read_bytes()
        if len(data) > MAX_IMAGE_BYTES:
            raise UserError(f"--image {image} is {len(data)} bytes; the limit is "
                            f"{MAX_IMAGE_BYTES} (resize it, or host it and use --url)")
        payload["image"] = base64.b64encode(data).decode("ascii")
    else:
        if urlparse(url).scheme not in ("http", "https"):
            raise UserError(f"--url {url!r} must be an http(s) URL")
        payload["url"] = url
    if top_k is not None:
        if not 1 <= top_k <= 20:
            raise UserError("--top-k must be between 1 and 20")
        payload["top_k"] = top_k
    return payload


def parse_response(raw: bytes, function_error: str | None) -> list[Prediction]:
    """The Lambda's {"statusCode", "body"} answer -> predictions, or a UserError."""
    try:
        answer = json.loads(raw or b"{}")
    except json.JSONDecodeError:
        raise UserError("the Lambda returned something that is not JSON", 1) from None
    if function_error:
        message = answer.get("errorMessage", "unknown error") if isinstance(answer, dict) else ""
        raise UserError(f"the Lambda failed ({function_error}): {message}", 1)
    status = answer.get("statusCode")
    try:
        body = json.loads(answer.get("body") or "{}")
    except (TypeError, json.JSONDecodeError):
        raise UserError(f"the Lambda answered {status} with a body that is not JSON", 1) from None
    if status != 200:
        raise UserError(f"prediction failed ({status}): {body.get('error', 'no detail')}", 1)
    return [Prediction(str(p["label"]), float(p["probability"])) for p in body["predictions"]]


def predict(backend: Backend, image: str | None = None, url: str | None = None,
            top_k: int | None = None) -> list[Prediction]:
    return invoke_alias(backend, build_payload(image, url, top_k))


def invoke_alias(backend: Backend, payload: dict[str, object]) -> list[Prediction]:
    """Call the deployed Lambda alias with a request built by `build_payload`."""
    outputs = backend.outputs()
    alias = outputs.get("function_alias_arn")
    if not alias or not outputs.get("endpoint_name"):
        raise UserError(f"nothing deployed on --target {backend.target}: run `invoke deploy`")
    response = backend.client("lambda").invoke(FunctionName=str(alias),
                                                Payload=json.dumps(payload).encode())
    try:
        return parse_response(response["Payload"].read(), response.get("FunctionError"))
    except UserError as err:
        hint = local_host_hint(backend, str(outputs["endpoint_name"]))
        if hint:
            raise UserError(f"{err.message}\n{hint}", err.exit_code) from None
        raise


def local_host_hint(backend: Backend, endpoint_name: str) -> str | None:
    """On the local target, say so when the endpoint's host process is not running."""
    if not backend.is_local:
        return None
    from dogops import config
    from dogops.local_aws import endpoint_host

    if endpoint_host.host_info(endpoint_name, config.paths("local").state_dir) is not None:
        return None
    return (f"the local endpoint host for {endpoint_name} is not running (stopped or killed): "
            "run `invoke deploy` to start it again")


def format_predictions(predictions: list[Prediction]) -> str:
    width = max((len(p.label) for p in predictions), default=0)
    return "\n".join(f"{p.label:<{width}}  {p.probability:6.1%}" for p in predictions)
