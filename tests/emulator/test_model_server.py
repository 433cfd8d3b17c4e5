"""The endpoint host's model server: container variables, batching, workers, holding its clients.

A small fake handler module (no torch) stands in for training/inference.py: it defines
`predict_batch` so the batching contract is checked without a model.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from emulator_test_helpers import free_port

from dogops.config import REPO_ROOT
from dogops.local_aws.model_server import Batcher, ServingConfig

FAKE_HANDLER = """
import json
import os
import time


class BadInput(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.status_code = 400


def model_fn(model_dir):
    return {"scale": 2}


def input_fn(body, content_type):
    request = json.loads(body)
    if "x" not in request:
        raise BadInput("x missing")
    return request


def predict_fn(data, model):
    time.sleep(data.get("sleep", 0))
    return {"y": data["x"] * model["scale"], "batch": 1, "pid": os.getpid()}


def predict_batch(inputs, model):
    time.sleep(max(item.get("sleep", 0) for item in inputs))
    return [{"y": item["x"] * model["scale"], "batch": len(inputs), "pid": os.getpid()}
            for item in inputs]


def output_fn(prediction, accept):
    return json.dumps(prediction)
"""


@pytest.fixture(scope="module")
def fake_model_dir(tmp_path_factory) -> Path:
    model_dir = tmp_path_factory.mktemp("fake-model")
    (model_dir / "code").mkdir()
    (model_dir / "code" / "inference.py").write_text(FAKE_HANDLER)
    return model_dir


@pytest.fixture
def run_host(fake_model_dir):
    """Start `python -m dogops.local_aws.endpoint_host` with extra environment; stop it after."""
    started: list[subprocess.Popen] = []

    def start(**env: str) -> tuple[str, subprocess.Popen]:
        port = free_port()
        child_env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **env}
        for name in ("SAGEMAKER_TS_BATCH_SIZE", "SAGEMAKER_TS_MAX_BATCH_DELAY",
                     "SAGEMAKER_TS_MIN_WORKERS", "SAGEMAKER_MODEL_SERVER_WORKERS"):
            if name not in env:
                child_env.pop(name, None)
        process = subprocess.Popen(
            [sys.executable, "-m", "dogops.local_aws.endpoint_host", "--model-dir",
             str(fake_model_dir), "--port", str(port)],
            env=child_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{url}/ping", timeout=1).ok:
                    return url, process
            except requests.RequestException:
                time.sleep(0.1)
        pytest.fail("the endpoint host did not answer /ping within 30 s")

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def post(url: str, body: dict, session: requests.Session | None = None) -> requests.Response:
    return (session or requests).post(f"{url}/invocations", data=json.dumps(body),
                                      headers={"Content-Type": "application/json"}, timeout=30)


# -- configuration ---------------------------------------------------------------------------
def test_config_follows_the_containers_variables():
    plain = ServingConfig.from_env({})
    assert plain.batch_size == 1 and 1 <= plain.workers <= 4
    assert ServingConfig.from_env({"SAGEMAKER_MODEL_SERVER_WORKERS": "3"}).workers == 3
    # Any SAGEMAKER_TS_* variable switches to the per-model settings (min workers, default 1).
    ts = ServingConfig.from_env({"SAGEMAKER_TS_BATCH_SIZE": "8",
                                 "SAGEMAKER_MODEL_SERVER_WORKERS": "3"})
    assert (ts.workers, ts.batch_size, ts.max_batch_delay_ms) == (1, 8, 100)
    ts2 = ServingConfig.from_env({"SAGEMAKER_TS_MIN_WORKERS": "2",
                                  "SAGEMAKER_TS_MAX_BATCH_DELAY": "5"})
    assert (ts2.workers, ts2.batch_size, ts2.max_batch_delay_ms) == (2, 1, 5)
    for bad in ("0", "-1", "two", "1.5"):
        with pytest.raises(ValueError, match="SAGEMAKER_TS_BATCH_SIZE"):
            ServingConfig.from_env({"SAGEMAKER_TS_BATCH_SIZE": bad})


# -- batching --------------------------------------------------------------------------------
def test_batcher_collects_up_to_the_batch_size_and_fails_only_bad_items():
    seen: list[list[int]] = []
    gate = threading.Event()

    def predict(items: list[int]) -> list:
        gate.wait(5)  # hold the first batch so the others queue up behind it
        seen.append(items)
        return [ValueError("odd") if item % 2 else item * 10 for item in items]

    batcher = Batcher(predict, batch_size=4, max_delay_ms=200)

    def submit(item: int):
        try:
            return batcher.submit(item)
        except ValueError as err:
            return str(err)

    with ThreadPoolExecutor(9) as pool:
        futures = [pool.submit(submit, i) for i in range(9)]
        time.sleep(0.5)
        gate.set()
        results = [f.result(timeout=10) for f in futures]
    assert results == [0, "odd", 20, "odd", 40, "odd", 60, "odd", 80]
    assert max(len(batch) for batch in seen) == 4  # never more than the batch size
    assert sorted(i for batch in seen for i in batch) == list(range(9))  # each item once


def test_batcher_fails_the_whole_batch_when_predict_breaks():
    batcher = Batcher(lambda items: [1], batch_size=2, max_delay_ms=300)  # wrong length
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(batcher.submit, i) for i in range(2)]
        errors = [f.exception(timeout=10) for f in futures]
    assert all(isinstance(e, RuntimeError) for e in errors)


def test_host_uses_predict_batch_and_answers_input_errors_alone(run_host):
    url, _ = run_host(SAGEMAKER_TS_BATCH_SIZE="8", SAGEMAKER_TS_MAX_BATCH_DELAY="300")
    bodies = [{"x": i, "sleep": 0.2} for i in range(12)] + [{"nox": 1}] * 3
    with ThreadPoolExecutor(len(bodies)) as pool:
        replies = list(pool.map(lambda body: post(url, body), bodies))
    good, bad = replies[:12], replies[12:]
    assert [r.status_code for r in good] == [200] * 12
    assert [r.json()["y"] for r in good] == [2 * i for i in range(12)]
    assert max(r.json()["batch"] for r in good) > 1  # requests really shared a batch
    assert all(r.json()["batch"] <= 8 for r in good)
    assert [r.status_code for r in bad] == [400] * 3
    assert all("x missing" in r.text for r in bad)


def test_without_batching_predict_fn_runs_per_request(run_host):
    url, _ = run_host(SAGEMAKER_MODEL_SERVER_WORKERS="1")
    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(lambda i: post(url, {"x": i}), range(4)))
    assert [r.json()["batch"] for r in replies] == [1] * 4


# -- workers ---------------------------------------------------------------------------------
def test_several_workers_serve_and_a_dead_worker_is_replaced(run_host):
    url, host = run_host(SAGEMAKER_MODEL_SERVER_WORKERS="2")
    pids: set[int] = set()
    deadline = time.monotonic() + 20
    while len(pids) < 2 and time.monotonic() < deadline:
        # New connections land on whichever worker accepts first.
        pids.add(post(url, {"x": 1, "sleep": 0.05}).json()["pid"])
    assert len(pids) == 2 and host.pid not in pids
    os.kill(next(iter(pids)), signal.SIGKILL)
    answered, deadline = set(), time.monotonic() + 20
    while len(answered) < 2 and time.monotonic() < deadline:
        reply = post(url, {"x": 2, "sleep": 0.05})
        assert reply.status_code == 200  # the survivor keeps serving meanwhile
        answered.add(reply.json()["pid"])
    assert len(answered) == 2 and answered != pids  # a replacement worker joined


def test_workers_go_when_the_host_is_killed(run_host):
    url, host = run_host(SAGEMAKER_MODEL_SERVER_WORKERS="2")
    worker = post(url, {"x": 1}).json()["pid"]
    host.kill()
    host.wait()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{worker}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{worker}").exists()


def test_32_concurrent_clients_get_no_connection_errors(run_host):
    """A short burst version of the 60 s benchmark (bench/load.py): counts, not timings."""
    url, _ = run_host(SAGEMAKER_MODEL_SERVER_WORKERS="2")
    stop = time.monotonic() + 4
    outcomes: list[str] = []

    def client() -> None:
        session = requests.Session()
        fresh = 0
        while time.monotonic() < stop:
            try:
                # Every 5th request on a new connection: exercises accept as well as keep-alive.
                if fresh % 5 == 0:
                    session.close()
                    session = requests.Session()
                fresh += 1
                reply = post(url, {"x": 1}, session)
                outcomes.append(str(reply.status_code))
            except requests.RequestException as err:
                outcomes.append(type(err).__name__)

    threads = [threading.Thread(target=client) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outcomes) > 32
    assert set(outcomes) == {"200"}, {o: outcomes.count(o) for o in set(outcomes)}


def test_oversized_body_gets_413_not_a_reset(run_host):
    url, _ = run_host(SAGEMAKER_MODEL_SERVER_WORKERS="1")
    reply = requests.post(f"{url}/invocations", data=b"0" * (7 * 1024 * 1024),
                          headers={"Content-Type": "application/json"}, timeout=30)
    assert reply.status_code == 413
