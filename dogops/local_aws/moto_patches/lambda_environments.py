"""Warm Lambda execution environments, with AWS's concurrency rules.

An environment is one long-lived interpreter running `_lambda_bootstrap.py` for one function
version and one exact configuration (code hash, handler, runtime, memory, timeout, environment
variables). As on AWS:

- an invocation takes an idle environment of its version if there is one (warm: only the handler
  runs), else initialises a new one (cold: the module is imported first, `Init Duration`);
- at most `reserved concurrency` invocations of a function run at once (all its versions
  together; `DOGOPS_LAMBDA_ACCOUNT_CONCURRENCY`, default 1000, without a reservation); beyond that
  the invocation is throttled (`TooManyRequestsException`, 429), never queued;
- provisioned concurrency initialises that many environments before the first call and keeps them;
- a timeout or exceeding the memory size ends the environment (`Sandbox.Timedout`,
  `Runtime.OutOfMemory`); so does an init error or the runtime exiting;
- a changed code hash or configuration retires the version's old environments; idle on-demand
  environments are shut down after `DOGOPS_LAMBDA_IDLE_S` (default 600 s).

Each environment writes its logs to one log stream of the function's log group, as on AWS.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BOOTSTRAP = Path(__file__).with_name("_lambda_bootstrap.py")
INIT_TIMEOUT_S = 10.0  # Lambda's init phase limit (on-demand)
# After the handler's own timeout the runtime answers at once; this bounds a wedged runtime.
KILL_GRACE_S = 2.0
MEMORY_POLL_S = 0.02
_PASSTHROUGH_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "SYSTEMROOT")
_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


def account_concurrency() -> int:
    return int(os.environ.get("DOGOPS_LAMBDA_ACCOUNT_CONCURRENCY", "1000"))


def idle_seconds() -> float:
    return float(os.environ.get("DOGOPS_LAMBDA_IDLE_S", "600"))


class Throttled(Exception):
    """No concurrency left for this function (reason as AWS names it)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class EnvironmentFailed(Exception):
    """The environment could not serve (init error, crash): an error payload for the caller."""

    def __init__(self, error: dict, logs: str = ""):
        super().__init__(error.get("errorMessage", ""))
        self.error = error
        self.logs = logs


@dataclass(frozen=True)
class FunctionSpec:
    """What an environment is built from; two invocations share environments iff equal."""

    account_id: str
    region: str
    function_name: str
    version: str
    code_sha256: str
    handler: str
    runtime: str
    memory_mb: int
    timeout_s: float
    environment: tuple[tuple[str, str], ...]
    log_group: str
    role: str = ""  # the execution role: its credentials are the environment's

    @property
    def function_key(self) -> tuple[str, str, str]:
        return (self.account_id, self.region, self.function_name)

    @property
    def version_key(self) -> tuple[str, str, str, str]:
        return (*self.function_key, self.version)


@dataclass
class InvokeResult:
    payload: str  # JSON text
    errored: bool
    logs: str  # the handler's output, without START/END/REPORT
    duration_ms: float
    max_rss_mb: int
    init_ms: float | None  # set on the cold invocation that initialised the environment
    environment: Environment | None


@dataclass(eq=False)
class Environment:
    spec: FunctionSpec
    process: subprocess.Popen
    scratch: Path
    log_stream: str
    provisioned: bool = False
    init_ms: float = 0.0
    last_used: float = field(default_factory=time.monotonic)
    invocations: int = 0
    _buffer: bytes = b""

    # -- protocol --------------------------------------------------------------------------
    def read_answer(self, deadline: float, memory_mb: int | None) -> dict:
        """The runtime's next JSON line; kills the process at the deadline or memory limit."""
        fd = self.process.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                return {"ok": False, "killed": "deadline"}
            ready, _, _ = select.select([fd], [], [], min(remaining, MEMORY_POLL_S))
            if memory_mb is not None and self.rss_mb() > memory_mb:
                self.kill()
                return {"ok": False, "killed": "memory"}
            if ready:
                chunk = os.read(fd, 1 << 20)
                if not chunk:  # the runtime exited
                    self.process.wait()
                    return {"ok": False, "killed": "exit", "code": self.process.returncode}
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)

    def rss_mb(self) -> float:
        try:
            with open(f"/proc/{self.process.pid}/statm") as handle:
                return int(handle.read().split()[1]) * _PAGE_MB
        except (OSError, ValueError, IndexError):
            return 0.0

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def close(self) -> None:
        """Stop the runtime (stdin EOF ends its loop) and remove its /tmp."""
        try:
            self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.kill()
        for stream in (self.process.stdout,):
            stream.close()
        shutil.rmtree(self.scratch, ignore_errors=True)

    def invoke(self, event: str, request_id: str, invoked_arn: str) -> dict:
        request = {"request_id": request_id, "event": event, "invoked_arn": invoked_arn,
                   "timeout_s": self.spec.timeout_s}
        try:
            self.process.stdin.write((json.dumps(request) + "\n").encode())
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            self.kill()
            return {"ok": False, "killed": "exit", "code": self.process.returncode}
        deadline = time.monotonic() + self.spec.timeout_s + KILL_GRACE_S
        answer = self.read_answer(deadline, self.spec.memory_mb)
        self.invocations += 1
        self.last_used = time.monotonic()
        return answer


LogSink = Callable[[FunctionSpec, str, str], None]  # (spec, log stream, text)


class EnvironmentPool:
    """All environments of the emulator, and the in-flight count per function."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: dict[FunctionSpec, list[Environment]] = {}
        self._current: dict[tuple, FunctionSpec] = {}  # version key -> its spec now
        self._in_flight: dict[tuple, int] = {}  # function key -> running invocations
        self._provisioned: dict[tuple, dict[str, Any]] = {}  # version key -> status

    # -- concurrency -----------------------------------------------------------------------
    def in_flight(self, function_key: tuple) -> int:
        with self._lock:
            return self._in_flight.get(function_key, 0)

    def _admit(self, spec: FunctionSpec, reserved: int | None) -> None:
        running = self._in_flight.get(spec.function_key, 0)
        if reserved is not None and running >= reserved:
            raise Throttled("ReservedFunctionConcurrentInvocationLimitExceeded")
        if sum(self._in_flight.values()) >= account_concurrency():
            raise Throttled("ConcurrentInvocationLimitExceeded")
        self._in_flight[spec.function_key] = running + 1

    def _retire_stale(self, spec: FunctionSpec) -> list[Environment]:
        """A new spec for the version: its old idle environments go (called under the lock)."""
        old = self._current.get(spec.version_key)
        self._current[spec.version_key] = spec
        if old is None or old == spec:
            return []
        return self._idle.pop(old, [])

    def _expired(self, now: float) -> list[Environment]:
        limit = idle_seconds()
        gone = []
        for spec, envs in self._idle.items():
            keep = [e for e in envs if e.provisioned or now - e.last_used < limit]
            gone.extend(e for e in envs if e not in keep)
            self._idle[spec] = keep
        return gone

    # -- invocations -----------------------------------------------------------------------
    def invoke(
        self,
        spec: FunctionSpec,
        code_dir: Callable[[], Path],
        env_vars: Callable[[], dict[str, str]],
        event: str,
        invoked_arn: str,
        reserved: int | None,
        log_sink: LogSink,
    ) -> tuple[str, InvokeResult]:
        """Run one invocation; returns (request id, result). Raises Throttled.

        `code_dir` and `env_vars` are only called for a cold start."""
        with self._lock:
            self._admit(spec, reserved)
            retired = self._retire_stale(spec) + self._expired(time.monotonic())
            idle = self._idle.get(spec)
            env = idle.pop() if idle else None  # LIFO: the warmest environment first
        for old in retired:
            old.close()
        request_id = str(uuid.uuid4())
        healthy = False
        try:
            cold_init = None
            if env is None:
                env = self._start(spec, code_dir(), env_vars(), log_sink)
                cold_init = env.init_ms
            answer = env.invoke(event, request_id, invoked_arn)
            result = self._result(env, answer, request_id, cold_init)
            healthy = env.alive() and not answer.get("timed_out") and "killed" not in answer
            return request_id, result
        except EnvironmentFailed as failed:
            return request_id, InvokeResult(
                json.dumps(failed.error), True, failed.logs, 0.0, 0, None, env)
        finally:
            with self._lock:
                self._in_flight[spec.function_key] -= 1
                keep = healthy and self._current.get(spec.version_key) == spec
                if keep:
                    self._idle.setdefault(spec, []).append(env)
            if env is not None and not keep:
                env.close()

    def _result(self, env: Environment, answer: dict, request_id: str,
                cold_init: float | None) -> InvokeResult:
        spec = env.spec
        logs = answer.get("logs", "")
        rss = int(answer.get("max_rss_mb", 0))
        duration = float(answer.get("duration_ms", 0.0))
        if answer.get("ok") and rss > spec.memory_mb:
            answer = {"ok": False, "killed": "memory"}  # a spike the poll missed
        if answer.get("ok"):
            return InvokeResult(answer["payload"], False, logs, duration, rss, cold_init, env)
        if answer.get("timed_out") or answer.get("killed") == "deadline":
            duration = spec.timeout_s * 1000
            error = {"errorMessage": f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} "
                                     f"{request_id} Task timed out after {spec.timeout_s:.2f} "
                                     "seconds",
                     "errorType": "Sandbox.Timedout"}
            env.kill()  # Lambda resets the environment after a timeout
        elif answer.get("killed") == "memory":
            rss = spec.memory_mb
            error = {"errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: "
                                     "signal: killed",
                     "errorType": "Runtime.OutOfMemory"}
            env.kill()
        elif answer.get("killed") == "exit":
            error = {"errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: "
                                     f"exit status {answer.get('code')}",
                     "errorType": "Runtime.ExitError"}
        else:
            error = answer["error"]
        return InvokeResult(json.dumps(error), True, logs, duration, rss, cold_init, env)

    def _start(self, spec: FunctionSpec, code_dir: Path, env_vars: dict[str, str],
               log_sink: LogSink, provisioned: bool = False) -> Environment:
        """Start an environment and run its init phase (raises EnvironmentFailed)."""
        scratch = Path(tempfile.mkdtemp(prefix="dogops-lambda-env-"))
        stream = f"{time.strftime('%Y/%m/%d')}/[{spec.version}]{uuid.uuid4().hex}"
        child_env = {key: os.environ[key] for key in _PASSTHROUGH_ENV if key in os.environ}
        child_env.update(env_vars)
        child_env.update({"TMPDIR": str(scratch), "HOME": str(scratch),
                          "AWS_LAMBDA_LOG_STREAM_NAME": stream,
                          "AWS_LAMBDA_INITIALIZATION_TYPE":
                              "provisioned-concurrency" if provisioned else "on-demand"})
        with open(scratch / ".runtime.log", "wb") as runtime_log:
            process = subprocess.Popen(
                [sys.executable, str(BOOTSTRAP), str(code_dir), spec.handler],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=runtime_log,
                env=child_env, cwd=code_dir, start_new_session=True,
            )
        env = Environment(spec, process, scratch, stream, provisioned)
        runtime = f"python:{spec.runtime.removeprefix('python')}"
        init_start = f"INIT_START Runtime Version: {runtime}\n"
        answer = env.read_answer(time.monotonic() + INIT_TIMEOUT_S, spec.memory_mb)
        if not answer.get("ok"):
            env.close()
            logs = init_start + answer.get("logs", "")
            if "error" in answer:
                error = answer["error"]
            elif answer.get("killed") == "deadline":
                error = {"errorMessage": f"Init phase did not finish in {INIT_TIMEOUT_S:.0f} s",
                         "errorType": "Runtime.InitTimeout"}
            else:
                error = {"errorMessage": "Runtime exited during init", "errorType":
                         "Runtime.ExitError"}
            log_sink(spec, stream, logs)
            raise EnvironmentFailed(error, logs)
        env.init_ms = float(answer.get("init_ms", 0.0))
        log_sink(spec, stream, init_start + answer.get("logs", ""))
        return env

    # -- provisioned concurrency -----------------------------------------------------------
    def provision(self, spec: FunctionSpec, code_dir: Path, env_vars: dict[str, str],
                  count: int, log_sink: LogSink) -> None:
        """Initialise `count` environments for the version in the background (idempotent)."""
        with self._lock:
            retired = self._retire_stale(spec)
            status = {"requested": count, "allocated": 0, "failure": None}
            self._provisioned[spec.version_key] = status
            have = [e for e in self._idle.get(spec, []) if e.provisioned]
            surplus = have[count:]
            for env in surplus:
                self._idle[spec].remove(env)
            status["allocated"] = min(len(have), count)
            missing = count - status["allocated"]
        for env in retired + surplus:
            env.close()

        def fill() -> None:
            for _ in range(missing):
                try:
                    env = self._start(spec, code_dir, env_vars, log_sink, provisioned=True)
                except EnvironmentFailed as failed:
                    status["failure"] = failed.error.get("errorMessage", "init failed")
                    return
                with self._lock:
                    if self._provisioned.get(spec.version_key) is not status:
                        stale = True
                    else:
                        stale = False
                        self._idle.setdefault(spec, []).append(env)
                        status["allocated"] += 1
                if stale:
                    env.close()
                    return

        if missing:
            threading.Thread(target=fill, name="lambda-provision", daemon=True).start()

    def provisioned_status(self, version_key: tuple) -> dict[str, Any] | None:
        with self._lock:
            status = self._provisioned.get(version_key)
            return dict(status) if status else None

    def unprovision(self, version_key: tuple) -> None:
        """Provisioned environments of the version become ordinary on-demand ones."""
        with self._lock:
            self._provisioned.pop(version_key, None)
            for spec, envs in self._idle.items():
                if spec.version_key == version_key:
                    for env in envs:
                        env.provisioned = False

    def forget(self, function_key: tuple, version: str | None = None) -> None:
        """The function (or one version) was deleted: its environments go."""
        with self._lock:
            doomed = [s for s in self._idle
                      if s.function_key == function_key and version in (None, s.version)]
            envs = [e for s in doomed for e in self._idle.pop(s)]
            for key in [k for k in self._current
                        if k[:3] == function_key and version in (None, k[3])]:
                del self._current[key]
            for key in [k for k in self._provisioned
                        if k[:3] == function_key and version in (None, k[3])]:
                del self._provisioned[key]
        for env in envs:
            env.close()

    def idle_environments(self, version_key: tuple) -> list[Environment]:
        with self._lock:
            return [e for s, envs in self._idle.items() if s.version_key == version_key
                    for e in envs]

    def close_all(self) -> None:
        with self._lock:
            envs = [e for envs in self._idle.values() for e in envs]
            self._idle.clear()
        for env in envs:
            env.close()


POOL = EnvironmentPool()


def code_sha256(code_bytes: bytes) -> str:
    return hashlib.sha256(code_bytes).hexdigest()


def report_line(request_id: str, result: InvokeResult, memory_mb: int) -> str:
    """The REPORT line Lambda writes after each invocation."""
    line = (f"REPORT RequestId: {request_id}\tDuration: {result.duration_ms:.2f} ms\t"
            f"Billed Duration: {max(1, math.ceil(result.duration_ms))} ms\t"
            f"Memory Size: {memory_mb} MB\tMax Memory Used: {result.max_rss_mb} MB")
    if result.init_ms is not None:
        line += f"\tInit Duration: {result.init_ms:.2f} ms"
    return line + "\n"
