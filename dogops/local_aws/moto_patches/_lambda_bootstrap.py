"""Runs one Lambda handler invocation in a fresh interpreter (started by `lambda_invoke`).

    python _lambda_bootstrap.py <code dir> <handler module.function> <result file>

The event arrives as JSON on stdin. The outcome goes to <result file> as JSON,
`{"ok": true, "result": ...}` or `{"ok": false, "error": {...}}`, so whatever the handler prints
on stdout/stderr stays log output, as on Lambda. Standard library only: the handler's own
imports come from the code directory, then the interpreter's site-packages (boto3 is there, as it
is in the Lambda python runtimes).
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time
import traceback


class LambdaContext:
    """The attributes of the Lambda python runtime's context object that handlers use."""

    def __init__(self, deadline: float):
        self._deadline = deadline
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        self.invoked_function_arn = os.environ["DOGOPS_INVOKED_FUNCTION_ARN"]
        self.memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.aws_request_id = os.environ["DOGOPS_REQUEST_ID"]
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity = None
        self.client_context = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class _TimedOut(BaseException):
    """BaseException so a handler's `except Exception` cannot swallow the timeout."""


def _error(exc: BaseException, error_type: str | None = None) -> dict:
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


def main() -> int:
    code_dir, handler_spec, result_file = sys.argv[1:4]
    timeout_s = float(os.environ["AWS_LAMBDA_FUNCTION_TIMEOUT"])
    sys.path.insert(0, code_dir)
    os.chdir(code_dir)

    def finish(outcome: dict) -> int:
        text = json.dumps(outcome)  # serialise first: a bad result must not leave half a file
        with open(result_file, "w") as handle:
            handle.write(text)
        return 0

    try:
        event = json.loads(sys.stdin.read() or "{}")
    except json.JSONDecodeError as exc:
        return finish({"ok": False, "error": _error(exc, "Runtime.InvalidEventPayload")})

    module_name, _, function_name = handler_spec.rpartition(".")
    try:
        handler = getattr(importlib.import_module(module_name.replace("/", ".")), function_name)
    except Exception as exc:  # noqa: BLE001 - reported to the caller like Lambda's init errors
        return finish({"ok": False, "error": _error(exc, "Runtime.ImportModuleError")})

    def on_alarm(_signum, _frame):
        raise _TimedOut(f"Task timed out after {timeout_s:.2f} seconds")

    # The timeout covers the handler call; the parent process kills us as a backstop.
    deadline = time.monotonic() + timeout_s
    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        result = handler(event, LambdaContext(deadline))
    except _TimedOut as exc:
        timed_out = {"errorMessage": str(exc), "errorType": "Sandbox.Timedout"}
        return finish({"ok": False, "error": timed_out})
    except Exception as exc:  # noqa: BLE001 - becomes the Lambda FunctionError payload
        traceback.print_exc()
        return finish({"ok": False, "error": _error(exc)})
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    try:
        return finish({"ok": True, "result": result})
    except (TypeError, ValueError) as exc:
        return finish({"ok": False, "error": _error(exc, "Runtime.MarshalError")})


if __name__ == "__main__":
    sys.exit(main())
