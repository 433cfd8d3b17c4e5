"""SageMaker PyTorch serving handlers for the dog-breed classifier.

Request: image/jpeg, image/png, application/x-image (raw bytes) or application/json with
{"url": "https://..."} or {"image": "<base64>"}, optional "top_k" (1..20) and "return_logits".
Under network isolation (DOGOPS_NETWORK_ISOLATION=true, the Terraform default) a "url" is a 400:
the Lambda front door downloads it and sends the image.
Response: {"predictions": [{"label", "probability"}, ...]} (+ "logits" when asked).
Every bad request raises InferenceError(status, message) with a short JSON message.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import json
import logging
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # classifier/ sits beside this file

import numpy as np
import torch
from classifier import artifacts, cpu
from classifier.model import build_model
from classifier.preprocess import prepare_image, resize_size_for
from classifier.serving_errors import InferenceError
from classifier.url_fetch import LIMITS, FetchError, Limits, fetch_url
from PIL import Image, UnidentifiedImageError

log = logging.getLogger(__name__)


JSON = "application/json"
IMAGE_TYPES = ("image/jpeg", "image/png", "application/x-image")
ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP", "BMP", "GIF"}
MAX_TOP_K = 20
# Set by Terraform in the model's environment (the SageMaker model name); echoed in answers.
MODEL_VERSION = os.environ.get("MODEL_VERSION", "")
# Set by Terraform (endpoint module, network_isolation): the container has no network, so it
# cannot download {"url": ...} images; the Lambda front door downloads them and sends the bytes.
NETWORK_ISOLATED = os.environ.get("DOGOPS_NETWORK_ISOLATION", "").strip().lower() == "true"
Image.MAX_IMAGE_PIXELS = LIMITS.max_pixels  # PIL's own bomb guard as a second line


# ---------------------------------------------------------------------------------------------
# Request decoding


@dataclass
class ImageRequest:
    image: torch.Tensor  # uint8 3xHxW RGB
    top_k: int | None = None
    return_logits: bool = False


# Shorter side a JPEG needs for the loaded model(s) (set by model_fn; 0 = decode at full size).
# libjpeg can decode at 1/2, 1/4 or 1/8 scale in the DCT ("draft" mode), several times faster
# than a full decode followed by a resize; the result stays at least this large, so the resize
# that follows only ever shrinks. Pixels differ slightly from a full decode: the accuracy effect
# is measured by bench.serving_accuracy. DOGOPS_JPEG_DRAFT=0 turns it off.
_draft_side = 0


@contextlib.contextmanager
def preprocessing_threads(threads: int):
    """Run torch work in this block on ``threads`` threads (0: torch's own setting), restoring
    the caller's setting after. Cheap (well under a microsecond); under OpenMP other threads that
    already ran torch work keep their own setting."""
    previous = torch.get_num_threads()
    if not threads or threads == previous:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def decode_image(payload: bytes, limits: Limits = LIMITS, draft_side: int = 0) -> torch.Tensor:
    """Image bytes -> uint8 3xHxW RGB tensor; refuses bombs before decoding any pixels. A JPEG
    is decoded at a reduced scale whose shorter side stays >= ``draft_side`` (0: full size)."""
    if len(payload) > limits.max_image_bytes:
        raise InferenceError(413, "image is too large")
    if not payload:
        raise InferenceError(400, "empty image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(payload))
            if image.format not in ALLOWED_FORMATS:
                raise InferenceError(400, f"unsupported image format {image.format}")
            width, height = image.size  # from the header: nothing decoded yet
            if width * height > limits.max_pixels:
                raise InferenceError(413, f"image has too many pixels ({width}x{height})")
            if draft_side and image.format == "JPEG":
                image.draft("RGB", (draft_side, draft_side))  # picks a scale, decodes nothing
            image = image.convert("RGB")  # decodes; GIF: first frame
    except InferenceError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InferenceError(413, "image has too many pixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise InferenceError(400, "could not decode image") from None
    if min(image.size) < 1:
        raise InferenceError(400, "image is empty")
    # HWC memory seen as CHW, no copy: preprocessing resizes channels-last uint8 pixels fastest
    return torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1)


def _parse_top_k(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TOP_K:
        raise InferenceError(400, f"top_k must be an integer from 1 to {MAX_TOP_K}")
    return value


def _decode_json(body: str | bytes, limits: Limits) -> ImageRequest:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InferenceError(400, "body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise InferenceError(400, "JSON body must be an object")
    has_url, has_image = "url" in payload, "image" in payload
    if has_url == has_image:
        raise InferenceError(400, 'JSON body needs exactly one of "url" or "image"')
    top_k = _parse_top_k(payload["top_k"]) if payload.get("top_k") is not None else None
    return_logits = payload.get("return_logits", False)
    if not isinstance(return_logits, bool):
        raise InferenceError(400, "return_logits must be true or false")
    if has_url:
        if not isinstance(payload["url"], str) or len(payload["url"]) > 2048:
            raise InferenceError(400, "url must be a string of at most 2048 characters")
        if NETWORK_ISOLATED:
            raise InferenceError(
                400,
                "this endpoint has no network access and cannot download a url: send the image "
                'itself (image bytes, or {"image": "<base64>"}), or call the Lambda front door, '
                "which downloads urls",
            )
        try:
            image_bytes = fetch_url(payload["url"].strip(), limits)
        except FetchError as error:
            raise InferenceError(error.status_code, error.error) from None
    else:
        if not isinstance(payload["image"], str):
            raise InferenceError(400, "image must be a base64 string")
        try:
            image_bytes = base64.b64decode(payload["image"], validate=True)
        except (binascii.Error, ValueError):
            raise InferenceError(400, "image is not valid base64") from None
    return ImageRequest(decode_image(image_bytes, limits, _draft_side), top_k, return_logits)


def input_fn(request_body, request_content_type=None, context=None) -> ImageRequest:
    content_type = (request_content_type or "").split(";", 1)[0].strip().lower()
    if content_type not in IMAGE_TYPES and content_type != JSON:
        raise InferenceError(
            415,
            f"unsupported content type {content_type or '(none)'!r}; "
            f"use {', '.join(IMAGE_TYPES)} or {JSON}",
        )
    if isinstance(request_body, bytearray):
        request_body = bytes(request_body)
    if not isinstance(request_body, (bytes, str)):
        raise InferenceError(400, "empty or unreadable body")
    if len(request_body) > LIMITS.max_body_bytes:
        raise InferenceError(413, "request body is too large")
    if content_type == JSON:
        return _decode_json(request_body, LIMITS)
    if isinstance(request_body, str):  # a text body for an image type is not an image
        raise InferenceError(400, "could not decode image")
    return ImageRequest(decode_image(request_body, LIMITS, _draft_side))


# ---------------------------------------------------------------------------------------------
# Model


class ServingModel:
    """Loaded classifier: ONNX Runtime on CPU when model.onnx is present and verified (its int8
    version when training's accuracy gate kept it and this CPU can run it: :func:`int8_refusal`),
    else eager PyTorch (channels_last, inference mode)."""

    def __init__(
        self,
        config: dict,
        torch_model: torch.nn.Module,
        device: torch.device,
        onnx_session=None,
        precision: str = "float32",
    ):
        self.config = config
        self.labels = list(config["labels"])
        self.image_size = int(config["image_size"])
        self.mean = tuple(config["mean"])
        self.std = tuple(config["std"])
        self.default_top_k = int(config.get("top_k", 3))
        self.torch_model = torch_model
        self.device = device
        self.onnx_session = onnx_session
        self.backend = "onnxruntime" if onnx_session is not None else "torch"
        self.precision = precision if onnx_session is not None else "float32"
        self.int8_refused: str | None = None  # why int8 is not served, when training wrote one

    def logits(self, batch: torch.Tensor) -> torch.Tensor:
        if self.onnx_session is not None:
            name = self.onnx_session.get_inputs()[0].name
            return torch.from_numpy(self.onnx_session.run(None, {name: batch.numpy()})[0])
        batch = batch.to(self.device).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            return self.torch_model(batch).float().cpu()


def ort_threads() -> int:
    """ONNX Runtime threads per session (DOGOPS_ORT_THREADS, set by Terraform with the worker
    count); 0: ONNX Runtime's default, one per core."""
    return int(os.environ.get("DOGOPS_ORT_THREADS", "0") or 0)


def _onnx_session(path: Path, torch_model: torch.nn.Module, image_size: int, int8: bool = False):
    """An ONNX Runtime session that agrees with the PyTorch weights, or None. An int8 model
    cannot match float logits to 1e-3; its top-1 was checked on the test split at training, so
    here it only has to load and give logits of the right shape."""
    if not path.is_file():
        return None
    try:
        import onnxruntime
    except ImportError:
        log.info("onnxruntime not installed; serving with PyTorch")
        return None
    try:
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle ORT threads would otherwise spin and steal the cores torch preprocessing and other
        # workers need between requests (measured: lower p50 and p99 at batch 1).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # With several model-server workers per instance, each should use its share of the
        # cores rather than all of them (Terraform sets this with the worker count).
        threads = ort_threads()
        if threads > 0:
            options.intra_op_num_threads = threads
        if int8:
            session = artifacts.int8_session(path, options)
        else:
            session = onnxruntime.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        probe = torch.randn(
            1, 3, image_size, image_size, generator=torch.Generator().manual_seed(1)
        )
        with torch.inference_mode():
            expected = torch_model(probe)
        got = torch.from_numpy(session.run(None, {session.get_inputs()[0].name: probe.numpy()})[0])
        close = int8 or torch.allclose(got, expected, rtol=1e-3, atol=1e-3)
        if got.shape != expected.shape or not close or not torch.isfinite(got).all():
            log.warning("%s disagrees with model.pth; not used", path.name)
            return None
        return session
    except Exception as error:  # noqa: BLE001  (a broken model.onnx must not stop serving)
        log.warning("cannot use %s (%s)", path.name, type(error).__name__)
        return None


def int8_refusal(record: dict | None, kernels: str | None = None) -> str | None:
    """Why this CPU must not serve the int8 model training kept, or None when it may.

    int8 results depend on the CPU's kernels (classifier.cpu): the accuracy training recorded
    holds here when the weights are 7-bit (measured: bit-identical logits on AVX2 and
    AVX512-VNNI kernels) or when this CPU uses the same kernel class as the check did. Without
    AVX2 there is no fast int8 path at all, so float32 is faster there."""
    record = record or {}
    if not record.get("file"):
        return None
    kernels = kernels or cpu.int8_kernels()
    if kernels not in cpu.INT8_FAST:
        return "this CPU has no AVX2 or VNNI int8 kernels; float32 is faster here"
    checked = (record.get("checked_on") or {}).get("int8_kernels")
    if not record.get("reduce_range") and checked != kernels:
        return (
            f"its 8-bit weights were checked on {checked or 'unrecorded'} int8 kernels and this "
            f"CPU uses {kernels} ones, whose results differ: its accuracy is unknown here"
        )
    return None


def model_fn(model_dir, context=None) -> ServingModel:
    model_dir = Path(model_dir)
    config = json.loads((model_dir / "model_config.json").read_text())
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    # weights=None architecture + our saved state: nothing is downloaded at serving time.
    model = build_model(config["arch"], int(config["num_classes"]), pretrained="none")
    state = torch.load(model_dir / "model.pth", map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    model.eval()
    session, precision, refused = None, "float32", None
    if device.type == "cpu":
        size = int(config["image_size"])
        record = config.get("int8") or {}
        refused = int8_refusal(record)
        if record.get("file") and refused is None:
            session = _onnx_session(model_dir / record["file"], model, size, int8=True)
            precision = "int8"
        if refused:
            log.warning("int8 model not served, float32 instead: %s", refused)
        if session is None:
            session, precision = _onnx_session(model_dir / "model.onnx", model, size), "float32"
    if os.environ.get("DOGOPS_JPEG_DRAFT", "1") != "0":
        global _draft_side  # one per process: the largest side any loaded model needs
        _draft_side = max(_draft_side, resize_size_for(int(config["image_size"])))
    model.to(device, memory_format=torch.channels_last)
    serving = ServingModel(config, model, device, session, precision)
    serving.int8_refused = refused
    log.info(
        "model loaded: %s, %d classes, backend %s (%s); CPU %s",
        config["arch"],
        len(serving.labels),
        serving.backend,
        serving.precision,
        cpu.summary(),
    )
    return serving


# Items per forward pass in predict_batch: the throughput gain flattens out well before this on
# CPU, and it bounds the memory a large batch can take.
MAX_FORWARD_BATCH = 32


def _result(logits: torch.Tensor, data: ImageRequest, model: ServingModel) -> dict:
    probabilities = torch.softmax(logits, dim=0)
    k = min(data.top_k or model.default_top_k, len(model.labels))
    top = torch.topk(probabilities, k)
    result = {
        "predictions": [
            {"label": model.labels[index], "probability": round(float(prob), 6)}
            for prob, index in zip(top.values.tolist(), top.indices.tolist())
        ]
    }
    if data.return_logits:
        result["logits"] = [round(float(value), 6) for value in logits.tolist()]
    return result


def predict_batch(inputs: list, model: ServingModel, context=None) -> list[dict]:
    """What :func:`predict_fn` returns for each of ``inputs`` (what :func:`input_fn` returned per
    request), in order, from one forward pass per :data:`MAX_FORWARD_BATCH` items. For hosts
    that gather requests into batches (the local endpoint host); each request's errors were
    already raised by its own input_fn, so one bad request never fails the others."""
    for item in inputs:
        if not isinstance(item, ImageRequest):
            raise TypeError(f"predict_batch takes input_fn results, got {type(item).__name__}")
    # With ONNX Runtime, torch only pre- and post-processes: one image's resize and normalisation
    # gain nothing from more threads, and torch's OpenMP threads keep spinning after each parallel
    # op, taking the cores ONNX Runtime's next forward pass needs (measured: int8 ResNet-50 on 2
    # cores, batch-1 throughput 81 -> 96 img/s; bench.inference_latency).
    threads = 1 if model.backend == "onnxruntime" else 0
    results = []
    for start in range(0, len(inputs), MAX_FORWARD_BATCH):
        chunk = inputs[start : start + MAX_FORWARD_BATCH]
        with preprocessing_threads(threads):
            batch = torch.stack(
                [prepare_image(i.image, model.image_size, model.mean, model.std) for i in chunk]
            )
        logits = model.logits(batch)
        with preprocessing_threads(threads):
            results += [_result(row, item, model) for row, item in zip(logits, chunk, strict=True)]
    return results


def predict_fn(data: ImageRequest, model: ServingModel, context=None) -> dict:
    return predict_batch([data], model)[0]


def output_fn(prediction: dict, accept=None, context=None):
    offered = [part.split(";", 1)[0].strip().lower() for part in (accept or JSON).split(",")]
    if not {JSON, "*/*", "application/*"} & set(offered):
        raise InferenceError(406, f"unsupported accept type {accept!r}; use {JSON}")
    if MODEL_VERSION and isinstance(prediction, dict):  # lets a deploy verify who answered
        prediction = {**prediction, "model_version": MODEL_VERSION}
    return json.dumps(prediction)
