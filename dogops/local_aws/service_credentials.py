"""Credentials of a role, obtained as the AWS service that runs a component would obtain them.

On AWS, SageMaker (training job, endpoint), Lambda and EC2 call STS AssumeRole on the role the
resource names, and the trust policy must allow that service. The emulator's components do the
same through the emulator's STS: the call is signed with the operator's key and names the service
in the signed `X-Dogops-Service-Principal` header; the emulator then evaluates the role's trust
policy for that service principal (dogops/local_aws/moto_patches/iam_enforcement.py). The
component then runs with the returned temporary credentials only, as it would on AWS.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from dogops.errors import UserError

SERVICE_PRINCIPAL_HEADER = "X-Dogops-Service-Principal"
SOURCE_ARN_HEADER = "X-Dogops-Source-Arn"
CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                        "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE")


def session_name_for(name: str) -> str:
    """STS allows 2-64 characters of [\\w+=,.@-] in a session name."""
    cleaned = re.sub(r"[^\w+=,.@-]", "-", name)[:64]
    return cleaned if len(cleaned) >= 2 else f"{cleaned}--"[:2]


def assume_role_as(service: str, role_arn: str, session_name: str, endpoint_url: str,
                   operator: Mapping[str, str], region: str = "us-east-1",
                   source_arn: str | None = None, duration_s: int = 3600) -> dict[str, str]:
    """AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN of `role_arn` for `service`.

    A role the trust policy does not grant the service, or one that does not exist, is a
    UserError naming both."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    if not role_arn:
        raise UserError(f"no role to run as {service}: the resource names no role ARN")
    sts = boto3.client("sts", endpoint_url=endpoint_url, region_name=region,
                       aws_access_key_id=operator["AWS_ACCESS_KEY_ID"],
                       aws_secret_access_key=operator["AWS_SECRET_ACCESS_KEY"])

    def name_the_service(request, **_kwargs) -> None:
        request.headers[SERVICE_PRINCIPAL_HEADER] = service
        if source_arn:
            request.headers[SOURCE_ARN_HEADER] = source_arn

    sts.meta.events.register("before-sign.sts.AssumeRole", name_the_service)
    try:
        answer = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name_for(session_name),
                                 DurationSeconds=duration_s)
    except ClientError as err:
        raise UserError(f"{service} cannot assume {role_arn} on the emulator "
                        f"({err.response['Error'].get('Code')}): its trust policy must allow "
                        f"sts:AssumeRole to {service}") from None
    except BotoCoreError as err:
        raise UserError(f"cannot reach the emulator's STS at {endpoint_url}: {err}") from None
    creds = answer["Credentials"]
    return {"AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
            "AWS_SESSION_TOKEN": creds["SessionToken"]}


def with_role(env: Mapping[str, str], role_credentials: Mapping[str, str]) -> dict[str, str]:
    """`env` with every other credential source removed and the role's credentials set."""
    clean = {k: v for k, v in env.items() if k not in CREDENTIAL_VARIABLES}
    clean.update(role_credentials)
    return clean


def role_client(service_client, role_credentials: Mapping[str, str]):
    """A client like `service_client` (same service, endpoint, region) acting as the role."""
    import boto3

    meta = service_client.meta
    return boto3.client(meta.service_model.service_name, endpoint_url=meta.endpoint_url,
                        region_name=meta.region_name,
                        aws_access_key_id=role_credentials["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=role_credentials["AWS_SECRET_ACCESS_KEY"],
                        aws_session_token=role_credentials["AWS_SESSION_TOKEN"])
