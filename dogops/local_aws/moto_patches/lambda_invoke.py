"""Lambda Invoke runs the function's real handler from its deployed zip (python runtimes).

moto only executes Lambda code inside Docker (not available here) and its Docker-less backend
echoes the payload. Instead: unpack the stored zip once per CodeSha256, run the handler in a
subprocess of this interpreter with the function's environment, the emulator endpoint and test
credentials (never the server's own environment), pass the event on stdin, enforce the function
timeout, and return the handler's JSON result or a Lambda-style FunctionError payload. The
`Qualifier` of an Invoke request (version or alias) is honoured; moto dropped it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

from moto import settings
from moto.awslambda.models import LambdaFunction
from moto.awslambda.responses import LambdaResponse

from dogops.local_aws.moto_patches import endpoint_registry

BOOTSTRAP = Path(__file__).with_name("_lambda_bootstrap.py")
# Lambda gives the init phase its own 10 s; it bounds our interpreter start + imports too.
INIT_ALLOWANCE_S = 10.0
# Passed through from the server's environment so the interpreter and its locale still work.
_PASSTHROUGH_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "SYSTEMROOT", "TMPDIR")


def code_cache_root() -> Path:
    """Unpacked function code lives in the emulator's state dir (`.dogops/local/lambda-code`)."""
    return endpoint_registry.default_state_dir() / "lambda-code"


def unpacked_code_dir(code_bytes: bytes) -> Path:
    """The function's zip unpacked into a directory named by its content hash (reused)."""
    digest = hashlib.sha256(code_bytes).hexdigest()
    target = code_cache_root() / digest
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{digest[:12]}-"))
    with zipfile.ZipFile(io.BytesIO(code_bytes)) as archive:
        for member in archive.namelist():
            # Refuse entries that would escape the directory (zip-slip).
            resolved = (staging / member).resolve()
            if not resolved.is_relative_to(staging.resolve()):
                raise ValueError(f"zip entry escapes the code directory: {member}")
        archive.extractall(staging)
    try:
        staging.rename(target)
    except OSError:  # another invocation unpacked the same code first
        shutil.rmtree(staging, ignore_errors=True)
    return target


def handler_environment(fn: LambdaFunction, request_id: str, invoked_arn: str) -> dict[str, str]:
    env = {key: os.environ[key] for key in _PASSTHROUGH_ENV if key in os.environ}
    endpoint = f"http://127.0.0.1:{settings.moto_server_port()}"
    env.update({str(k): str(v) for k, v in (fn.environment_vars or {}).items()})
    env.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_SESSION_TOKEN": "test",
            "AWS_REGION": fn.region,
            "AWS_DEFAULT_REGION": fn.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
            "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": str(fn.version),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(fn.timeout),
            "AWS_LAMBDA_LOG_GROUP_NAME": fn.logs_group_name,
            "AWS_LAMBDA_LOG_STREAM_NAME": f"{time.strftime('%Y/%m/%d')}/[{fn.version}]{request_id}",
            "_HANDLER": fn.handler or "",
            "DOGOPS_REQUEST_ID": request_id,
            "DOGOPS_INVOKED_FUNCTION_ARN": invoked_arn,
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    return env


def run_handler(fn: LambdaFunction, event: str, invoked_arn: str) -> tuple[str, bool, str]:
    """Run the handler once: (response payload, errored, log output)."""
    request_id = str(uuid.uuid4())
    if not (fn.run_time or "").startswith("python"):
        error = {
            "errorMessage": f"the emulator runs python runtimes only, not {fn.run_time}",
            "errorType": "Runtime.InvalidRuntime",
        }
        return json.dumps(error), True, ""
    if not fn.handler or "." not in fn.handler:
        error = {
            "errorMessage": f"bad handler {fn.handler!r}: expected module.function",
            "errorType": "Runtime.HandlerNotFound",
        }
        return json.dumps(error), True, ""

    code_dir = unpacked_code_dir(fn.code_bytes)
    with tempfile.TemporaryDirectory(prefix="dogops-lambda-run-") as scratch:
        result_file = Path(scratch) / "result.json"
        env = handler_environment(fn, request_id, invoked_arn)
        env["TMPDIR"] = scratch  # the function's /tmp
        env["HOME"] = scratch
        command = [sys.executable, str(BOOTSTRAP), str(code_dir), fn.handler, str(result_file)]
        try:
            proc = subprocess.run(
                command,
                input=event.encode(),
                capture_output=True,
                env=env,
                cwd=code_dir,
                timeout=float(fn.timeout) + INIT_ALLOWANCE_S,
                check=False,
            )
            logs = (proc.stdout + proc.stderr).decode(errors="replace")
        except subprocess.TimeoutExpired as exc:
            logs = ((exc.stdout or b"") + (exc.stderr or b"")).decode(errors="replace")
            error = {
                "errorMessage": f"Task timed out after {float(fn.timeout):.2f} seconds",
                "errorType": "Sandbox.Timedout",
            }
            return json.dumps(error), True, logs
        if not result_file.exists():
            error = {
                "errorMessage": f"Runtime exited with exit status {proc.returncode}",
                "errorType": "Runtime.ExitError",
            }
            return json.dumps(error), True, logs
        outcome = json.loads(result_file.read_text())
    logs = f"START RequestId: {request_id}\n{logs}END RequestId: {request_id}\n"
    if outcome["ok"]:
        return json.dumps(outcome["result"]), False, logs
    return json.dumps(outcome["error"]), True, logs


def _invoke(self: LambdaFunction, body: str, request_headers: Any, response_headers: Any) -> bytes:
    if request_headers.get("x-amz-invocation-type") == "DryRun":
        return b""  # DryRun only checks that the caller may invoke
    if isinstance(body, bytes):
        body = body.decode()
    # A published version's function_arn already carries its number (moto's set_version).
    payload, errored, logs = run_handler(self, body or "{}", self.function_arn)
    self.logs_backend.ensure_log_group(self.logs_group_name)
    self.save_logs(logs)
    if errored:
        # Uncaught exceptions, timeouts and runtime failures are all "Unhandled" on Lambda.
        response_headers["x-amz-function-error"] = "Unhandled"
    if request_headers.get("x-amz-log-type") == "Tail":
        tail = logs.encode()[-4096:]
        response_headers["x-amz-log-result"] = base64.b64encode(tail).decode()
    return payload.encode()


_original_get_param = LambdaResponse._get_param


def _get_param(self: LambdaResponse, param_name: str, if_none: Any = None) -> Any:
    # moto's Invoke reads "qualifier" while clients send "?Qualifier=": without this, invoking
    # `FunctionName=f, Qualifier=live` silently ran $LATEST instead of the alias's version.
    if param_name == "qualifier":
        return _original_get_param(self, "Qualifier", None) or _original_get_param(
            self, param_name, if_none
        )
    return _original_get_param(self, param_name, if_none)


def apply() -> None:
    LambdaFunction.invoke = _invoke
    LambdaResponse._get_param = _get_param
