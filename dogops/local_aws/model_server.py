"""What the SageMaker PyTorch container's model server (TorchServe) does around the handlers.

- `ServingConfig.from_env()`: worker count and request batching from the environment variables
  the container honours (read from aws/sagemaker-pytorch-inference-toolkit and
  aws/sagemaker-inference-toolkit): when any `SAGEMAKER_TS_*` variable is set, the model gets
  `SAGEMAKER_TS_MIN_WORKERS` workers (default 1), `SAGEMAKER_TS_BATCH_SIZE` (default 1) and
  `SAGEMAKER_TS_MAX_BATCH_DELAY` ms (default 100); otherwise `SAGEMAKER_MODEL_SERVER_WORKERS`
  workers (TorchServe's default: one per CPU; here at most `LOCAL_MAX_DEFAULT_WORKERS`, each
  worker holds its own copy of the model) and no batching.
- `Batcher`: one per worker when batching is on (batch size > 1); like a TorchServe worker it runs
  one batch at a time, collecting up to `batch_size` requests or until `max_batch_delay` ms after
  the first one. With batching off, requests predict concurrently on the worker's threads.
- `run_workers`: pre-forked worker processes sharing one listening socket, restarted when one
  dies, all stopped with the server (and with it if it is killed: PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import ctypes
import logging
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("dogops.local_aws.model_server")

LOCAL_MAX_DEFAULT_WORKERS = 4
TS_VARIABLES = ("SAGEMAKER_TS_BATCH_SIZE", "SAGEMAKER_TS_MAX_BATCH_DELAY",
                "SAGEMAKER_TS_MIN_WORKERS", "SAGEMAKER_TS_MAX_WORKERS",
                "SAGEMAKER_TS_RESPONSE_TIMEOUT")
RESTART_BACKOFF_S = 1.0


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _positive_int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


@dataclass(frozen=True)
class ServingConfig:
    workers: int
    batch_size: int
    max_batch_delay_ms: int

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> ServingConfig:
        env = dict(os.environ if env is None else env)
        if any(name in env for name in TS_VARIABLES):
            return cls(
                workers=_positive_int(env, "SAGEMAKER_TS_MIN_WORKERS", 1),
                batch_size=_positive_int(env, "SAGEMAKER_TS_BATCH_SIZE", 1),
                max_batch_delay_ms=_positive_int(env, "SAGEMAKER_TS_MAX_BATCH_DELAY", 100),
            )
        default_workers = min(usable_cpus(), LOCAL_MAX_DEFAULT_WORKERS)
        return cls(
            workers=_positive_int(env, "SAGEMAKER_MODEL_SERVER_WORKERS", default_workers),
            batch_size=1,
            max_batch_delay_ms=100,
        )


class _Slot:
    __slots__ = ("done", "error", "item", "result")

    def __init__(self, item: Any):
        self.item = item
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


class Batcher:
    """Runs `predict(items) -> list of (result | exception)` on collected batches, one at a time."""

    def __init__(self, predict: Callable[[list], list], batch_size: int, max_delay_ms: int):
        self._predict = predict
        self.batch_size = batch_size
        self._max_delay_s = max_delay_ms / 1000
        self._queue: queue.SimpleQueue[_Slot] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="batcher", daemon=True)
        self._thread.start()

    def submit(self, item: Any) -> Any:
        """Queue one item, wait for its batch; returns its result or raises its error."""
        slot = _Slot(item)
        self._queue.put(slot)
        slot.done.wait()
        if slot.error is not None:
            raise slot.error
        return slot.result

    def _collect(self) -> list[_Slot]:
        batch = [self._queue.get()]
        deadline = time.monotonic() + self._max_delay_s
        while len(batch) < self.batch_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.append(self._queue.get(timeout=remaining))
            except queue.Empty:
                break
        return batch

    def _run(self) -> None:
        while True:
            batch = self._collect()
            try:
                outcomes = self._predict([slot.item for slot in batch])
                if len(outcomes) != len(batch):
                    raise RuntimeError(f"the batch of {len(batch)} got {len(outcomes)} results")
            except BaseException as exc:  # noqa: BLE001 - the whole batch fails, server lives
                outcomes = [exc] * len(batch)
            for slot, outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    slot.error = outcome
                else:
                    slot.result = outcome
                slot.done.set()


# -- pre-forked workers ----------------------------------------------------------------------
def _die_with_parent() -> None:
    """Ask Linux to SIGTERM this worker when the server process dies (even by SIGKILL)."""
    pr_set_pdeathsig = 1
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


class StartupError(Exception):
    """A worker could not load the model; the message is meant for the user."""


def _reap_one(children: dict[int, int]) -> tuple[int, int] | None:
    """(pid, exit code) of one of *our* workers that exited, or None (others are left alone)."""
    for pid in list(children):
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return pid, 1
        if done:
            return pid, os.waitstatus_to_exitcode(status)
    return None


def run_workers(count: int, worker_main: Callable[[int], int],
                on_first_ready: Callable[[], None]) -> int:
    """Fork `count` workers running `worker_main(ready_write_fd)`; supervise until SIGTERM.

    A worker writes one byte to its ready fd once its model is loaded. A worker that dies after
    that is restarted; if every worker fails before becoming ready (the model cannot load),
    raises StartupError with the first worker's `StartupError` message. Returns 0 once stopped.
    """
    parent_pid = os.getpid()
    ready_read, ready_write = os.pipe()
    error_read, error_write = os.pipe()
    children: dict[int, int] = {}  # pid -> worker index
    stopping = threading.Event()

    def spawn(index: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                os.close(ready_read)
                _die_with_parent()
                if os.getppid() != parent_pid:  # the server died before the prctl
                    os._exit(0)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                code = worker_main(ready_write)
            except StartupError as err:
                os.write(error_write, (str(err).replace("\n", " ")[:2000] + "\n").encode())
            except BaseException:  # a worker must never return into the parent
                log.exception("worker %d failed", index)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        children[pid] = index

    def terminate(_signum: int, _frame: Any) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, terminate) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        code = _supervise(count, spawn, children, stopping, ready_read, on_first_ready)
        if code:
            os.set_blocking(error_read, False)
            try:
                messages = os.read(error_read, 1 << 16).decode(errors="replace").splitlines()
            except BlockingIOError:
                messages = []
            raise StartupError(messages[0] if messages else f"every worker exited ({code})")
        return code
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for fd in (ready_read, ready_write, error_read, error_write):
            os.close(fd)


def _supervise(count: int, spawn: Callable[[int], None], children: dict[int, int],
               stopping: threading.Event, ready_read: int,
               on_first_ready: Callable[[], None]) -> int:
    for index in range(count):
        spawn(index)  # ready_write stays open in the server: restarted workers inherit it too
    ready_count = 0
    announced = False
    first_failure: int | None = None
    os.set_blocking(ready_read, False)
    while not stopping.is_set():
        try:
            ready_count += len(os.read(ready_read, 64))
        except BlockingIOError:
            pass
        if ready_count and not announced:
            on_first_ready()
            announced = True
        exited = _reap_one(children)
        if exited is None:
            stopping.wait(0.1)
            continue
        pid, code = exited
        index = children.pop(pid)
        if not ready_count:
            first_failure = code if first_failure is None else first_failure
            if not children:
                return first_failure or 1
            continue
        log.warning("worker %d (pid %d) exited with %d; restarting it", index, pid, code)
        time.sleep(RESTART_BACKOFF_S)
        if not stopping.is_set():
            spawn(index)
    for pid in list(children):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    while children and time.monotonic() < deadline:
        exited = _reap_one(children)
        if exited:
            children.pop(exited[0], None)
        else:
            time.sleep(0.05)
    for pid in children:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
    return 0
