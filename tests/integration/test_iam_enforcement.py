"""Each role's boundary, proven on the emulator with IAM enforced (docs/security.md).

One module-scoped applied stack (conftest.py; no training, no deploy). Every check acts with the
role's own temporary credentials, obtained as its service obtains them: AssumeRole through the
emulator's STS with the role's trust policy evaluated for that service principal. What a role must
reach is allowed; what it must not reach is AccessDenied. That the components' real steps work with
exactly these grants, and fail without one of them, is shown in test_local_loop.py.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from dogops.errors import UserError

pytestmark = pytest.mark.integration
MODEL_KEY = "training-jobs/job-1/output/model.tar.gz"


@pytest.fixture(scope="module")
def backend(workspace):
    from dogops.backend import for_target

    kind, _ = workspace
    if kind != "moto":
        pytest.skip("IAM enforcement is the dogops emulator's (moto_patches/iam_enforcement.py)")
    return for_target("local")


@pytest.fixture(scope="module")
def stack(backend) -> dict:
    outputs = backend.ensure_stack()
    s3, bucket = backend.client("s3"), str(outputs["bucket_name"])
    # One object under each prefix of the layout (docs/DESIGN.md), written by the operator.
    for key in ("data/train/001.a/x.png", "code/training.tar.gz", MODEL_KEY,
                "training-jobs/job-1/output/output.tar.gz", "checkpoints/c.pt", "models/m.tar.gz"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    return outputs


def credentials(backend, service: str, role_arn: str) -> dict[str, str]:
    from dogops.local_aws.service_credentials import assume_role_as

    return assume_role_as(service, role_arn, "boundary-test", backend.endpoint_url,
                          backend.emulator_credentials(), region=backend.region)


def client_as(backend, service: str, role_arn: str, api: str):
    from dogops.local_aws.service_credentials import role_client

    return role_client(backend.client(api), credentials(backend, service, role_arn))


def denied(call) -> bool:
    """True when the call is refused by IAM (AccessDenied / 403), False when it went through."""
    try:
        call()
    except ClientError as err:
        code = err.response["Error"]["Code"]
        if code in ("AccessDenied", "AccessDeniedException"):
            return True
        raise
    return False


def lambda_role(backend, stack) -> str:
    return backend.client("lambda").get_function(FunctionName=str(stack["function_name"]))[
        "Configuration"]["Role"]


# -- trust: each role only for its own service ------------------------------------------------
def test_each_role_is_assumable_only_by_its_service(backend, stack):
    roles = {"training": (str(stack["training_role_arn"]), "sagemaker.amazonaws.com"),
             "serving": (str(stack["serving_role_arn"]), "sagemaker.amazonaws.com"),
             "lambda": (lambda_role(backend, stack), "lambda.amazonaws.com")}
    for name, (arn, service) in roles.items():
        assert credentials(backend, service, arn)["AWS_SESSION_TOKEN"], name
        for other in {"sagemaker.amazonaws.com", "lambda.amazonaws.com",
                      "ec2.amazonaws.com"} - {service}:
            with pytest.raises(UserError, match=f"{other} cannot assume"):
                credentials(backend, other, arn)


def test_a_role_cannot_assume_another_role(backend, stack):
    sts = client_as(backend, "lambda.amazonaws.com", lambda_role(backend, stack), "sts")
    assert denied(lambda: sts.assume_role(RoleArn=str(stack["serving_role_arn"]),
                                          RoleSessionName="escalate"))


# -- serving role: reads model archives, nothing else -----------------------------------------
def test_serving_role_reads_model_archives_only(backend, stack):
    s3 = client_as(backend, "sagemaker.amazonaws.com", str(stack["serving_role_arn"]), "s3")
    bucket = str(stack["bucket_name"])
    assert s3.get_object(Bucket=bucket, Key=MODEL_KEY)["Body"].read() == b"x"
    assert s3.get_object(Bucket=bucket, Key="models/m.tar.gz")["Body"].read() == b"x"
    for key in ("data/train/001.a/x.png", "code/training.tar.gz", "checkpoints/c.pt",
                "training-jobs/job-1/output/output.tar.gz"):
        assert denied(lambda key=key: s3.get_object(Bucket=bucket, Key=key)), key
    assert denied(lambda: s3.list_objects_v2(Bucket=bucket, Prefix="data/"))


def test_serving_role_cannot_write_training_jobs_or_models(backend, stack):
    s3 = client_as(backend, "sagemaker.amazonaws.com", str(stack["serving_role_arn"]), "s3")
    bucket = str(stack["bucket_name"])
    for key in (MODEL_KEY, "training-jobs/job-2/output/model.tar.gz", "models/m.tar.gz",
                "data/poisoned.png"):
        assert denied(lambda key=key: s3.put_object(Bucket=bucket, Key=key, Body=b"evil")), key
    assert denied(lambda: s3.delete_object(Bucket=bucket, Key=MODEL_KEY))
    backend_s3 = backend.client("s3")
    assert backend_s3.get_object(Bucket=bucket, Key=MODEL_KEY)["Body"].read() == b"x"


# -- training role: reads data and code, writes its job output and checkpoints ----------------
def test_training_role_reads_inputs_and_writes_job_output_only(backend, stack):
    s3 = client_as(backend, "sagemaker.amazonaws.com", str(stack["training_role_arn"]), "s3")
    bucket = str(stack["bucket_name"])
    for key in ("data/train/001.a/x.png", "code/training.tar.gz", "checkpoints/c.pt"):
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"x"
    s3.put_object(Bucket=bucket, Key="training-jobs/job-3/output/model.tar.gz", Body=b"y")
    s3.put_object(Bucket=bucket, Key="checkpoints/d.pt", Body=b"y")
    assert denied(lambda: s3.put_object(Bucket=bucket, Key="models/m.tar.gz", Body=b"evil"))
    assert denied(lambda: s3.put_object(Bucket=bucket, Key="data/poisoned.png", Body=b"evil"))
    assert denied(lambda: s3.get_object(Bucket=bucket, Key="models/m.tar.gz"))


# -- Lambda role: invokes its endpoint, nothing in the bucket ---------------------------------
def test_lambda_role_invokes_its_endpoint_only_and_cannot_read_the_bucket(backend, stack):
    role = lambda_role(backend, stack)
    s3 = client_as(backend, "lambda.amazonaws.com", role, "s3")
    bucket = str(stack["bucket_name"])
    for key in (MODEL_KEY, "data/train/001.a/x.png", "models/m.tar.gz"):
        assert denied(lambda key=key: s3.get_object(Bucket=bucket, Key=key)), key
    assert denied(lambda: s3.list_objects_v2(Bucket=bucket))
    assert denied(lambda: s3.put_object(Bucket=bucket, Key="models/m.tar.gz", Body=b"evil"))
    runtime = client_as(backend, "lambda.amazonaws.com", role, "sagemaker-runtime")

    def invoke(name: str):
        return lambda: runtime.invoke_endpoint(EndpointName=name, Body=b"{}",
                                               ContentType="application/json")

    assert denied(invoke("another-endpoint"))
    # Its own endpoint passes IAM: nothing is deployed in this stack, so the endpoint itself
    # answers (ValidationError), not the authoriser.
    with pytest.raises(ClientError) as raised:
        invoke(str(stack["endpoint_name"]))()
    assert raised.value.response["Error"]["Code"] == "ValidationError"


def test_lambda_role_cannot_touch_iam_sagemaker_or_its_own_function(backend, stack):
    role = lambda_role(backend, stack)
    iam = client_as(backend, "lambda.amazonaws.com", role, "iam")
    assert denied(lambda: iam.put_role_policy(
        RoleName=role.rsplit("/", 1)[-1], PolicyName="escalate", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})))
    sagemaker = client_as(backend, "lambda.amazonaws.com", role, "sagemaker")
    assert denied(lambda: sagemaker.list_endpoints())
    lam = client_as(backend, "lambda.amazonaws.com", role, "lambda")
    assert denied(lambda: lam.get_function(FunctionName=str(stack["function_name"])))


def test_lambda_logs_reach_its_log_group_only_with_its_grant(backend, stack):
    """The Lambda's logs are shipped with its role: WriteOwnLogGroupOnly is what delivers them."""
    import base64
    import re
    import time

    lam, logs = backend.client("lambda"), backend.client("logs")
    group = f"/aws/lambda/{stack['function_name']}"

    def invoke() -> str:
        reply = lam.invoke(FunctionName=str(stack["function_alias_arn"]), LogType="Tail",
                           Payload=json.dumps({"image_url": "not a url"}).encode())
        tail = base64.b64decode(reply["LogResult"]).decode()
        return re.search(r"START RequestId: (\S+)", tail).group(1)

    def delivered(request_id: str, wait_s: float) -> bool:
        deadline = time.monotonic() + wait_s
        while time.monotonic() <= deadline:
            events = logs.filter_log_events(logGroupName=group)["events"]
            if any(request_id in event["message"] for event in events):
                return True
            time.sleep(0.2)
        return False

    assert delivered(invoke(), 10)
    role = str(stack["lambda_role_arn"]).rsplit("/", 1)[-1]
    iam = backend.client("iam")
    (name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    original = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    kept = [s for s in original["Statement"] if s.get("Sid") != "WriteOwnLogGroupOnly"]
    assert len(kept) == len(original["Statement"]) - 1
    iam.put_role_policy(RoleName=role, PolicyName=name,
                        PolicyDocument=json.dumps({**original, "Statement": kept}))
    try:
        assert not delivered(invoke(), 2)
    finally:
        iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(original))
