"""Lambda on the emulator: provisioned concurrency, and Invoke running the real handler."""

from __future__ import annotations

import base64
import io
import json
import os
import time
import uuid
import zipfile

import pytest
from botocore.exceptions import ClientError
from emulator_test_helpers import create_lambda_role

HANDLER_SOURCE = """
import json
import os
import time

import boto3


def lambda_handler(event, context):
    if event.get("raise"):
        raise ValueError("asked to fail")
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("list_buckets"):
        # Reaches the emulator through AWS_ENDPOINT_URL, with the execution role's credentials.
        names = [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]]
        return {"buckets": names}
    print("log line from the handler")
    return {
        "echo": event,
        "greeting": os.environ["GREETING"],
        "function_name": context.function_name,
        "request_id": context.aws_request_id,
        "memory": context.memory_limit_in_mb,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "invoked_arn": context.invoked_function_arn,
        "endpoint": os.environ["AWS_ENDPOINT_URL"],
        "access_key": os.environ.get("AWS_ACCESS_KEY_ID"),
        "has_session_token": bool(os.environ.get("AWS_SESSION_TOKEN")),
        "caller": boto3.client("sts").get_caller_identity()["Arn"],
    }
"""


def make_zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@pytest.fixture
def function(aws):
    """A published python function with an alias `live`, reserved concurrency 5."""
    iam, lam = aws("iam"), aws("lambda")
    name = f"fn-{uuid.uuid4().hex[:8]}"
    # ListAllMyBuckets has no resource-level permissions: "*" is the only resource AWS accepts.
    role = create_lambda_role(iam, name, [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets",
                                           "Resource": "*"}])
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="app.lambda_handler",
        Code={"ZipFile": make_zip({"app.py": HANDLER_SOURCE})},
        Timeout=2,
        MemorySize=256,
        Environment={"Variables": {"GREETING": "hello"}},
        Publish=True,
    )
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=5)
    return name


def wait_for_provisioned(lam, name: str, qualifier: str, timeout_s: float = 60) -> dict:
    """The provisioned-concurrency config once it left IN_PROGRESS (environments initialised)."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=qualifier)
        if got["Status"] != "IN_PROGRESS" or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def invoke(lam, name: str, event: dict, **kwargs) -> tuple[dict, dict]:
    reply = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode(), **kwargs)
    return reply, json.loads(reply["Payload"].read())


def test_invoke_runs_the_real_handler_with_its_environment_and_context(aws, function):
    reply, payload = invoke(aws("lambda"), function, {"x": 1}, LogType="Tail")
    assert reply["StatusCode"] == 200
    assert "FunctionError" not in reply
    assert payload["echo"] == {"x": 1}
    assert payload["greeting"] == "hello"
    assert payload["function_name"] == function
    assert payload["memory"] == "256"
    assert 0 < payload["remaining_ms"] <= 2000
    assert payload["endpoint"].startswith("http://127.0.0.1:")
    # As on AWS: temporary credentials of the function's execution role, never the caller's.
    assert payload["access_key"] != os.environ["AWS_ACCESS_KEY_ID"]
    assert payload["has_session_token"] is True
    assert payload["caller"] == f"arn:aws:sts::123456789012:assumed-role/{function}/{function}"
    uuid.UUID(payload["request_id"])
    assert "log line from the handler" in base64.b64decode(reply["LogResult"]).decode()


def test_invoke_through_alias_and_arn_qualifier(aws, function):
    lam = aws("lambda")
    _, by_qualifier = invoke(lam, function, {"via": "qualifier"}, Qualifier="live")
    assert by_qualifier["echo"] == {"via": "qualifier"}
    assert by_qualifier["invoked_arn"].endswith(f":function:{function}:1")
    alias_arn = lam.get_alias(FunctionName=function, Name="live")["AliasArn"]
    _, by_arn = invoke(lam, alias_arn, {"via": "arn"})
    assert by_arn["echo"] == {"via": "arn"}
    # $LATEST moves on; the alias keeps running its published version.
    lam.update_function_configuration(
        FunctionName=function, Environment={"Variables": {"GREETING": "changed"}}
    )
    assert invoke(lam, function, {})[1]["greeting"] == "changed"
    assert invoke(lam, function, {}, Qualifier="live")[1]["greeting"] == "hello"
    assert invoke(lam, alias_arn, {})[1]["greeting"] == "hello"


def test_handler_can_call_the_emulator_with_what_its_role_grants(aws, function):
    aws("s3").create_bucket(Bucket=f"{function}-bucket")
    _, payload = invoke(aws("lambda"), function, {"list_buckets": True})
    assert f"{function}-bucket" in payload["buckets"]
    # The grant is what allowed it: without it the same call is denied (IAM is enforced).
    aws("iam").delete_role_policy(RoleName=function, PolicyName="test")
    reply, payload = invoke(aws("lambda"), function, {"list_buckets": True})
    assert reply["FunctionError"] == "Unhandled"
    assert "AccessDenied" in payload["errorMessage"]


def test_exception_becomes_an_unhandled_function_error(aws, function):
    reply, payload = invoke(aws("lambda"), function, {"raise": True})
    assert reply["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "ValueError"
    assert payload["errorMessage"] == "asked to fail"


def test_timeout_is_enforced(aws, function):
    reply, payload = invoke(aws("lambda"), function, {"sleep": 5})
    assert reply["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Sandbox.Timedout"
    assert "2.00 seconds" in payload["errorMessage"]


def test_provisioned_concurrency_lifecycle(aws, function):
    lam = aws("lambda")
    put = lam.put_provisioned_concurrency_config(
        FunctionName=function, Qualifier="live", ProvisionedConcurrentExecutions=2
    )
    assert put["RequestedProvisionedConcurrentExecutions"] == 2
    assert put["Status"] in ("IN_PROGRESS", "READY")  # environments initialise in the background
    got = wait_for_provisioned(lam, function, "live")
    assert got["Status"] == "READY"
    assert got["AllocatedProvisionedConcurrentExecutions"] == 2
    listed = lam.list_provisioned_concurrency_configs(FunctionName=function)
    [config] = listed["ProvisionedConcurrencyConfigs"]
    assert config["FunctionArn"].endswith(f":{function}:live")
    lam.delete_provisioned_concurrency_config(FunctionName=function, Qualifier="live")
    with pytest.raises(ClientError) as err:
        lam.get_provisioned_concurrency_config(FunctionName=function, Qualifier="live")
    assert err.value.response["Error"]["Code"] == "ProvisionedConcurrencyConfigNotFoundException"


def test_provisioned_concurrency_rejects_bad_requests(aws, function):
    lam = aws("lambda")
    with pytest.raises(ClientError) as above_reserved:
        lam.put_provisioned_concurrency_config(
            FunctionName=function, Qualifier="live", ProvisionedConcurrentExecutions=6
        )
    assert above_reserved.value.response["Error"]["Code"] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as latest:
        lam.put_provisioned_concurrency_config(
            FunctionName=function, Qualifier="$LATEST", ProvisionedConcurrentExecutions=1
        )
    assert latest.value.response["Error"]["Code"] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as missing:
        lam.get_provisioned_concurrency_config(FunctionName="no-such-fn", Qualifier="live")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_deleting_the_function_drops_its_provisioned_concurrency(aws, function):
    lam = aws("lambda")
    lam.put_provisioned_concurrency_config(
        FunctionName=function, Qualifier="live", ProvisionedConcurrentExecutions=1
    )
    lam.delete_function(FunctionName=function)
    # A new function of the same name starts without the old one's configs.
    lam.create_function(
        FunctionName=function,
        Runtime="python3.11",
        Role=aws("iam").get_role(RoleName=function)["Role"]["Arn"],
        Handler="app.lambda_handler",
        Code={"ZipFile": make_zip({"app.py": HANDLER_SOURCE})},
    )
    assert (
        lam.list_provisioned_concurrency_configs(FunctionName=function)[
            "ProvisionedConcurrencyConfigs"
        ]
        == []
    )


def test_snapstart_setting_is_kept(aws, function):
    lam = aws("lambda")
    assert lam.get_function_configuration(FunctionName=function)["SnapStart"]["ApplyOn"] == "None"
    lam.update_function_configuration(
        FunctionName=function, SnapStart={"ApplyOn": "PublishedVersions"}
    )
    latest = lam.get_function_configuration(FunctionName=function)["SnapStart"]
    assert latest == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
    version = lam.publish_version(FunctionName=function)["Version"]
    published = lam.get_function_configuration(FunctionName=function, Qualifier=version)
    assert published["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
