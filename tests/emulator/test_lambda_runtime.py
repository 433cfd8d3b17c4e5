"""Lambda execution environments on the emulator behave like AWS's.

Warm reuse, init once, reserved-concurrency throttling (429, not queueing), provisioned
environments initialised before the first call, timeout and memory limits per invocation,
recycling on a code change, logs in the log group and Tail, and AWS's error for a non-JSON body.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from emulator_test_helpers import create_lambda_role
from test_lambda import make_zip, wait_for_provisioned

from dogops.local_aws import emulator

RUNTIME_HANDLER = """
import json
import logging
import os
import time

LOGGER = logging.getLogger("app")
LOGGER.setLevel(logging.INFO)
INIT_PID = os.getpid()
CALLS = 0
VERSION_TAG = "{tag}"


def lambda_handler(event, context):
    global CALLS
    CALLS += 1
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("allocate_mb"):
        blob = b"x" * (event["allocate_mb"] * 1024 * 1024)  # written, so really resident
        return {{"allocated": len(blob)}}
    LOGGER.info(json.dumps({{"request_id": context.aws_request_id, "calls": CALLS}}))
    return {{"pid": INIT_PID, "calls": CALLS, "tag": VERSION_TAG,
            "init_type": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE")}}
"""


def handler_zip(tag: str = "v1") -> bytes:
    return make_zip({"app.py": RUNTIME_HANDLER.format(tag=tag)})


@pytest.fixture
def make_function(aws):
    """Factory: a python function with alias `live` on version 1."""
    iam, lam = aws("iam"), aws("lambda")
    role = create_lambda_role(iam, f"rt-{uuid.uuid4().hex[:8]}")
    created = []

    def create(reserved: int | None = None, timeout: int = 3, memory: int = 256) -> str:
        name = f"rt-{uuid.uuid4().hex[:8]}"
        lam.create_function(FunctionName=name, Runtime="python3.11", Role=role,
                            Handler="app.lambda_handler", Code={"ZipFile": handler_zip()},
                            Timeout=timeout, MemorySize=memory)
        version = lam.publish_version(FunctionName=name)["Version"]
        lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
        if reserved is not None:
            lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=reserved)
        created.append(name)
        return name

    yield create
    for name in created:  # deleting the function shuts its environments down
        lam.delete_function(FunctionName=name)


def call(lam, name: str, event: dict | None = None, **kwargs) -> tuple[dict, dict, str]:
    reply = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}).encode(),
                       LogType="Tail", **kwargs)
    logs = base64.b64decode(reply["LogResult"]).decode()
    return reply, json.loads(reply["Payload"].read()), logs


def test_warm_environment_is_reused_and_initialised_once(aws, make_function):
    lam = aws("lambda")
    name = make_function()
    _, first, first_logs = call(lam, name)
    _, second, second_logs = call(lam, name)
    assert second["pid"] == first["pid"]  # the same environment
    assert (first["calls"], second["calls"]) == (1, 2)  # module globals survive: init ran once
    assert "Init Duration" in first_logs.splitlines()[-1]  # cold start reported
    assert "REPORT RequestId" in second_logs and "Init Duration" not in second_logs
    assert first["init_type"] == "on-demand"


@pytest.fixture
def no_retry(aws, emulator_port):
    """A Lambda client that does not retry: botocore would retry a 429 and hide it."""
    return boto3.client("lambda", endpoint_url=emulator.endpoint_url(emulator_port),
                        config=Config(retries={"total_max_attempts": 1}, read_timeout=30))


def test_reserved_concurrency_throttles_beyond_the_limit(aws, make_function, no_retry):
    lam = aws("lambda")
    name = make_function(reserved=2)
    start = threading.Barrier(5)
    outcomes: list[str] = []

    def one() -> None:
        start.wait()
        try:
            reply = no_retry.invoke(FunctionName=name, Payload=b'{"sleep": 2}')
            outcomes.append("error" if "FunctionError" in reply else "ok")
        except ClientError as err:
            error, meta = err.response["Error"], err.response["ResponseMetadata"]
            outcomes.append(f"{error['Code']}:{meta['HTTPStatusCode']}")

    threads = [threading.Thread(target=one) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["TooManyRequestsException:429"] * 3 + ["ok"] * 2
    # The slots free up again once the running invocations finished.
    assert call(lam, name)[1]["calls"] >= 1


def test_zero_reserved_concurrency_throttles_everything(make_function, no_retry):
    name = make_function(reserved=0)
    with pytest.raises(ClientError) as err:
        no_retry.invoke(FunctionName=name, Payload=b"{}")
    assert err.value.response["Error"]["Code"] == "TooManyRequestsException"


def test_provisioned_environments_are_ready_before_the_first_call(aws, make_function):
    lam = aws("lambda")
    name = make_function(reserved=3)
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="live",
                                           ProvisionedConcurrentExecutions=2)
    config = wait_for_provisioned(lam, name, "live")
    assert config["Status"] == "READY"
    assert config["AllocatedProvisionedConcurrentExecutions"] == 2
    _, payload, logs = call(lam, name, Qualifier="live")
    assert payload["init_type"] == "provisioned-concurrency"
    assert payload["calls"] == 1
    assert "Init Duration" not in logs  # no cold start on a provisioned environment
    # Each environment has its own log stream (INIT_START, then its invocations); log
    # delivery is asynchronous, as CloudWatch's is.
    deadline, streams = time.monotonic() + 10, []
    while len(streams) < 2 and time.monotonic() < deadline:
        group = aws("logs").describe_log_streams(logGroupName=f"/aws/lambda/{name}")
        streams = group["logStreams"]
        time.sleep(0.2)
    assert len(streams) == 2


def test_code_change_recycles_the_environments(aws, make_function):
    lam = aws("lambda")
    name = make_function()
    _, before, _ = call(lam, name)
    lam.update_function_code(FunctionName=name, ZipFile=handler_zip("v2"))
    _, after, _ = call(lam, name)
    assert after["tag"] == "v2"
    assert after["pid"] != before["pid"]
    # The published version keeps its own code and environments.
    assert call(lam, name, Qualifier="live")[1]["tag"] == "v1"


def test_timeout_ends_the_environment_and_the_next_call_starts_fresh(aws, make_function):
    lam = aws("lambda")
    name = make_function(timeout=1)
    _, warm, _ = call(lam, name)
    reply, payload, _ = call(lam, name, {"sleep": 3})
    assert reply["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in payload["errorMessage"]
    _, fresh, _ = call(lam, name)
    assert fresh["pid"] != warm["pid"] and fresh["calls"] == 1


def test_memory_size_is_enforced(aws, make_function):
    lam = aws("lambda")
    name = make_function(memory=128)
    reply, payload, logs = call(lam, name, {"allocate_mb": 400})
    assert reply["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.OutOfMemory"
    assert "Max Memory Used: 128 MB" in logs
    _, small, _ = call(lam, name, {"allocate_mb": 8})  # a fresh environment serves again
    assert small["allocated"] == 8 * 1024 * 1024


def test_handler_log_lines_reach_the_log_group_and_tail(aws, make_function):
    lam = aws("lambda")
    name = make_function()
    _, _, tail = call(lam, name)
    request_id = tail.split("START RequestId: ")[1].split()[0]
    handler_line = next(line for line in tail.splitlines() if line.startswith("[INFO]"))
    assert json.loads(handler_line.split("\t", 3)[3]) == {"request_id": request_id, "calls": 1}
    assert handler_line.split("\t")[2] == request_id  # the runtime's text format
    deadline = time.monotonic() + 10
    messages: list[str] = []
    while time.monotonic() < deadline:
        events = aws("logs").filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        messages = [event["message"] for event in events]
        if any(m.startswith("REPORT") for m in messages):
            break
        time.sleep(0.2)
    assert handler_line in messages
    assert any(m.startswith(f"START RequestId: {request_id}") for m in messages)
    assert any(m.startswith(f"END RequestId: {request_id}") for m in messages)


@pytest.mark.parametrize("body", [b"not json", b"{", b'{"a": }', b"\xff\xfe\x00"])
def test_non_json_payload_gets_aws_error_without_running_code(aws, make_function, body):
    lam = aws("lambda")
    name = make_function()
    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName=name, Payload=body)
    response = err.value.response
    assert response["Error"]["Code"] == "InvalidRequestContentException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    message = response["Error"]["Message"]
    assert message.startswith("Could not parse request body into json")
    assert "Traceback" not in message and "/" not in message.split(":", 1)[1]
