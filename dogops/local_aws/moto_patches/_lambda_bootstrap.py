"""The runtime loop of one emulated Lambda execution environment (started by `lambda_environments`).

    python _lambda_bootstrap.py <code dir> <handler module.function>

Like the Lambda python runtime: the init phase (import the handler module) runs once, then the
loop serves one invocation at a time and the module's globals stay warm between them. Requests
arrive as JSON lines on stdin (`request_id`, `event` as JSON text, `invoked_arn`, `timeout_s`);
each answer is one JSON line on the process's original stdout, which the runtime keeps for
itself: the handler's prints and the root logger (with the Lambda runtime's text format) go to a
per-invocation buffer that is returned as that invocation's log. Standard library only; stdin
closing (the emulator gone) ends the environment.
"""

from __future__ import annotations

import importlib
import io
import json
import logging
import os
import resource
import signal
import sys
import time
import traceback

# Paths in stack traces are shown as on Lambda, never as the emulator's own directories.
_TASK_ROOT = "/var/task"
_RUNTIME_ROOT = "/var/lang"


class LambdaContext:
    """The attributes of the Lambda python runtime's context object that handlers use."""

    def __init__(self, request_id: str, invoked_arn: str, deadline: float):
        self._deadline = deadline
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        self.invoked_function_arn = invoked_arn
        self.memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.aws_request_id = request_id
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity = None
        self.client_context = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class _TimedOut(BaseException):
    """BaseException so a handler's `except Exception` cannot swallow the timeout."""


class _RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


class _CurrentStdout(io.TextIOBase):
    """Writes to whatever sys.stdout is now: the current invocation's log buffer."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)


def _install_log_handler() -> _RequestIdFilter:
    """The root logger handler the Lambda python runtime installs (its text format, UTC)."""
    request_filter = _RequestIdFilter()
    handler = logging.StreamHandler(_CurrentStdout())
    formatter = logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
        "%Y-%m-%dT%H:%M:%S",
    )
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.addFilter(request_filter)
    root = logging.getLogger()
    root.addHandler(handler)
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL")
    if level:
        root.setLevel(level.upper())
    return request_filter


def _shown_path(path: str, code_dir: str) -> str:
    if path.startswith(code_dir):
        return _TASK_ROOT + path[len(code_dir):]
    if path.startswith(sys.prefix):
        return _RUNTIME_ROOT + path[len(sys.prefix):]
    if path.startswith(sys.base_prefix):
        return _RUNTIME_ROOT + path[len(sys.base_prefix):]
    return path


def _error(exc: BaseException, code_dir: str, error_type: str | None = None) -> dict:
    frames = traceback.extract_tb(exc.__traceback__)[1:]  # drop the runtime's own frame
    stack = [
        f'  File "{_shown_path(f.filename, code_dir)}", line {f.lineno}, in {f.name}\n'
        f"    {f.line}\n"
        for f in frames
    ]
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "requestId": "",
        "stackTrace": stack,
    }


def _max_rss_mb() -> int:
    """Peak RSS of this interpreter (VmHWM: getrusage's ru_maxrss would include the emulator's
    own peak, which survives fork + exec)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def main() -> int:
    code_dir, handler_spec = sys.argv[1:3]
    # Our answers use the original stdout; fd 1 then points at stderr (the environment's log
    # file), so stray fd-level writes from extensions can never corrupt the protocol.
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.path.insert(0, code_dir)
    os.chdir(code_dir)
    request_filter = _install_log_handler()
    real_stdout, real_stderr = sys.stdout, sys.stderr

    def answer(message: dict) -> None:
        answers.write(json.dumps(message) + "\n")

    def capture() -> io.StringIO:
        buffer = io.StringIO()
        sys.stdout = sys.stderr = buffer
        return buffer

    # -- init phase ------------------------------------------------------------------------
    buffer = capture()
    started = time.monotonic()
    module_name, _, function_name = handler_spec.rpartition(".")
    try:
        handler = getattr(importlib.import_module(module_name.replace("/", ".")), function_name)
    except Exception as exc:  # noqa: BLE001 - reported to the caller like Lambda's init errors
        error_type = (
            "Runtime.HandlerNotFound" if isinstance(exc, AttributeError)
            else "Runtime.ImportModuleError"
        )
        error = _error(exc, code_dir, error_type)
        error["errorMessage"] = f"Unable to import module '{module_name}': {exc}"
        answer({"ok": False, "error": error, "logs": buffer.getvalue()})
        return 1
    answer({
        "ok": True,
        "logs": buffer.getvalue(),
        "init_ms": (time.monotonic() - started) * 1000,
        "max_rss_mb": _max_rss_mb(),
    })

    def on_alarm(_signum, _frame):
        raise _TimedOut()

    signal.signal(signal.SIGALRM, on_alarm)

    # -- invoke loop -----------------------------------------------------------------------
    for line in real_stdin_lines():
        request = json.loads(line)
        request_id = request["request_id"]
        request_filter.request_id = request_id
        timeout_s = float(request["timeout_s"])
        buffer = capture()
        started = time.monotonic()
        deadline = started + timeout_s
        outcome: dict
        signal.setitimer(signal.ITIMER_REAL, timeout_s)
        try:
            result = handler(json.loads(request["event"]), LambdaContext(
                request_id, request["invoked_arn"], deadline))
            signal.setitimer(signal.ITIMER_REAL, 0)
            try:
                outcome = {"ok": True, "payload": json.dumps(result)}
            except (TypeError, ValueError) as exc:
                outcome = {"ok": False, "error": _error(exc, code_dir, "Runtime.MarshalError")}
        except _TimedOut:
            outcome = {"ok": False, "timed_out": True}
        except Exception as exc:  # noqa: BLE001 - becomes the Lambda FunctionError payload
            signal.setitimer(signal.ITIMER_REAL, 0)
            error = _error(exc, code_dir)
            error["requestId"] = request_id
            # the runtime logs the error record as Lambda does: one JSON line
            buffer.write(f"[ERROR] {error['errorType']}: {error['errorMessage']}\n")
            outcome = {"ok": False, "error": error}
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            sys.stdout, sys.stderr = real_stdout, real_stderr
        outcome["duration_ms"] = (time.monotonic() - started) * 1000
        outcome["max_rss_mb"] = _max_rss_mb()
        outcome["logs"] = buffer.getvalue()
        answer(outcome)
    return 0


def real_stdin_lines():
    """Requests, one JSON line each, until the emulator closes our stdin."""
    stdin = sys.stdin.buffer
    while True:
        line = stdin.readline()
        if not line:
            return
        yield line


if __name__ == "__main__":
    sys.exit(main())
