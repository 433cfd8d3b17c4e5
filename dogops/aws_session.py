"""The AWS session for `--target aws`: profile, region and identity as AWS users expect.

The normal boto3 chain decides: `AWS_PROFILE` (or the default profile), the region from
`AWS_REGION` / `AWS_DEFAULT_REGION` or the profile's `region`, and `--region` over all of them.
Each way this can go wrong (a profile that does not exist, an unknown region, no, expired or
invalid credentials) is one clear UserError line, raised before anything is created.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from dogops import config
from dogops.errors import UserError

PARTITIONS = ("aws", "aws-cn", "aws-us-gov")
EXPIRED_CODES = {"ExpiredToken", "ExpiredTokenException", "RequestExpired"}
INVALID_CODES = {"InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException",
                 "AuthFailure", "InvalidAccessKeyId"}


@dataclass(frozen=True)
class RegionChoice:
    region: str
    source: str  # "--region", "AWS_REGION", "profile dev", "default"

    def describe(self) -> str:
        return f"region {self.region} (from {self.source})"


def known_regions() -> set[str]:
    import boto3

    session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x")
    regions: set[str] = set()
    for partition in PARTITIONS:
        for service in ("ec2", "sts", "sagemaker"):
            regions.update(session.get_available_regions(service, partition))
    return regions


def check_region(region: str) -> str:
    if region not in known_regions():
        raise UserError(f"unknown AWS region {region!r}: use a region name such as us-east-1 "
                        "or eu-west-1 (`aws ec2 describe-regions` lists yours)")
    return region


def session_for(region_flag: str | None = None):
    """(boto3 session, RegionChoice) from the normal chain, `--region` first."""
    import boto3
    from botocore.exceptions import ProfileNotFound

    profile = os.environ.get("AWS_PROFILE") or None
    try:
        probe = boto3.Session()
    except ProfileNotFound:
        raise UserError(f"AWS profile {profile!r} (AWS_PROFILE) does not exist in ~/.aws/config "
                        "or ~/.aws/credentials: fix AWS_PROFILE or run `aws configure "
                        f"--profile {profile}`") from None
    if region_flag:
        choice = RegionChoice(region_flag, "--region")
    elif os.environ.get("AWS_REGION"):
        choice = RegionChoice(os.environ["AWS_REGION"], "AWS_REGION")
    elif os.environ.get("AWS_DEFAULT_REGION"):
        choice = RegionChoice(os.environ["AWS_DEFAULT_REGION"], "AWS_DEFAULT_REGION")
    elif probe.region_name:
        choice = RegionChoice(probe.region_name, f"profile {probe.profile_name}")
    else:
        choice = RegionChoice(config.DEFAULT_REGION, "default: no region in the profile or "
                                                     "environment")
    check_region(choice.region)
    return boto3.Session(region_name=choice.region), choice


def caller_identity(session, endpoint_url: str | None = None) -> dict[str, str]:
    """STS GetCallerIdentity, with expired/invalid/missing credentials as one clear line."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
    )

    try:
        return session.client("sts", endpoint_url=endpoint_url).get_caller_identity()
    except NoCredentialsError:
        raise UserError("no AWS credentials found for --target aws: configure them (aws "
                        "configure, AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), or "
                        "use --target local to run everything on the embedded emulator") from None
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code", "")
        if code in EXPIRED_CODES:
            raise UserError("the AWS credentials have expired: refresh them (e.g. `aws sso "
                            "login` or new session credentials) and re-run") from None
        if code in INVALID_CODES:
            raise UserError(f"AWS rejected the credentials ({code}): check the access key "
                            "of the profile or environment") from None
        raise UserError(f"cannot verify the AWS credentials: {code or err}", 1) from None
    except EndpointConnectionError:
        raise UserError(f"cannot reach AWS STS in {session.region_name}: check the network "
                        "or the region", 1) from None
    except BotoCoreError as err:
        raise UserError(f"cannot verify the AWS credentials: {err}", 1) from None
