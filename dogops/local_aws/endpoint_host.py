"""The local SageMaker endpoint host: serves a model.tar.gz with the PyTorch container's contract.

    python -m dogops.local_aws.endpoint_host --model-data s3://BUCKET/.../model.tar.gz --port 8080 \
        [--endpoint-name NAME]
    python -m dogops.local_aws.endpoint_host --model-dir DIR --port 8080

Like the SageMaker PyTorch serving container, it unpacks the archive into a model directory,
imports `<model dir>/code/$SAGEMAKER_PROGRAM` (default `inference.py`) with the code directory on
`sys.path`, calls `model_fn` once per model worker and then `input_fn` / `predict_fn` /
`output_fn` per request (each may take a trailing `context` argument; `transform_fn` replaces the
three when defined). UTF-8 content types reach `input_fn` as `str`, everything else as `bytes`;
`Accept: */*` means `application/json`. `GET /ping` and `POST /invocations` are served on
127.0.0.1 by threaded stdlib servers in several pre-forked model workers sharing one socket, with
request batching, configured by the container's own variables (`dogops.local_aws.model_server`).
With batching on and a handler module that defines `predict_batch(inputs, model) -> list`, a
collected batch goes through it (input errors answer only their own request). An exception with a
`status_code` attribute answers that status with its message; anything else is a 500 with a short
message, the traceback going to the log only.

With `--endpoint-name` the host registers itself for the emulator's InvokeEndpoint forwarding
(`dogops.local_aws.moto_patches.endpoint_registry`). `start_host` / `stop_host` run it detached with a pid
file and a health wait, for `invoke deploy`. Differences from the real container: the
interpreter is this one (code/requirements.txt is not installed); workers are not scaled between
min and max; `SAGEMAKER_TS_RESPONSE_TIMEOUT` is not enforced.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import requests

from dogops.config import REPO_ROOT
from dogops.errors import UserError
from dogops.local_aws.model_server import (
    Batcher,
    ServingConfig,
    StartupError,
    run_workers,
    usable_cpus,
)
from dogops.local_aws.moto_patches import endpoint_registry
from dogops.local_aws.service_credentials import assume_role_as, with_role

HOST = "127.0.0.1"
DEFAULT_PORT = 8080  # the port SageMaker serving containers listen on
DEFAULT_PROGRAM = "inference.py"
JSON = "application/json"
# Content types the inference toolkit decodes to str before input_fn (sagemaker_inference UTF8_TYPES).
UTF8_CONTENT_TYPES = frozenset({JSON, "text/csv"})
MAX_BODY_BYTES = 6 * 1024 * 1024  # SageMaker real-time payload limit
MAX_DRAIN_BYTES = 64 * 1024 * 1024  # an oversized body up to this is read away before the 413
CONNECTION_IDLE_S = 60.0
LISTEN_BACKLOG = 1024  # the stdlib default (5) resets clients beyond a handful of bursts
CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
log = logging.getLogger("dogops.local_aws.endpoint_host")


# -- model loading ---------------------------------------------------------------------------
def download_model(model_data: str, dest: Path, endpoint_url: str | None = None) -> Path:
    """Fetch model.tar.gz from S3 (the emulator's when AWS_ENDPOINT_URL is set) and unpack it."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    if not model_data.startswith("s3://") or "/" not in model_data[5:]:
        raise UserError(f"--model-data must be s3://bucket/key, got {model_data!r}")
    bucket, key = model_data[5:].split("/", 1)
    archive = dest / "model.tar.gz"
    try:
        boto3.client("s3", endpoint_url=endpoint_url).download_file(bucket, key, str(archive))
    except (ClientError, BotoCoreError) as err:
        raise UserError(f"cannot download {model_data}: {err}") from None
    model_dir = dest / "model"
    model_dir.mkdir()
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(model_dir, filter="data")  # refuses absolute paths, .., devices
    except (tarfile.TarError, OSError) as err:
        raise UserError(f"{model_data} is not a readable model.tar.gz: {err}") from None
    archive.unlink()
    return model_dir


def load_user_module(model_dir: Path, program: str | None = None) -> ModuleType:
    """Import <model_dir>/code/<program> as the serving container does."""
    program = program or os.environ.get("SAGEMAKER_PROGRAM") or DEFAULT_PROGRAM
    code_dir = model_dir / "code"
    path = code_dir / program
    if not path.is_file():
        raise UserError(f"{path} not found: the model archive must contain code/{program}")
    if str(code_dir) not in sys.path:
        sys.path.insert(0, str(code_dir))
    spec = importlib.util.spec_from_file_location(Path(program).stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _call(fn: Any, *args: Any, context: Any = None) -> Any:
    """Call a handler with the optional trailing `context` argument when it takes one."""
    params = [
        p
        for p in inspect.signature(fn).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    return fn(*args, context) if len(params) > len(args) else fn(*args)


@dataclass
class RequestContext:
    """The subset of the toolkit's context handlers read: request headers and the model dir."""

    model_dir: str
    request_headers: dict[str, str]
    custom_attributes: str | None

    def get_request_header(self, _idx: int, key: str) -> str | None:
        return self.request_headers.get(key.lower())

    @property
    def system_properties(self) -> dict[str, Any]:
        return {"model_dir": self.model_dir, "gpu_id": None}


class ModelService:
    """The loaded model and its handlers (predictions through a `Batcher` when batching)."""

    def __init__(self, model_dir: Path, program: str | None = None,
                 config: ServingConfig | None = None):
        self.model_dir = model_dir
        self.config = config or ServingConfig.from_env()
        self.module = load_user_module(model_dir, program)
        if not hasattr(self.module, "model_fn"):
            raise UserError(f"{self.module.__file__} defines no model_fn(model_dir)")
        startup = RequestContext(str(model_dir), {}, None)
        self.model = _call(self.module.model_fn, str(model_dir), context=startup)
        # predict_batch(inputs, model) -> list is our handlers' batch entry point; the real
        # container only knows predict_fn, so it is used only when batching is switched on.
        self.batched = self.config.batch_size > 1 and callable(
            getattr(self.module, "predict_batch", None))
        self._transform_lock = threading.Lock()
        self.batcher = Batcher(self._predict_items, self.config.batch_size,
                               self.config.max_batch_delay_ms) if self.config.batch_size > 1 else None

    def _predict_items(self, items: list[tuple[Any, RequestContext]]) -> list:
        """One batch: predict_batch on all inputs, else predict_fn per item (errors per item)."""
        if self.batched:
            return list(self.module.predict_batch([data for data, _ in items], self.model))
        predict = getattr(self.module, "predict_fn", _default_predict_fn)
        outcomes: list = []
        for data, context in items:
            try:
                outcomes.append(_call(predict, data, self.model, context=context))
            except Exception as exc:  # noqa: BLE001 - answers only this request
                outcomes.append(exc)
        return outcomes

    def invoke(self, body: bytes, content_type: str, accept: str, context: RequestContext):
        """Run the handlers; returns (response bytes, response content type)."""
        mime = content_type.split(";")[0].strip().lower()
        try:
            data: bytes | str = body.decode("utf-8") if mime in UTF8_CONTENT_TYPES else body
        except UnicodeDecodeError:
            raise _HandlerError(400, f"{mime} body is not valid UTF-8") from None
        accept = JSON if accept in ("", "*/*") else accept
        module = self.module
        if hasattr(module, "transform_fn"):
            with self._transform_lock:  # one request at a time per worker, as TorchServe
                result = _call(
                    module.transform_fn, self.model, data, content_type, accept, context=context
                )
        else:
            parsed = _call(
                getattr(module, "input_fn", _default_input_fn), data, content_type, context=context
            )
            if self.batcher is not None:
                prediction = self.batcher.submit((parsed, context))
            else:  # no batching: requests predict concurrently on the worker's threads
                prediction = _call(getattr(module, "predict_fn", _default_predict_fn), parsed,
                                   self.model, context=context)
            result = _call(
                getattr(module, "output_fn", _default_output_fn),
                prediction,
                accept,
                context=context,
            )
        if isinstance(result, tuple):  # (body, content type), as transform_fn may return
            result, accept = result
        if isinstance(result, str):
            result = result.encode("utf-8")
        return bytes(result), accept


class _HandlerError(Exception):
    def __init__(self, status_code: int, message: str):
        super().__init__(message)
        self.status_code = status_code


def _default_input_fn(data: Any, content_type: str) -> Any:
    if content_type.split(";")[0].strip() == JSON:
        return json.loads(data)
    raise _HandlerError(415, f"no input_fn for content type {content_type}")


def _default_predict_fn(data: Any, model: Any) -> Any:
    return model(data)


def _default_output_fn(prediction: Any, accept: str) -> str:
    if accept == JSON:
        return json.dumps(prediction.tolist() if hasattr(prediction, "tolist") else prediction)
    raise _HandlerError(406, f"no output_fn for accept type {accept}")


# -- HTTP ------------------------------------------------------------------------------------
def _error_body(status: int, message: str) -> tuple[bytes, str]:
    """The handler's own message when it is JSON (our InferenceError), else a JSON wrapper."""
    try:
        json.loads(message)
        return message.encode(), JSON
    except ValueError:
        return json.dumps({"error": message, "status": status}).encode(), JSON


def make_handler(service: ModelService) -> type[BaseHTTPRequestHandler]:
    class InvocationHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "dogops-local-endpoint"
        sys_version = ""
        timeout = CONNECTION_IDLE_S  # a silent client cannot hold a thread for ever
        # Headers and body go out as two writes: with Nagle's algorithm the body would wait for
        # the client's delayed ACK (~40 ms on Linux) on every keep-alive request.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            log.info("%s %s", self.address_string(), format % args)

        def _send(self, status: int, body: bytes, content_type: str, extra=None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def _send_error(self, status: int, message: str) -> None:
            self._send(status, *_error_body(status, message))

        def send_error(self, code: int, message: str | None = None, explain=None) -> None:
            """The stdlib's own errors (bad request line, headers, unknown method) as short
            JSON like ours, not its HTML page; an unknown method is 405, not 501."""
            if code == 501:
                code, message = 405, "method not allowed: use GET /ping or POST /invocations"
            # the stdlib's message quotes the request line: a fixed phrase echoes nothing back
            phrase = message if code == 405 else HTTPStatus(code).phrase.lower()
            body, content_type = _error_body(code, phrase)
            self.close_connection = True
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Connection", "close")
            if code == 405:
                self.send_header("Allow", "GET, POST")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path.split("?")[0] == "/ping":
                self._send(200, b"{}", JSON)
            else:
                self._send_error(404, "no such route: use GET /ping or POST /invocations")

        def _refuse_body(self, status: int, message: str, length: int) -> None:
            """Answer without the body; read it away first when that is cheap, so the client
            sees the answer and not a reset from unread data."""
            self.close_connection = True
            if 0 < length <= MAX_DRAIN_BYTES:
                try:
                    while length > 0:
                        chunk = self.rfile.read(min(length, 1 << 16))
                        if not chunk:
                            return  # the client hung up
                        length -= len(chunk)
                except OSError:
                    return
            self._send_error(status, message)

        def do_POST(self) -> None:
            if self.path.split("?")[0] != "/invocations":
                self._send_error(404, "no such route: use GET /ping or POST /invocations")
                return
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                self.close_connection = True
                self._send_error(411, "send the body with a Content-Length")
                return
            raw_length = self.headers.get("Content-Length", "0").strip()
            if not raw_length.isdigit() or len(raw_length) > 12:
                self.close_connection = True
                self._send_error(400, "bad Content-Length")
                return
            length = int(raw_length)
            if length > MAX_BODY_BYTES:
                self._refuse_body(413, f"request body over {MAX_BODY_BYTES} bytes", length)
                return
            body = self.rfile.read(length)
            if len(body) < length:  # the client hung up mid-body
                self.close_connection = True
                return
            headers = {k.lower(): v for k, v in self.headers.items()}
            context = RequestContext(
                str(service.model_dir), headers, self.headers.get(CUSTOM_ATTRIBUTES)
            )
            content_type = self.headers.get("Content-Type") or "application/octet-stream"
            try:
                result, result_type = service.invoke(
                    body, content_type, self.headers.get("Accept", ""), context
                )
            except Exception as exc:
                status = getattr(exc, "status_code", None)
                if isinstance(status, int) and 400 <= status <= 599:
                    log.info("handler error %s: %s", status, exc)
                    message = getattr(exc, "message", None) or str(exc)
                    self._send_error(status, str(message))
                else:
                    log.exception("unhandled error in the model handlers")
                    self._send_error(
                        500, f"internal error in the model handler ({type(exc).__name__})"
                    )
                return
            self._send(200, result, result_type)

    return InvocationHandler


# -- the server process ----------------------------------------------------------------------
class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG

    def get_request(self):
        conn, address = super().get_request()
        conn.setblocking(True)  # the shared listening socket is non-blocking (several workers)
        return conn, address


def listening_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as err:
        sock.close()
        raise UserError(f"cannot listen on {HOST}:{port}: {err.strerror}", exit_code=3) from None
    sock.listen(LISTEN_BACKLOG)
    sock.setblocking(False)  # workers that lose the race for a connection must not block
    return sock


def _serve_on(sock: socket.socket, service: ModelService) -> None:
    """One worker: serve on the shared socket until SIGTERM/SIGINT."""
    server = _Server(sock.getsockname(), make_handler(service), bind_and_activate=False)
    server.socket.close()
    server.socket = sock

    def shut_down(_signum: int, _frame: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shut_down)
    signal.signal(signal.SIGINT, shut_down)
    server.serve_forever(poll_interval=0.2)


def serve(
    model_dir: Path, port: int, endpoint_name: str | None = None, program: str | None = None
) -> int:
    """Bind, start the model workers, register (if named) and serve until SIGTERM/SIGINT."""
    try:
        config = ServingConfig.from_env()
    except ValueError as err:
        raise UserError(str(err)) from None
    sock = listening_socket(port)
    url = f"http://{HOST}:{sock.getsockname()[1]}"

    def register() -> None:
        if endpoint_name:
            endpoint_registry.register(endpoint_name, url)
        log.info("serving %s at %s: %d worker(s), batch size %d, max batch delay %d ms",
                 model_dir, url, config.workers, config.batch_size, config.max_batch_delay_ms)

    try:
        if config.workers == 1:
            service = ModelService(model_dir, program, config)
            register()
            _serve_on(sock, service)
            return 0

        def worker(ready_fd: int) -> int:
            threads = max(1, usable_cpus() // config.workers)
            os.environ.setdefault("OMP_NUM_THREADS", str(threads))  # before torch is imported
            try:
                service = ModelService(model_dir, program, config)
            except UserError as err:
                raise StartupError(str(err)) from None
            except Exception as err:  # one line for the user, the traceback in the log
                log.log(logging.DEBUG if sys.stderr.isatty() else logging.ERROR,
                        "model start-up failed", exc_info=True)
                raise StartupError(f"the model could not be loaded: {type(err).__name__}: "
                                   f"{err}") from None
            os.write(ready_fd, b"r")
            _serve_on(sock, service)
            return 0

        try:
            return run_workers(config.workers, worker, register)
        except StartupError as err:
            raise UserError(str(err), exit_code=1) from None
    finally:
        sock.close()
        if endpoint_name and endpoint_registry.lookup(endpoint_name) == url:
            endpoint_registry.unregister(endpoint_name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dogops.local_aws.endpoint_host",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model-data", help="s3:// URI of model.tar.gz")
    source.add_argument("--model-dir", type=Path, help="an unpacked model directory")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--endpoint-name", help="register for the emulator's InvokeEndpoint")
    parser.add_argument(
        "--program", default=None, help="default: $SAGEMAKER_PROGRAM or inference.py"
    )
    parser.add_argument(
        "--endpoint-url", default=None, help="S3 endpoint (default: AWS_ENDPOINT_URL)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    scratch = None
    try:
        if args.model_data:
            scratch = Path(tempfile.mkdtemp(prefix="dogops-endpoint-"))
            model_dir = download_model(args.model_data, scratch, args.endpoint_url)
        else:
            model_dir = args.model_dir
            if not model_dir.is_dir():
                raise UserError(f"--model-dir {model_dir} is not a directory")
        return serve(model_dir.resolve(), args.port, args.endpoint_name, args.program)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except Exception as err:  # model_fn or the user module failed: a message, details in the log
        # Detached (stderr is the host's log file): keep the traceback there for debugging.
        log.log(
            logging.DEBUG if sys.stderr.isatty() else logging.ERROR,
            "model start-up failed",
            exc_info=True,
        )
        print(f"error: the model could not be loaded: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)


# -- detached start/stop for the tooling -----------------------------------------------------
@dataclass(frozen=True)
class HostInfo:
    endpoint_name: str
    url: str
    pid: int
    model: str
    role_arn: str = ""  # the execution role whose credentials the host runs with


PID_PREFIX, PID_SUFFIX = "endpoint-", ".pid"


def _pid_file(endpoint_name: str, state_dir: Path) -> Path:
    return state_dir / f"{PID_PREFIX}{endpoint_name}{PID_SUFFIX}"


def hosted_endpoints(state_dir: Path) -> list[str]:
    """Names of the endpoints that have a host pid file in `state_dir` (running or stale)."""
    return sorted(path.name[len(PID_PREFIX):-len(PID_SUFFIX)]
                  for path in state_dir.glob(f"{PID_PREFIX}*{PID_SUFFIX}"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _alive_host(pid: int) -> bool:
    try:
        return b"dogops.local_aws.endpoint_host" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _pinged(url: str) -> bool:
    try:
        return requests.get(f"{url}/ping", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def host_info(endpoint_name: str, state_dir: Path | None = None) -> HostInfo | None:
    """The running host for this endpoint, or None."""
    state_dir = Path(state_dir or endpoint_registry.default_state_dir())
    try:
        record = json.loads(_pid_file(endpoint_name, state_dir).read_text())
    except (FileNotFoundError, ValueError):
        return None
    if not _alive_host(record.get("pid", -1)):
        return None
    return HostInfo(endpoint_name, record["url"], record["pid"], record["model"],
                    record.get("role_arn", ""))


def _serving_role_credentials(endpoint_name: str, role_arn: str,
                              env: dict[str, str]) -> dict[str, str]:
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""
    try:
        operator = {k: env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    except KeyError:
        raise UserError("the endpoint host needs the caller's emulator credentials to assume "
                        f"{role_arn}: pass env=emulator.client_environment(port)") from None
    return assume_role_as(
        "sagemaker.amazonaws.com", role_arn, f"SageMaker-{endpoint_name}",
        env.get("AWS_ENDPOINT_URL", ""), operator, region=region,
        source_arn=f"arn:aws:sagemaker:{region}:{account}:endpoint/{endpoint_name.lower()}")


def start_host(
    endpoint_name: str,
    model: str,
    port: int | None = None,
    state_dir: Path | None = None,
    env: dict[str, str] | None = None,
    timeout_s: float = 120.0,
    role_arn: str | None = None,
) -> HostInfo:
    """Serve `model` (s3:// URI or directory) for `endpoint_name` in a detached process.

    Idempotent: the same model already served (by the same role) is kept; a different one
    replaces it. `env` adds to the process environment (e.g.
    `dogops.local_aws.emulator.client_environment(port)`). `role_arn`: the model's execution
    role; the host then runs with that role's credentials only (assumed through the emulator's
    STS as sagemaker.amazonaws.com, with the caller's key), as the serving container does.
    """
    state_dir = Path(state_dir or endpoint_registry.default_state_dir())
    current = host_info(endpoint_name, state_dir)
    if (current and current.model == model and current.role_arn == (role_arn or "")
            and _pinged(current.url)):
        return current
    if current:
        stop_host(endpoint_name, state_dir)
    port = port or _free_port()
    url = f"http://{HOST}:{port}"
    source = ["--model-data", model] if model.startswith("s3://") else ["--model-dir", model]
    command = [
        sys.executable,
        "-m",
        "dogops.local_aws.endpoint_host",
        *source,
        "--port",
        str(port),
        "--endpoint-name",
        endpoint_name,
    ]
    child_env = {**os.environ, **(env or {})}
    if role_arn:
        child_env = with_role(child_env, _serving_role_credentials(endpoint_name, role_arn,
                                                                   child_env))
    child_env[endpoint_registry.STATE_DIR_ENV] = str(state_dir.resolve())
    child_env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPO_ROOT), child_env.get("PYTHONPATH")])
    )
    state_dir.mkdir(parents=True, exist_ok=True)
    log_path = state_dir / f"endpoint-{endpoint_name}.log"
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
            env=child_env,
            start_new_session=True,
        )
    record = {"pid": process.pid, "url": url, "model": model, "role_arn": role_arn or ""}
    _pid_file(endpoint_name, state_dir).write_text(json.dumps(record))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _pid_file(endpoint_name, state_dir).unlink(missing_ok=True)
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-15:])
            raise UserError(f"the local endpoint host exited (code {process.returncode}):\n{tail}")
        if _pinged(url) and endpoint_registry.lookup(endpoint_name, state_dir) == url:
            return HostInfo(endpoint_name, url, process.pid, model, role_arn or "")
        time.sleep(0.2)
    stop_host(endpoint_name, state_dir)
    raise UserError(
        f"the local endpoint host did not answer /ping within {timeout_s:.0f}s; see {log_path}"
    )


def stop_host(endpoint_name: str, state_dir: Path | None = None, timeout_s: float = 10.0) -> bool:
    """Stop the host serving `endpoint_name`; False if none was running (idempotent)."""
    state_dir = Path(state_dir or endpoint_registry.default_state_dir())
    info = host_info(endpoint_name, state_dir)
    _pid_file(endpoint_name, state_dir).unlink(missing_ok=True)
    if info is None:
        endpoint_registry.unregister(endpoint_name, state_dir)
        return False
    os.kill(info.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and _alive_host(info.pid):
        _reap(info.pid)
        time.sleep(0.05)
    if _alive_host(info.pid):
        os.kill(info.pid, signal.SIGKILL)
        _reap(info.pid)
    endpoint_registry.unregister(endpoint_name, state_dir)
    return True


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


if __name__ == "__main__":
    sys.exit(main())
