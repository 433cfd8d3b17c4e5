"""Bucket policies on the emulator: conditions are evaluated, Deny still denies."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError
from moto.iam.access_control import PermissionResult

from dogops.local_aws.moto_patches.s3_bucket_policy_conditions import conditions_match, evaluate


def tls_only_policy(bucket: str) -> dict:
    arn = f"arn:aws:s3:::{bucket}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [arn, f"{arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


@pytest.mark.parametrize(
    ("secure", "expected"),
    [("true", PermissionResult.NEUTRAL), ("false", PermissionResult.DENIED)],
)
def test_tls_only_policy_denies_only_insecure_requests(secure, expected):
    result = evaluate(tls_only_policy("b"), "s3:PutObject", "arn:aws:s3:::b/k",
                      {"aws:SecureTransport": secure})
    assert result == expected


def test_statement_outside_its_resources_does_not_apply():
    policy = tls_only_policy("other-bucket")
    assert evaluate(policy, "s3:GetObject", "arn:aws:s3:::b/k",
                    {"aws:SecureTransport": "false"}) == PermissionResult.NEUTRAL


def test_condition_operators_and_fail_closed():
    context = {"aws:SecureTransport": "true", "s3:prefix": "data/train"}
    assert conditions_match({"StringLike": {"s3:prefix": ["data/*"]}}, context) is True
    assert conditions_match({"StringNotLike": {"s3:prefix": "data/*"}}, context) is False
    assert conditions_match({"StringEquals": {"aws:SourceVpce": "vpce-1"}}, context) is False
    assert conditions_match({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, context) is None
    deny_unknown = {"Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*",
                                   "Condition": {"IpAddress": {"aws:SourceIp": "1.2.3.4/32"}}}]}
    assert evaluate(deny_unknown, "s3:GetObject", "arn:aws:s3:::b/k", context) == (
        PermissionResult.DENIED
    )


def test_emulator_writes_under_tls_only_policy_and_honours_plain_deny(aws):
    s3 = aws("s3")
    bucket = f"policy-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(tls_only_policy(bucket)))
    s3.put_object(Bucket=bucket, Key="data/x.txt", Body=b"hello")
    assert s3.get_object(Bucket=bucket, Key="data/x.txt")["Body"].read() == b"hello"

    deny_models = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
                       "Resource": f"arn:aws:s3:::{bucket}/models/*"}],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(deny_models))
    with pytest.raises(ClientError) as denied:
        s3.put_object(Bucket=bucket, Key="models/m.tar.gz", Body=b"x")
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    s3.put_object(Bucket=bucket, Key="data/y.txt", Body=b"ok")
