"""Remote Terraform state: an S3 bucket (versioned, encrypted, private) with S3-native locking.

The root configuration declares a partial `backend "s3" {}`; its settings live in a backend
config file that `invoke bootstrap` writes and `terraform init -backend-config=<file>` reads:

- `--target aws`: `terraform/aws.s3.tfbackend`, committed, so every clone and CI runner finds the
  same state;
- `--target local`: `.dogops/local/local.s3.tfbackend`, the same backend rehearsed against the
  emulator (moto honours the conditional writes the lockfile relies on); the emulator's endpoint
  settings are written beside it on every run because its port may change.

Each environment has its own state key (`state_key`). Locking is Terraform's own lockfile
(`use_lockfile = true`, Terraform >= 1.10): no DynamoDB table.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

from dogops import config
from dogops.errors import UserError

AWS_BACKEND_FILE = "aws.s3.tfbackend"
LOCAL_BACKEND_FILE = "local.s3.tfbackend"
EMULATOR_ENDPOINTS_FILE = "emulator-endpoints.s3.tfbackend"
STATE_BUCKET_PREFIX = "dog-breeds-tfstate"
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_SETTING = re.compile(r'^\s*([a-z_]+)\s*=\s*(?:"([^"]*)"|(true|false))\s*$')


def state_key(env: str) -> str:
    """Where one environment's state lives in the bucket (its lockfile is `<key>.tflock`)."""
    return f"dogops/{config.check_env(env)}/terraform.tfstate"


def default_bucket_name(account_id: str, region: str) -> str:
    """Globally unique without coordination: account and region in the name."""
    return f"{STATE_BUCKET_PREFIX}-{account_id}-{region}"


def check_bucket_name(name: str) -> str:
    if not BUCKET_NAME.match(name) or ".." in name:
        raise UserError(f"invalid state bucket name {name!r}: 3-63 lowercase letters, digits, "
                        "'.' and '-'")
    return name


def backend_file(target: str, terraform_dir: Path) -> Path:
    if config.check_target(target) == "aws":
        return Path(terraform_dir) / AWS_BACKEND_FILE
    return config.paths("local").state_dir / LOCAL_BACKEND_FILE


def backend_settings(bucket: str, region: str) -> dict[str, object]:
    """What the backend config file holds (the key is given per environment at init)."""
    return {"bucket": bucket, "region": region, "encrypt": True, "use_lockfile": True}


def emulator_settings(endpoint_url: str) -> dict[str, object]:
    """The S3 backend pointed at the emulator: path-style, no AWS account or metadata checks."""
    return {
        "use_path_style": True,
        "skip_credentials_validation": True,
        "skip_requesting_account_id": True,
        "skip_metadata_api_check": True,
        "skip_region_validation": True,
        "endpoints": {"s3": endpoint_url, "sts": endpoint_url, "iam": endpoint_url},
    }


def render(settings: Mapping[str, object], comment: str = "") -> str:
    """A .tfbackend file (HCL attributes): strings, booleans and one level of maps."""

    def value(item: object) -> str:
        return ("true" if item else "false") if isinstance(item, bool) else json.dumps(str(item))

    lines = [f"# {line}" for line in comment.splitlines()]
    for name, item in settings.items():
        if isinstance(item, Mapping):
            lines.append(f"{name} = {{")
            lines += [f"  {key} = {value(inner)}" for key, inner in item.items()]
            lines.append("}")
        else:
            lines.append(f"{name} = {value(item)}")
    return "\n".join(lines) + "\n"


def read_settings(path: Path) -> dict[str, object]:
    """Top-level string/boolean settings of a backend config file (bucket, region, ...)."""
    settings: dict[str, object] = {}
    depth = 0
    for line in Path(path).read_text().splitlines():
        depth += line.count("{") - line.count("}")
        match = _SETTING.match(line)
        if match and depth == 0:
            settings[match.group(1)] = (match.group(2) if match.group(2) is not None
                                        else match.group(3) == "true")
    if not settings.get("bucket") or not settings.get("region"):
        raise UserError(f"{path} must set bucket and region: run `invoke bootstrap` again")
    return settings


def bucket_region(s3, bucket: str, account_id: str | None) -> str | None:
    """The bucket's region, or None when it does not exist. One clear error when it is owned by
    another account (or unreadable to these credentials)."""
    from botocore.exceptions import ClientError

    extra = {"ExpectedBucketOwner": account_id} if account_id else {}
    try:
        response = s3.head_bucket(Bucket=bucket, **extra)
    except ClientError as err:
        code = str(err.response.get("Error", {}).get("Code", ""))
        headers = err.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        if code in ("404", "NoSuchBucket", "NotFound"):
            return None
        if code in ("301", "PermanentRedirect") and headers.get("x-amz-bucket-region"):
            return headers["x-amz-bucket-region"]
        if code in ("403", "AccessDenied", "Forbidden"):
            owner = f"account {account_id}" if account_id else "these credentials"
            raise UserError(f"state bucket {bucket} exists but is not owned by {owner} (another "
                            "account owns it, or you may not read it): pick another name with "
                            "--state-bucket, or use that account's credentials") from None
        raise
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    region = response.get("BucketRegion") or headers.get("x-amz-bucket-region")
    if not region:
        location = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint")
        region = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(location, location)
    return region


def check_bucket(s3, bucket: str, region: str, account_id: str | None) -> bool:
    """True when the state bucket exists in `region` (owned by the account); False when it does
    not exist; one clear error when it is in another region or account."""
    actual = bucket_region(s3, bucket, account_id)
    if actual is None:
        return False
    if actual != region:
        raise UserError(f"state bucket {bucket} is in {actual}, not {region}: set region = "
                        f"\"{actual}\" in the backend file, or bootstrap a state bucket in "
                        f"{region} (invoke bootstrap --state-bucket NAME)")
    return True


def tls_only_policy(bucket: str, partition: str = "aws") -> str:
    """The same TLS-only bucket policy as the artifacts bucket (policies/bucket_tls_only)."""
    template = (config.REPO_ROOT / "policies" / "bucket_tls_only.json.tftpl").read_text()
    return template.replace("${bucket_arn}", f"arn:{partition}:s3:::{bucket}")


def creation_steps(bucket: str, region: str) -> list[str]:
    """What `create_bucket` does, shown before it does it."""
    return [
        (f"create S3 bucket {bucket} in {region} (Terraform state; a few KB, well under "
         "$0.01/month)"),
        "  versioning on (every state write is kept: a bad apply can be rolled back)",
        "  default encryption SSE-S3 (AES256); the backend also asks for it on every write",
        "  all public access blocked, object ownership BucketOwnerEnforced (no ACLs)",
        "  bucket policy: deny any request without TLS",
    ]


def create_bucket(s3, bucket: str, region: str) -> None:
    """Create the state bucket with its settings (each call below is idempotent)."""
    from botocore.exceptions import ClientError

    args: dict[str, object] = {"Bucket": bucket}
    if region != "us-east-1":
        args["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        s3.create_bucket(**args)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
            raise
    apply_settings(s3, bucket)


def apply_settings(s3, bucket: str) -> None:
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True})
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                   "BucketKeyEnabled": True}]})
    s3.put_bucket_policy(Bucket=bucket, Policy=tls_only_policy(bucket))


def missing_settings(s3, bucket: str) -> list[str]:
    """Which of the required settings an existing state bucket lacks (empty: all in place)."""
    from botocore.exceptions import ClientError

    missing = []
    if s3.get_bucket_versioning(Bucket=bucket).get("Status") != "Enabled":
        missing.append("versioning")
    try:
        s3.get_bucket_encryption(Bucket=bucket)
    except ClientError:
        missing.append("default encryption")
    try:
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        if not all(block.values()):
            missing.append("public access block")
    except ClientError:
        missing.append("public access block")
    return missing


def has_resources(path: Path | None) -> bool:
    """Whether a local state file records any resource (an emptied one needs no migration)."""
    if path is None or not path.is_file() or path.stat().st_size == 0:
        return False
    try:
        return bool(json.loads(path.read_text()).get("resources"))
    except json.JSONDecodeError:
        raise UserError(f"{path} is not valid JSON: nothing migrated; restore it from "
                        f"{path.name}.backup") from None


def envs_with_resources(s3, bucket: str) -> list[str]:
    """Environments whose state in the bucket records any resource."""
    found = []
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="dogops/")
    for item in (obj for page in pages for obj in page.get("Contents", [])):
        parts = item["Key"].split("/")
        if len(parts) == 3 and parts[2] == "terraform.tfstate":
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            if json.loads(body or b"{}").get("resources"):
                found.append(parts[1])
    return sorted(found)


def state_exists(s3, bucket: str, env: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3.head_object(Bucket=bucket, Key=state_key(env))
        return True
    except ClientError:
        return False
