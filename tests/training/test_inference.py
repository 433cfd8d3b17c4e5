"""Serving handlers on the trained digits model: real photos, real digits, and every bad input."""

from __future__ import annotations

import base64
import io
import ipaddress
import json
import shutil
import struct
import subprocess
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import inference
import numpy as np
import pytest
from classifier import serving_errors, url_fetch
from inference import InferenceError, input_fn, model_fn, output_fn, predict_fn
from PIL import Image
from skimage import data as skdata

PHOTOS = {"chelsea": skdata.chelsea, "astronaut": skdata.astronaut, "coffee": skdata.coffee}


def encode(array: np.ndarray, fmt: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt)
    return buffer.getvalue()


def invoke(model, body, content_type, accept="application/json") -> dict:
    return json.loads(output_fn(predict_fn(input_fn(body, content_type), model), accept))


def error_of(call) -> InferenceError:
    with pytest.raises(InferenceError) as caught:
        call()
    error = caught.value
    assert json.loads(error.message) == {"error": error.error, "status": error.status_code}
    return error


@pytest.fixture(scope="module")
def served(trained):
    return model_fn(trained.model_dir)


# ------------------------------------------------------------------------------ good requests


def test_onnx_backend_is_used_when_exported(served, trained):
    assert served.backend == "onnxruntime"
    int8_verified = json.loads((trained.model_dir / "model_config.json").read_text())["int8"]
    assert served.precision == ("int8" if int8_verified["file"] else "float32")


def test_float32_onnx_serves_when_int8_is_missing(trained, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(trained.model_dir, copy)
    (copy / "model.int8.onnx").unlink(missing_ok=True)
    fallback = model_fn(copy)
    assert (fallback.backend, fallback.precision) == ("onnxruntime", "float32")


@pytest.mark.parametrize("name", sorted(PHOTOS))
@pytest.mark.parametrize("content_type", ["image/jpeg", "application/x-image"])
def test_real_photos_get_a_well_formed_top_k(served, name, content_type):
    result = invoke(served, encode(PHOTOS[name]()), content_type)
    predictions = result["predictions"]
    assert list(result) == ["predictions"]  # no logits unless asked
    assert len(predictions) == 3  # the trained model's default top_k
    probabilities = [p["probability"] for p in predictions]
    assert probabilities == sorted(probabilities, reverse=True)
    assert all(0.0 <= p <= 1.0 for p in probabilities) and sum(probabilities) <= 1.0 + 1e-5
    assert {p["label"] for p in predictions} <= set(served.labels)


def test_json_base64_with_top_k_and_logits(served):
    png = encode(skdata.astronaut(), "PNG")
    body = json.dumps({"image": base64.b64encode(png).decode(), "top_k": 20, "return_logits": True})
    result = invoke(served, body, "application/json; charset=utf-8")
    assert len(result["predictions"]) == 10  # capped at the number of classes
    assert sum(p["probability"] for p in result["predictions"]) == pytest.approx(1.0, abs=1e-4)
    logits = np.array(result["logits"])
    assert logits.shape == (10,)
    top = served.labels[int(logits.argmax())]
    assert result["predictions"][0]["label"] == top


def test_digit_test_split_through_the_handlers_matches_training_accuracy(
    served, trained, digits_dir
):
    correct = total = 0
    for class_dir in sorted((digits_dir / "test").iterdir()):
        expected = class_dir.name.split(".", 1)[1]
        for image in sorted(class_dir.glob("*.png")):
            result = invoke(served, image.read_bytes(), "image/png")
            correct += result["predictions"][0]["label"] == expected
            total += 1
    accuracy = correct / total
    assert accuracy >= 0.90
    # Same preprocessing code as the test evaluation: at most a near-tie may flip.
    assert abs(accuracy - trained.metrics["test"]["accuracy"]) <= 1.5 / total


def test_torch_fallback_agrees_with_onnx(trained, served, tmp_path, digits_dir):
    copy = tmp_path / "model"
    shutil.copytree(trained.model_dir, copy)
    for name in ("model.onnx", "model.int8.onnx"):  # broken files: must fall back
        (copy / name).write_bytes(b"not an onnx file")
    fallback = model_fn(copy)
    assert fallback.backend == "torch"
    # int8 keeps the top-1 (checked on the test split at training), not the float probabilities
    tolerance = 5e-2 if served.precision == "int8" else 1e-3
    images = sorted((digits_dir / "test").glob("*/*.png"))[::20]
    if served.precision == "float32":  # int8's top-1 is verified on the test split only
        images.append(None)
    for image in images:
        body = image.read_bytes() if image else encode(skdata.chelsea())
        content_type = "image/png" if image else "image/jpeg"
        fast, slow = invoke(served, body, content_type), invoke(fallback, body, content_type)
        assert fast["predictions"][0]["label"] == slow["predictions"][0]["label"]
        assert fast["predictions"][0]["probability"] == pytest.approx(
            slow["predictions"][0]["probability"], abs=tolerance
        )


def test_packaged_code_serves_without_the_repository(trained, tmp_path, digits_dir):
    """model.tar.gz's code/ is self-contained: import it with only code/ on the path."""
    image = min((digits_dir / "test" / "004.three").glob("*.png"))
    script = (
        "import sys, json, os\n"
        f"repo_paths = {{{str(Path(inference.__file__).parents[1])!r}, "
        f"{str(Path(inference.__file__).parent)!r}}}\n"
        "sys.path[:] = [p for p in sys.path if os.path.abspath(p or '.') not in repo_paths]\n"
        f"sys.path.insert(0, {str(trained.model_dir / 'code')!r})\n"
        "import inference as i\n"
        f"m = i.model_fn({str(trained.model_dir)!r})\n"
        f"body = open({str(image)!r}, 'rb').read()\n"
        "print(i.output_fn(i.predict_fn(i.input_fn(body, 'image/png'), m), '*/*'))\n"
        "assert 'dogops' not in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-B", "-c", script],
        check=False,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["predictions"][0]["label"] == "three"


# ------------------------------------------------------------------------------ bad requests


@pytest.mark.parametrize("content_type", ["text/plain", "image/gif", "", None, "application/xml"])
def test_unsupported_content_type_is_415(content_type):
    assert error_of(lambda: input_fn(b"abc", content_type)).status_code == 415


@pytest.mark.parametrize(
    "body",
    [b"definitely not an image", b"", encode(skdata.coffee())[:400], b"GIF89a\x00\x00garbage"],
)
def test_undecodable_image_is_400(body):
    assert error_of(lambda: input_fn(body, "image/jpeg")).status_code == 400


def test_oversize_body_is_413():
    body = b"\xff\xd8" + b"\x00" * inference.LIMITS.max_body_bytes
    assert error_of(lambda: input_fn(body, "image/jpeg")).status_code == 413


def png_header_bomb(width: int, height: int) -> bytes:
    """A tiny, valid-looking PNG that claims width x height greyscale pixels."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (width + 1) * 4, 9)  # the first rows; the rest "inflate later"
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def test_decompression_bomb_is_refused_before_decoding():
    bomb = png_header_bomb(60_000, 60_000)  # 3.6 gigapixels in a few kB
    assert len(bomb) < 10_000
    started = time.perf_counter()
    assert error_of(lambda: input_fn(bomb, "image/png")).status_code == 413
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    "payload",
    [
        "not json",
        "[1, 2]",
        {"url": "https://example.com/a.jpg", "image": "aGk="},
        {},
        {"image": "%%% not base64 %%%"},
        {"image": 123},
        {"url": ["https://example.com"]},
        {"image": "aGk=", "top_k": 0},
        {"image": "aGk=", "top_k": 21},
        {"image": "aGk=", "top_k": "3"},
        {"image": "aGk=", "top_k": True},
        {"image": "aGk=", "return_logits": "yes"},
    ],
)
def test_malformed_json_is_400(payload):
    body = payload if isinstance(payload, str) else json.dumps(payload)
    assert error_of(lambda: input_fn(body, "application/json")).status_code == 400


def test_unsupported_accept_is_406(served):
    prediction = predict_fn(input_fn(encode(skdata.chelsea()), "image/jpeg"), served)
    assert error_of(lambda: output_fn(prediction, "text/csv")).status_code == 406
    assert error_of(lambda: output_fn(prediction, "image/png, text/*")).status_code == 406
    for accept in (None, "*/*", "application/json; q=1", "text/html, application/json"):
        assert json.loads(output_fn(prediction, accept)) == prediction


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/dog.jpg",
        "gopher://example.com/",
        "javascript:alert(1)",
        "//example.com/dog.jpg",
        "https://user:secret@example.com/dog.jpg",
        "http://[::1",
    ],
)
def test_non_http_urls_are_400_without_any_lookup(url, monkeypatch):
    monkeypatch.setattr(url_fetch, "resolve_host", lambda *a: pytest.fail("resolved " + url))
    body = json.dumps({"url": url})
    assert error_of(lambda: input_fn(body, "application/json")).status_code == 400


# ------------------------------------------------------------------------------ URL downloads


class ImageServer:
    """A real HTTP server on 127.0.0.1 with well-behaved and hostile routes."""

    def __init__(self, image: bytes):
        hits = self.hits = []
        self.image = image

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                hits.append(self.path)
                route = self.path.split("?")[0]
                if route == "/dog.png":
                    self._send(200, image)
                elif route == "/missing.png":
                    self._send(404, b"no")
                elif route == "/redirect-to-dog":
                    self._redirect("/dog.png")
                elif route == "/redirect-to-metadata":
                    self._redirect("http://169.254.169.254/latest/meta-data/")
                elif route == "/huge-declared":
                    self.send_response(200)
                    self.send_header("Content-Length", str(10**10))
                    self.end_headers()
                elif route == "/huge-streamed":
                    self.send_response(200)
                    self.end_headers()  # no length: the client must count
                    try:
                        for _ in range(1000):
                            self.wfile.write(b"\x00" * 65536)
                    except OSError:
                        pass
                elif route == "/slow-body":
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(image)))
                    self.end_headers()
                    self._drip(image)
                elif route == "/slow-headers":
                    self._drip(b"HTTP/1.1 200 OK\r\nX-Padding: " + b"a" * 1000)
                elif route == "/silent":
                    time.sleep(5)

            def _send(self, status, body):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _redirect(self, location):
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _drip(self, payload):
                try:
                    for byte in payload:  # one byte every 0.1 s: never idle long enough to time out
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(0.1)
                except OSError:
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def image_server(digits_dir):
    image = min((digits_dir / "test" / "006.five").glob("*.png")).read_bytes()
    server = ImageServer(image)
    yield server
    server.close()


@pytest.fixture
def fake_dns(monkeypatch):
    """Names under .test resolve as the table says; the address guard itself stays real."""
    table: dict[str, list[str]] = {}

    def resolve(host, port):
        try:  # a literal address resolves to itself, as with getaddrinfo
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            pass
        if host not in table:
            raise OSError(f"unknown test host {host}")
        return table[host]

    monkeypatch.setattr(url_fetch, "resolve_host", resolve)
    return table


@pytest.fixture
def allow_loopback_server(monkeypatch):
    """Let exactly 127.0.0.1 through the guard (where the test server lives); every other
    address still goes through the real is_public_address."""
    real = url_fetch.is_public_address
    calls = []

    def guard(address):
        calls.append(address)
        return address == "127.0.0.1" or real(address)

    monkeypatch.setattr(url_fetch, "is_public_address", guard)
    return calls


def url_body(host, port, path, **extra) -> str:
    return json.dumps({"url": f"http://{host}:{port}{path}", **extra})


def test_url_download_predicts(served, image_server, fake_dns, allow_loopback_server):
    fake_dns["images.test"] = ["127.0.0.1"]
    request = input_fn(
        url_body("images.test", image_server.port, "/dog.png", top_k=1), "application/json"
    )
    result = predict_fn(request, served)
    assert result["predictions"][0]["label"] == "five" and len(result["predictions"]) == 1
    assert allow_loopback_server == ["127.0.0.1"]  # the guard did run
    assert image_server.hits == ["/dog.png"]


def test_redirect_is_followed_and_rechecked(image_server, fake_dns, allow_loopback_server):
    fake_dns["images.test"] = ["127.0.0.1"]
    body = url_body("images.test", image_server.port, "/redirect-to-dog")
    assert input_fn(body, "application/json").image.shape[0] == 3
    body = url_body("images.test", image_server.port, "/redirect-to-metadata")
    assert error_of(lambda: input_fn(body, "application/json")).status_code == 400
    assert image_server.hits == ["/redirect-to-dog", "/dog.png", "/redirect-to-metadata"]


@pytest.mark.parametrize(
    "addresses",
    [
        ["127.0.0.1"],
        ["10.0.0.7"],
        ["192.168.1.1"],
        ["172.16.5.4"],
        ["169.254.169.254"],
        ["100.64.0.1"],
        ["0.0.0.0"],
        ["::1"],
        ["fe80::1"],
        ["fd00:ec2::254"],
        ["::ffff:127.0.0.1"],
        ["224.0.0.1"],
        ["93.184.216.34", "10.0.0.1"],  # one private answer is enough to refuse
    ],
)
def test_private_loopback_link_local_and_metadata_addresses_are_400(
    image_server, fake_dns, addresses
):
    fake_dns["evil.test"] = addresses
    body = url_body("evil.test", image_server.port, "/dog.png")
    assert error_of(lambda: input_fn(body, "application/json")).status_code == 400
    assert image_server.hits == []  # refused before any connection


def test_literal_private_ip_in_url_is_400(image_server):
    # The real resolver: a literal address needs no DNS.
    body = json.dumps({"url": f"http://127.0.0.1:{image_server.port}/dog.png"})
    assert error_of(lambda: input_fn(body, "application/json")).status_code == 400
    assert image_server.hits == []


def test_isolated_endpoint_refuses_urls_with_a_clear_400_and_takes_images(
        image_server, fake_dns, allow_loopback_server, monkeypatch):
    """DOGOPS_NETWORK_ISOLATION=true (Terraform's default): no download is even tried."""
    monkeypatch.setattr(inference, "NETWORK_ISOLATED", True)
    fake_dns["images.example.test"] = ["127.0.0.1"]
    body = url_body("images.example.test", image_server.port, "/dog.png")
    error = error_of(lambda: input_fn(body, "application/json"))
    assert error.status_code == 400 and "no network access" in error.message
    assert image_server.hits == [] and allow_loopback_server == []
    image = base64.b64encode(image_server.image).decode()
    assert input_fn(json.dumps({"image": image}), "application/json").image.shape[0] == 3


def test_public_addresses_pass_the_guard():
    for address in ("93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"):
        assert url_fetch.is_public_address(address), address


@pytest.mark.parametrize(
    ("path", "status"),
    [("/missing.png", 502), ("/huge-declared", 413), ("/huge-streamed", 413)],
)
def test_failed_or_huge_downloads(image_server, fake_dns, allow_loopback_server, path, status):
    fake_dns["images.test"] = ["127.0.0.1"]
    body = url_body("images.test", image_server.port, path)
    assert error_of(lambda: input_fn(body, "application/json")).status_code == status


def test_unresolvable_host_and_refused_connection_are_502(fake_dns, allow_loopback_server):
    body = url_body("nowhere.test", 80, "/x.png")
    assert error_of(lambda: input_fn(body, "application/json")).status_code == 502
    fake_dns["closed.test"] = ["127.0.0.1"]
    body = url_body("closed.test", 9, "/x.png")  # discard port: nothing listens
    assert error_of(lambda: input_fn(body, "application/json")).status_code == 502


@pytest.mark.parametrize("path", ["/slow-body", "/slow-headers", "/silent"])
def test_slow_downloads_time_out_with_504(
    image_server, fake_dns, allow_loopback_server, monkeypatch, path
):
    monkeypatch.setattr(inference.LIMITS, "download_timeout_s", 1.0)
    monkeypatch.setattr(inference.LIMITS, "connect_timeout_s", 0.5)
    fake_dns["images.test"] = ["127.0.0.1"]
    body = url_body("images.test", image_server.port, path)
    started = time.perf_counter()
    assert error_of(lambda: input_fn(body, "application/json")).status_code == 504
    assert time.perf_counter() - started < 2.5  # bounded: never a hang


# ------------------------------------------------------------------------------ error type


def test_inference_error_uses_the_toolkit_base_when_installed(monkeypatch):
    import importlib
    import types

    class GenericInferenceToolkitError(Exception):
        def __init__(self, status_code, message=None, phrase=None):
            self.status_code, self.message, self.phrase = status_code, message, phrase
            super().__init__(status_code, message, phrase)

    errors = types.ModuleType("sagemaker_inference.errors")
    errors.GenericInferenceToolkitError = GenericInferenceToolkitError
    package = types.ModuleType("sagemaker_inference")
    package.errors = errors
    monkeypatch.setitem(sys.modules, "sagemaker_inference", package)
    monkeypatch.setitem(sys.modules, "sagemaker_inference.errors", errors)
    spec = importlib.util.spec_from_file_location("errors_with_toolkit", serving_errors.__file__)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "errors_with_toolkit", module)
    spec.loader.exec_module(module)
    error = module.InferenceError(415, "nope")
    assert isinstance(error, GenericInferenceToolkitError)
    assert error.status_code == 415
    assert json.loads(error.message) == {"error": "nope", "status": 415}
    assert not issubclass(inference.InferenceError, GenericInferenceToolkitError)
    assert inference.InferenceError is serving_errors.InferenceError  # the contract's name
