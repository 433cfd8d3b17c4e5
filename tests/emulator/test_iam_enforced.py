"""IAM enforcement on the emulator (moto_patches/iam_enforcement.py, identity_policies.py,
resource_arns.py): the evaluator's rules, then the running emulator applying them."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.iam.access_control import PermissionResult

from dogops.errors import UserError
from dogops.local_aws import emulator
from dogops.local_aws.moto_patches.iam_enforcement import service_may_assume
from dogops.local_aws.moto_patches.identity_policies import decide, principal_may_assume
from dogops.local_aws.service_credentials import assume_role_as, session_name_for

ACCOUNT = "123456789012"
TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"},
    "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}]}
LIST_MODELS = {"Statement": [{"Effect": "Allow", "Action": "s3:ListBucket",
                              "Resource": "arn:aws:s3:::b",
                              "Condition": {"StringLike": {"s3:prefix": ["models/*"]}}}]}


# -- the rules ----------------------------------------------------------------------------------
def test_trust_policy_names_the_service_and_the_source_account():
    assert service_may_assume(TRUST, "sagemaker.amazonaws.com", {"aws:SourceAccount": ACCOUNT})
    assert not service_may_assume(TRUST, "lambda.amazonaws.com", {"aws:SourceAccount": ACCOUNT})
    assert not service_may_assume(TRUST, "sagemaker.amazonaws.com",
                                  {"aws:SourceAccount": "999999999999"})
    denying = {"Statement": [*TRUST["Statement"], {
        "Effect": "Deny", "Principal": {"Service": "sagemaker.amazonaws.com"},
        "Action": "sts:AssumeRole"}]}
    assert not service_may_assume(denying, "sagemaker.amazonaws.com",
                                  {"aws:SourceAccount": ACCOUNT})
    unknown = {"Statement": [{**TRUST["Statement"][0],
                              "Condition": {"NumericLessThan": {"aws:MultiFactorAuthAge": "60"}}}]}
    assert not service_may_assume(unknown, "sagemaker.amazonaws.com",
                                  {"aws:SourceAccount": ACCOUNT})  # unevaluable: fails closed


def test_identity_conditions_are_evaluated_and_fail_closed():
    assert decide([LIST_MODELS], "s3:ListBucket", "arn:aws:s3:::b",
                  {"s3:prefix": "models/a"}) == PermissionResult.PERMITTED
    for context in ({"s3:prefix": "data/"}, {}):  # another prefix, or none at all
        assert decide([LIST_MODELS], "s3:ListBucket", "arn:aws:s3:::b",
                      context) == PermissionResult.NEUTRAL
    # A failed condition makes an Allow not apply; it is not an explicit Deny (moto's bug).
    other = {"Statement": [{"Effect": "Allow", "Action": "s3:ListBucket",
                            "Resource": "arn:aws:s3:::b"}]}
    assert decide([LIST_MODELS, other], "s3:ListBucket", "arn:aws:s3:::b",
                  {"s3:prefix": "data/"}) == PermissionResult.PERMITTED


def test_role_chaining_needs_the_caller_in_the_trust_policy():
    caller = f"arn:aws:iam::{ACCOUNT}:role/a"
    trusts_a = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": caller},
                               "Action": "sts:AssumeRole"}]}
    assert principal_may_assume(trusts_a, caller, ACCOUNT, {})
    assert not principal_may_assume(TRUST, caller, ACCOUNT, {})  # a service-only trust
    assert not principal_may_assume(trusts_a, f"arn:aws:iam::{ACCOUNT}:role/b", ACCOUNT, {})


def test_session_names_follow_sts_rules():
    assert session_name_for("x") == "x-"
    assert session_name_for("SageMaker-job/with spaces") == "SageMaker-job-with-spaces"
    assert len(session_name_for("n" * 100)) == 64


# -- the running emulator -----------------------------------------------------------------------
@pytest.fixture
def role(aws):
    """A SageMaker-trusted role that may list models/ and read models/* of one bucket."""
    iam, s3 = aws("iam"), aws("s3")
    name = f"enf-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    for key in ("models/m", "data/d"):
        s3.put_object(Bucket=name, Key=key, Body=b"x")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {**LIST_MODELS["Statement"][0], "Resource": f"arn:aws:s3:::{name}"},
            {"Effect": "Allow", "Action": "s3:GetObject",
             "Resource": f"arn:aws:s3:::{name}/models/*"}]}))
    return name, arn


def as_role(emulator_port: int, role_arn: str, service: str = "sagemaker.amazonaws.com"):
    url = emulator.endpoint_url(emulator_port)
    creds = assume_role_as(service, role_arn, "t", url, emulator.operator_credentials(url))
    return boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
                        aws_session_token=creds["AWS_SESSION_TOKEN"])


def aws_sts(emulator_port: int):
    url = emulator.endpoint_url(emulator_port)
    creds = emulator.operator_credentials(url)
    return boto3.client("sts", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"])


def test_assumed_role_gets_exactly_its_grants(emulator_port, role):
    bucket, arn = role
    s3 = as_role(emulator_port, arn)
    assert s3.get_object(Bucket=bucket, Key="models/m")["Body"].read() == b"x"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="models/")["Contents"]] \
        == ["models/m"]
    for call in (lambda: s3.get_object(Bucket=bucket, Key="data/d"),
                 lambda: s3.list_objects_v2(Bucket=bucket, Prefix="data/"),
                 lambda: s3.list_objects_v2(Bucket=bucket),
                 lambda: s3.put_object(Bucket=bucket, Key="models/n", Body=b"y")):
        with pytest.raises(ClientError, match="AccessDenied"):
            call()


def test_only_the_trusted_service_may_assume_and_unknown_keys_are_refused(emulator_port, role):
    _, arn = role
    with pytest.raises(UserError, match="lambda.amazonaws.com cannot assume"):
        as_role(emulator_port, arn, "lambda.amazonaws.com")
    # The operator itself (the account root, no service named) may not either: the role does not
    # trust the account.
    operator_sts = aws_sts(emulator_port)
    with pytest.raises(ClientError, match="AccessDenied"):
        operator_sts.assume_role(RoleArn=arn, RoleSessionName="root")
    url = emulator.endpoint_url(emulator_port)
    stranger = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                            aws_access_key_id="test", aws_secret_access_key="test")
    with pytest.raises(ClientError, match="InvalidAccessKeyId"):
        stranger.list_buckets()


def test_invoke_endpoint_is_authorised_against_the_endpoint_arn(aws, emulator_port):
    """moto checked every sagemaker-runtime call against "*": a grant scoped to the endpoint's
    ARN never matched. resource_arns gives it the ARN (name in lower case)."""
    from emulator_test_helpers import create_lambda_role

    name = f"enf-{uuid.uuid4().hex[:8]}"
    arn = create_lambda_role(aws("iam"), name, [{
        "Effect": "Allow", "Action": "sagemaker:InvokeEndpoint",
        "Resource": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/my-endpoint"}])
    url = emulator.endpoint_url(emulator_port)
    creds = assume_role_as("lambda.amazonaws.com", arn, "t", url, emulator.operator_credentials(url))
    runtime = boto3.client("sagemaker-runtime", endpoint_url=url, region_name="us-east-1",
                           aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
                           aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
                           aws_session_token=creds["AWS_SESSION_TOKEN"])
    with pytest.raises(ClientError) as granted:  # authorised; the endpoint does not exist
        runtime.invoke_endpoint(EndpointName="My-Endpoint", Body=b"{}")
    assert granted.value.response["Error"]["Code"] == "ValidationError"
    with pytest.raises(ClientError) as refused:
        runtime.invoke_endpoint(EndpointName="other-endpoint", Body=b"{}")
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"  # JSON, as AWS


def test_lambda_logs_reach_cloudwatch_only_with_the_roles_grant(aws):
    """Lambda ships a function's logs with its execution role: without the grant they are
    dropped (the invocation itself still answers, and LogType=Tail still shows them)."""
    import base64
    import time

    from emulator_test_helpers import create_lambda_role
    from test_lambda import make_zip

    iam, lam, logs = aws("iam"), aws("lambda"), aws("logs")
    name = f"enf-{uuid.uuid4().hex[:8]}"
    role = create_lambda_role(iam, name)
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=role, Handler="app.handler",
                        Code={"ZipFile": make_zip({"app.py": (
                            "def handler(event, context):\n    print(event['say'])\n")})})

    def say(word: str) -> str:
        reply = lam.invoke(FunctionName=name, Payload=json.dumps({"say": word}).encode(),
                           LogType="Tail")
        return base64.b64decode(reply["LogResult"]).decode()

    def delivered(word: str, wait_s: float) -> bool:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
            except ClientError:
                events = []
            if any(word in event["message"] for event in events):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)

    assert "granted-line" in say("granted-line")
    assert delivered("granted-line", 10)
    iam.delete_role_policy(RoleName=name, PolicyName="logs")
    assert "denied-line" in say("denied-line")
    assert not delivered("denied-line", 2)
    lam.delete_function(FunctionName=name)
