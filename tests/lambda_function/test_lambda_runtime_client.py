"""The module's one sagemaker-runtime client: its settings, real HTTP against the emulator,
real socket timeouts with bounded retries, and a clean import outside Lambda."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import pytest
import requests
from lambda_helpers import SEED_URL, add_prediction, fake_aws_env, parse_response

LAMBDA_DIR = Path(__file__).resolve().parents[2] / "lambda_function"


def run_fresh(code: str, **env: str) -> dict:
    """Run `code` in a fresh interpreter that imports the handler; it prints one JSON line."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    clean.update({"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                  "PYTHONPATH": str(LAMBDA_DIR), **env})
    done = subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True,
                          text=True, timeout=60, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_import_creates_one_client_with_timeouts_retries_and_emulator_endpoint():
    got = run_fresh(
        "import json, lambda_function as lf\n"
        "c = lf.RUNTIME._client_config\n"
        "print(json.dumps({'connect': c.connect_timeout, 'read': c.read_timeout,"
        " 'retries': c.retries, 'url': lf.RUNTIME.meta.endpoint_url,"
        " 'service': lf.RUNTIME.meta.service_model.service_name}))",
        AWS_DEFAULT_REGION="eu-west-1", AWS_ENDPOINT_URL="http://127.0.0.1:4566",
    )
    assert got == {"connect": 2.0, "read": 12.0,
                   "retries": {"total_max_attempts": 2, "mode": "standard"},
                   "url": "http://127.0.0.1:4566", "service": "sagemaker-runtime"}


def test_timeouts_are_configurable_and_bounded():
    got = run_fresh(
        "import json, lambda_function as lf\n"
        "c = lf.RUNTIME._client_config\n"
        "print(json.dumps([c.connect_timeout, c.read_timeout, c.retries['total_max_attempts']]))",
        AWS_DEFAULT_REGION="eu-west-1", ENDPOINT_CONNECT_TIMEOUT_S="1.5",
        ENDPOINT_READ_TIMEOUT_S="600", ENDPOINT_MAX_ATTEMPTS="9",
    )
    assert got == [1.5, 12.0, 2]  # out-of-range values fall back to the defaults


def test_import_without_region_still_answers_a_config_error():
    got = run_fresh(
        "import json, lambda_function as lf\n"
        "r = lf.lambda_handler({'url': 'https://example.org/d.jpg'}, None)\n"
        "print(json.dumps({'client': lf.RUNTIME is None, 'status': r['statusCode'],"
        " 'body': json.loads(r['body'])}))",
        ENDPOINT_NAME="dog-breeds-endpoint",
    )
    assert got["client"] is True and got["status"] == 500
    assert "region" in got["body"]["error"]


def test_handler_never_creates_clients_per_request(lf, stubber, monkeypatch):
    def no_new_clients(*_, **__):
        raise AssertionError("a client was created during a request")

    monkeypatch.setattr(boto3, "client", no_new_clients)
    monkeypatch.setattr(boto3.Session, "client", no_new_clients)
    add_prediction(stubber)
    add_prediction(stubber)
    for _ in range(2):
        assert parse_response(lf.lambda_handler({"url": SEED_URL}, None))[0] == 200


@pytest.fixture
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_same_code_talks_to_the_local_emulator(lf, monkeypatch, moto_endpoint):
    """Real HTTP, signing and parsing: moto's sagemaker-runtime answers a queued result."""
    region = "eu-west-3"  # a region of its own, so no other test's canned results interfere
    document = {"predictions": [{"label": "046.Carolina_dog", "probability": 0.91},
                                {"label": "Basenji", "probability": 0.05}]}
    queued = requests.post(f"{moto_endpoint}/moto-api/static/sagemaker/endpoint-results",
                           json={"region": region, "results": [
                               {"Body": json.dumps(document), "ContentType": "application/json"}
                           ]}, timeout=10)
    queued.raise_for_status()
    fake_aws_env(monkeypatch, AWS_DEFAULT_REGION=region, AWS_ENDPOINT_URL=moto_endpoint)
    monkeypatch.setattr(lf, "RUNTIME", lf.create_runtime_client())
    status, body = parse_response(lf.lambda_handler({"url": SEED_URL, "top_k": 2}, None))
    assert status == 200
    assert body["predictions"] == [{"label": "Carolina dog", "probability": 0.91},
                                   {"label": "Basenji", "probability": 0.05}]


class SilentServer:
    """Accepts TCP connections and never answers: the endpoint hanging mid-inference."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self):
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(connection)

    def close(self):
        self.sock.close()
        for connection in self.accepted:
            connection.close()


def test_read_timeout_is_504_after_a_bounded_number_of_attempts(lf, monkeypatch):
    server = SilentServer()
    try:
        fake_aws_env(monkeypatch, AWS_ENDPOINT_URL=server.url, ENDPOINT_READ_TIMEOUT_S="0.3",
                     ENDPOINT_MAX_ATTEMPTS="2")
        monkeypatch.setattr(lf, "RUNTIME", lf.create_runtime_client())
        status, body = parse_response(lf.lambda_handler({"url": SEED_URL}, None))
        deadline = time.monotonic() + 5  # the kernel queues connections before accept() runs
        while len(server.accepted) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        server.close()
    assert status == 504 and "timed out" in body["error"]
    assert len(server.accepted) == 2  # one retry, then give up


def test_refused_connection_is_502(lf, monkeypatch):
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    fake_aws_env(monkeypatch, AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
                 ENDPOINT_MAX_ATTEMPTS="1")
    monkeypatch.setattr(lf, "RUNTIME", lf.create_runtime_client())
    status, body = parse_response(lf.lambda_handler({"url": SEED_URL}, None))
    assert status == 502 and "could not be reached" in body["error"]
