"""Lambda Invoke runs the function's real handler from its deployed zip (python runtimes).

moto only executes Lambda code inside Docker (not available here) and its Docker-less backend
echoes the payload. Instead the stored zip is unpacked once per code hash and the handler runs in
a warm execution environment of `lambda_environments` (init once, then only the handler; reserved
concurrency throttles with 429; timeout and memory size enforced), with the function's
environment variables, the emulator endpoint and temporary credentials of the function's
execution role (AssumeRole as lambda.amazonaws.com through the emulator's STS, so the role's trust
and permission policies apply; never the server's own environment). As on AWS, a payload that is not JSON is refused with
`InvalidRequestContentException` (400) before any code runs, and one over 6 MB with
`RequestTooLargeException` (413). Logs (START, the handler's output and its root-logger lines,
END, REPORT) go to the environment's stream of the function's log group and, on request, the last
4 KB to `LogType=Tail`; CloudWatch gets only what the execution role may write (logs:CreateLogStream
and logs:PutLogEvents on the stream, logs:CreateLogGroup when the group is missing). The `Qualifier` of an Invoke request (version or alias) is honoured; moto
dropped it.
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import io
import json
import logging
import queue
import shutil
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

from moto import settings
from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import LambdaFunction, lambda_backends
from moto.awslambda.responses import LambdaResponse
from moto.core.utils import unix_time_millis

from dogops.local_aws.moto_patches import endpoint_registry
from dogops.local_aws.moto_patches.lambda_environments import (
    POOL,
    FunctionSpec,
    Throttled,
    code_sha256,
    report_line,
)

MAX_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024  # 6 MB, Lambda's synchronous request limit
TAIL_BYTES = 4096
_logs_lock = threading.Lock()  # moto's logs backend is not thread-safe
_unpack_lock = threading.Lock()


class TooManyRequestsException(LambdaClientError):
    code = 429

    def __init__(self, reason: str):
        super().__init__("TooManyRequestsException", "Rate Exceeded.")
        self.description = json.dumps({"__type": "TooManyRequestsException",
                                       "message": "Rate Exceeded.", "Reason": reason,
                                       "Type": "User"})


class InvalidRequestContentException(LambdaClientError):
    code = 400

    def __init__(self, message: str):
        super().__init__("InvalidRequestContentException", message)


class RequestTooLargeException(LambdaClientError):
    code = 413

    def __init__(self, message: str):
        super().__init__("RequestTooLargeException", message)


def code_cache_root() -> Path:
    """Unpacked function code lives in the emulator's state dir (`.dogops/local/lambda-code`)."""
    return endpoint_registry.default_state_dir() / "lambda-code"


def unpacked_code_dir(code_bytes: bytes, digest: str | None = None) -> Path:
    """The function's zip unpacked into a directory named by its content hash (reused)."""
    digest = digest or hashlib.sha256(code_bytes).hexdigest()
    target = code_cache_root() / digest
    if target.is_dir():
        return target
    with _unpack_lock:
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
        except OSError:  # another emulator process unpacked the same code first
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _code_hex_digest(fn: LambdaFunction) -> str:
    """moto's CodeSha256 (base64) of the stored zip as hex: hashing the zip per call costs."""
    try:
        return base64.b64decode(fn.code_sha_256, validate=True).hex()
    except (TypeError, ValueError):
        return code_sha256(fn.code_bytes or b"")


def function_spec(fn: LambdaFunction) -> FunctionSpec:
    return FunctionSpec(
        account_id=fn.account_id,
        region=fn.region,
        function_name=fn.function_name,
        version=str(fn.version),
        code_sha256=_code_hex_digest(fn),
        handler=fn.handler or "",
        runtime=fn.run_time or "",
        memory_mb=int(fn.memory_size or 128),
        timeout_s=float(fn.timeout or 3),
        environment=tuple(sorted((str(k), str(v)) for k, v in (fn.environment_vars or {}).items())),
        log_group=fn.logs_group_name,
        role=fn.role or "",
    )


class RoleNotAssumable(LambdaClientError):
    code = 403

    def __init__(self, role: str):
        super().__init__("AccessDeniedException",
                         f"The role defined for the function cannot be assumed by Lambda: {role}")


_role_credentials: dict[tuple[str, str, str], tuple[float, dict[str, str]]] = {}
_role_lock = threading.Lock()
ROLE_SESSION_S = 3600
ROLE_REFRESH_S = 600  # new environments never start with credentials about to expire


def execution_role_credentials(spec: FunctionSpec) -> dict[str, str]:
    """AWS_ACCESS_KEY_ID/SECRET/SESSION_TOKEN of the function's role, as Lambda injects them."""
    from dogops.errors import UserError
    from dogops.local_aws.moto_patches import iam_enforcement
    from dogops.local_aws.service_credentials import assume_role_as

    key = (spec.account_id, spec.region, spec.role)
    with _role_lock:
        cached = _role_credentials.get(key)
        if cached and cached[0] - time.monotonic() > ROLE_REFRESH_S:
            return cached[1]
        function_arn = (f"arn:aws:lambda:{spec.region}:{spec.account_id}:function:"
                        f"{spec.function_name}")
        try:
            creds = assume_role_as("lambda.amazonaws.com", spec.role, spec.function_name,
                                   f"http://127.0.0.1:{settings.moto_server_port()}",
                                   iam_enforcement.operator(), region=spec.region,
                                   source_arn=function_arn, duration_s=ROLE_SESSION_S)
        except UserError:
            raise RoleNotAssumable(spec.role) from None
        _role_credentials[key] = (time.monotonic() + ROLE_SESSION_S, creds)
        return creds


def handler_environment(spec: FunctionSpec) -> dict[str, str]:
    """What the function's process sees: its variables, then what Lambda sets."""
    env = dict(spec.environment)
    env.update(
        {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{settings.moto_server_port()}",
            **execution_role_credentials(spec),
            "AWS_REGION": spec.region,
            "AWS_DEFAULT_REGION": spec.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(spec.timeout_s)),
            "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
            "_HANDLER": spec.handler,
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


_log_queue: queue.SimpleQueue = queue.SimpleQueue()


def write_logs(spec: FunctionSpec, stream: str, text: str) -> None:
    """Queue `text` for the environment's stream in the function's log group. Shipped by a
    background thread, off the invocation's path: CloudWatch ingestion is asynchronous too."""
    if text:
        _log_queue.put((spec, stream, text, unix_time_millis()))


def _ship_logs() -> None:
    while True:
        spec, stream, text, timestamp = _log_queue.get()
        try:
            _put_logs(spec, stream, text, timestamp)
        except Exception:  # a deleted function's late logs are dropped
            logging.getLogger(__name__).debug("log events dropped", exc_info=True)


def _put_logs(spec: FunctionSpec, stream: str, text: str, timestamp: int) -> None:
    backend = lambda_backends[spec.account_id][spec.region]
    logs_backend = backend.get_function(spec.function_name).logs_backend
    events = [{"timestamp": timestamp, "message": line} for line in text.splitlines()]
    with _logs_lock:
        group = logs_backend.groups.get(spec.log_group)
        needed = ["logs:PutLogEvents"]
        if group is None:
            needed.append("logs:CreateLogGroup")
        if group is None or stream not in group.streams:
            needed.append("logs:CreateLogStream")
        if not role_may_log(spec, stream, needed):
            return
        logs_backend.ensure_log_group(spec.log_group)
        group = logs_backend.groups[spec.log_group]
        if stream not in group.streams:
            logs_backend.create_log_stream(spec.log_group, stream)
        logs_backend.put_log_events(spec.log_group, stream, events)


def role_may_log(spec: FunctionSpec, stream: str, actions: list[str]) -> bool:
    """Lambda delivers logs with the execution role: what the role may not write is dropped,
    silently, as on AWS. Checked against the stream's ARN, as AWS evaluates these actions."""
    from dogops.local_aws.moto_patches.identity_policies import role_allows

    resource = (f"arn:aws:logs:{spec.region}:{spec.account_id}:log-group:{spec.log_group}"
                f":log-stream:{stream}")
    return role_allows(spec.account_id, spec.role, actions, resource)


def _unsupported(spec: FunctionSpec) -> dict | None:
    if not spec.runtime.startswith("python"):
        return {"errorMessage": f"the emulator runs python runtimes only, not {spec.runtime}",
                "errorType": "Runtime.InvalidRuntime"}
    if "." not in spec.handler:
        return {"errorMessage": f"bad handler {spec.handler!r}: expected module.function",
                "errorType": "Runtime.HandlerNotFound"}
    return None


def reserved_concurrency(fn: LambdaFunction) -> int | None:
    value = lambda_backends[fn.account_id][fn.region].get_function_concurrency(fn.function_name)
    return None if value is None else int(value)


def run_handler(fn: LambdaFunction, event: str, invoked_arn: str) -> tuple[str, bool, str]:
    """Run one invocation: (response payload, errored, log text of this invocation)."""
    spec = function_spec(fn)
    problem = _unsupported(spec)
    if problem:
        return json.dumps(problem), True, ""
    try:
        request_id, result = POOL.invoke(
            spec, lambda: unpacked_code_dir(fn.code_bytes, spec.code_sha256),
            lambda: handler_environment(spec), event, invoked_arn, reserved_concurrency(fn),
            write_logs,
        )
    except Throttled as throttled:
        raise TooManyRequestsException(throttled.reason) from None
    logs = (f"START RequestId: {request_id} Version: {spec.version}\n{result.logs}"
            f"END RequestId: {request_id}\n{report_line(request_id, result, spec.memory_mb)}")
    if result.environment is not None:
        write_logs(spec, result.environment.log_stream, logs)
    return result.payload, result.errored, logs


def _invoke(self: LambdaFunction, body: Any, request_headers: Any, response_headers: Any) -> bytes:
    if isinstance(body, str):
        body = body.encode()
    body = body or b""
    if len(body) > MAX_SYNC_PAYLOAD_BYTES:
        raise RequestTooLargeException(
            f"Request must be smaller than {MAX_SYNC_PAYLOAD_BYTES} bytes for the "
            "InvokeFunction operation")
    try:
        event = json.dumps(json.loads(body)) if body.strip() else "{}"
    except (ValueError, RecursionError) as err:
        reason = err.msg if isinstance(err, json.JSONDecodeError) else "invalid JSON"
        raise InvalidRequestContentException(
            f"Could not parse request body into json: Could not parse payload into json: "
            f"{reason}") from None
    if request_headers.get("x-amz-invocation-type") == "DryRun":
        return b""  # DryRun only checks that the caller may invoke
    # A published version's function_arn already carries its number (moto's set_version).
    payload, errored, logs = run_handler(self, event, self.function_arn)
    if errored:
        # Uncaught exceptions, timeouts and runtime failures are all "Unhandled" on Lambda.
        response_headers["x-amz-function-error"] = "Unhandled"
    if request_headers.get("x-amz-log-type") == "Tail":
        tail = logs.encode()[-TAIL_BYTES:]
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


_original_setup_class = LambdaResponse.setup_class


def _setup_class(self: LambdaResponse, request: Any, *args: Any, **kwargs: Any) -> None:
    # moto decodes every body as UTF-8 and answers 500 when it is not; an Invoke body reaches
    # `_invoke` as bytes instead, which answers AWS's InvalidRequestContentException.
    if str(getattr(request, "path", "")).rstrip("/").endswith("/invocations"):
        kwargs["use_raw_body"] = True
    _original_setup_class(self, request, *args, **kwargs)


def apply() -> None:
    LambdaFunction.invoke = _invoke
    LambdaResponse._get_param = _get_param
    LambdaResponse.setup_class = _setup_class
    atexit.register(POOL.close_all)
    threading.Thread(target=_ship_logs, name="lambda-logs", daemon=True).start()
