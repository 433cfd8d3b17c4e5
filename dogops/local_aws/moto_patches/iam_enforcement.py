"""IAM enforced on the emulator: every request after start-up is checked against the caller's policies.

moto enforces IAM in server mode once `settings.INITIAL_NO_AUTH_ACTION_COUNT` requests have been
served; we set it to 0, so nothing runs unauthenticated. Two identities exist besides IAM's own:

- **The operator** (Terraform, the tooling, the tests): the account's root, as an AWS account
  owner's admin credentials are. Its access key is generated once per state dir and kept in
  `<state dir>/operator-credentials.json` (mode 0600, never logged);
  `dogops.local_aws.emulator.client_environment()` hands it to clients. Root is not governed by
  identity policies, so no `Action: "*"` policy exists anywhere; its requests are still signature
  checked.
- **Service principals.** On AWS, SageMaker, Lambda and EC2 assume a role through STS on the
  account's behalf. Here the emulator's own components (Lambda environments, the local training
  job, the endpoint host, the EC2 user data) do that with the operator's key, naming the service
  they stand in for in the signed `X-Dogops-Service-Principal` header (`assume_role_as()`). The
  role's trust policy decides, evaluated here (moto's evaluator cannot: it compares only `AWS`
  principals and crashes on `Service` ones): an `Allow` of `sts:AssumeRole` to that service,
  whose conditions hold for `aws:SourceAccount` = this account and `aws:SourceArn` when given; an
  explicit `Deny` wins; a condition operator or key we cannot evaluate fails closed.

The resulting assumed-role credentials are ordinary moto ones; their requests are checked against
the role's inline and attached policies by `identity_policies` (conditions evaluated). See
docs/security.md for what the emulator does and does not check.
"""

from __future__ import annotations

import fnmatch
import json
import os
import secrets
import string
from pathlib import Path
from typing import Any

from dogops.local_aws.moto_patches import endpoint_registry
from dogops.local_aws.service_credentials import SERVICE_PRINCIPAL_HEADER, SOURCE_ARN_HEADER

CREDENTIALS_FILE = "operator-credentials.json"
# Signing names of the REST-JSON services the stack calls (JSON-1.x ones send X-Amz-Target).
REST_JSON_SIGNING_NAMES = {"lambda", "sagemaker"}
_KEY_ALPHABET = string.ascii_uppercase + string.digits

_operator: dict[str, str] = {}


def credentials_path(state_dir: Path | None = None) -> Path:
    return Path(state_dir or endpoint_registry.default_state_dir()) / CREDENTIALS_FILE


def load_or_create_operator(state_dir: Path | None = None) -> dict[str, str]:
    """The operator's key of this state dir: reused across restarts, created on first start."""
    path = credentials_path(state_dir)
    try:
        record = json.loads(path.read_text())
        if isinstance(record, dict) and {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(record):
            return {k: str(record[k]) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    except (FileNotFoundError, json.JSONDecodeError):
        pass
    record = {
        "AWS_ACCESS_KEY_ID": "AKIA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16)),
        "AWS_SECRET_ACCESS_KEY": secrets.token_urlsafe(30),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created 0600 from the start: the key never sits in a world-readable file, even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(record, handle)
    return record


def operator() -> dict[str, str]:
    """The operator's key inside the emulator process (for components standing in for services)."""
    if not _operator:
        raise RuntimeError("iam_enforcement is not applied in this process")
    return dict(_operator)


def is_operator(access_key_id: str) -> bool:
    return bool(_operator) and secrets.compare_digest(access_key_id, _operator["AWS_ACCESS_KEY_ID"])


class OperatorAccessKey:
    """The account root's key, for moto's access control (signature check, caller ARN)."""

    def __init__(self, account_id: str, partition: str, access_key_id: str):
        self.account_id, self.partition, self._access_key_id = account_id, partition, access_key_id

    @property
    def arn(self) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:root"

    def create_credentials(self) -> Any:
        from botocore.credentials import Credentials

        return Credentials(self._access_key_id, _operator["AWS_SECRET_ACCESS_KEY"])

    def collect_policies(self) -> list:
        return []


# -- trust policies for service principals ----------------------------------------------------

def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _matches(patterns: Any, value: str) -> bool:
    return any(fnmatch.fnmatchcase(value, str(p)) for p in _as_list(patterns))


def _condition_holds(condition: dict, context: dict[str, str]) -> bool:
    """String/Arn (Not)Equals/Like over the keys we know; anything else fails closed."""
    for operator, keys in condition.items():
        base = operator.removesuffix("IfExists")
        for key, expected in keys.items():
            actual = context.get(key)
            if actual is None:
                if operator.endswith("IfExists"):
                    continue
                return False
            if base in ("StringEquals", "ArnEquals"):
                ok = actual in [str(v) for v in _as_list(expected)]
            elif base in ("StringLike", "ArnLike"):
                ok = _matches(expected, actual)
            elif base in ("StringNotEquals", "ArnNotEquals"):
                ok = actual not in [str(v) for v in _as_list(expected)]
            elif base in ("StringNotLike", "ArnNotLike"):
                ok = not _matches(expected, actual)
            else:
                return False
            if not ok:
                return False
    return True


def service_may_assume(trust_policy: str | dict, service: str, context: dict[str, str]) -> bool:
    """True when the trust policy lets `service` assume the role in this request context."""
    document = json.loads(trust_policy) if isinstance(trust_policy, str) else trust_policy
    allowed = False
    for statement in _as_list(document.get("Statement", [])):
        if not _matches(statement.get("Action", []), "sts:AssumeRole"):
            continue
        principal = statement.get("Principal") or {}
        if principal != "*" and service not in _as_list(principal.get("Service", [])):
            continue
        if not _condition_holds(statement.get("Condition") or {}, context):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def _check_operator_assume_role(request: Any, role_arn: str) -> None:
    """The operator standing in for a service: the role's trust policy must allow that service."""
    from moto.iam.exceptions import NotFoundException

    from dogops.local_aws.moto_patches.identity_policies import principal_may_assume

    headers = request._headers
    try:
        role = request.backend.get_role_by_arn(role_arn)
    except NotFoundException:
        request._raise_access_denied()
    service = headers.get(SERVICE_PRINCIPAL_HEADER)
    if not service:  # the root itself: as on AWS, only a role that trusts the account
        trust = json.loads(role.assume_role_policy_document)
        if not principal_may_assume(trust, request._access_key.arn, request.account_id, {}):
            request._raise_access_denied()
        return
    context = {"aws:SourceAccount": request.account_id}
    if headers.get(SOURCE_ARN_HEADER):
        context["aws:SourceArn"] = headers[SOURCE_ARN_HEADER]
    if not service_may_assume(role.assume_role_policy_document, service, context):
        request._raise_access_denied()


def apply() -> None:
    from moto import settings
    from moto.iam import access_control

    _operator.update(load_or_create_operator())
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0

    original_create = access_control.create_access_key

    def create_access_key(account_id: str, partition: str, access_key_id: str,
                          headers: dict[str, str]) -> Any:
        if is_operator(access_key_id) and "X-Amz-Security-Token" not in headers:
            return OperatorAccessKey(account_id, partition, access_key_id)
        return original_create(account_id, partition, access_key_id, headers)

    access_control.create_access_key = create_access_key

    from dogops.local_aws.moto_patches import identity_policies

    def check_action_permitted(self: Any, resource: str) -> None:
        if isinstance(self._access_key, OperatorAccessKey):
            if self._action == "sts:AssumeRole":
                _check_operator_assume_role(self, resource)
            return
        identity_policies.check(self, resource)  # users and assumed roles: conditions evaluated

    access_control.IAMRequestBase.check_action_permitted = check_action_permitted

    original_request = access_control.IAMRequestBase._create_aws_request

    def create_aws_request(self: Any) -> Any:
        # moto rebuilds the signed payload from the parsed parameters when the raw body is
        # empty. That is right for a form POST (werkzeug consumed the body) but wrong for a
        # bodiless REST call (Lambda GetFunction, GetAlias...): it signs the query or even the
        # headers as a body, and the operator's correctly signed GETs failed the check.
        request = original_request(self)
        content_type = next((v for k, v in self._headers.items() if k.lower() == "content-type"),
                            "")
        if not self._body and "x-www-form-urlencoded" not in content_type:
            request.data = b""
        return request

    access_control.IAMRequestBase._create_aws_request = create_aws_request

    original_denied = access_control.IAMRequest._raise_access_denied

    def raise_access_denied(self: Any) -> None:
        # moto answers AccessDenied as XML for every service; JSON-protocol clients (Lambda,
        # SageMaker, sagemaker-runtime, Logs...) then see only "403". AWS answers them in JSON.
        if self._headers.get("X-Amz-Target") or self._service in REST_JSON_SIGNING_NAMES:
            from moto.core.exceptions import JsonRESTError

            error = JsonRESTError("AccessDeniedException",
                                  f"User: {self._access_key.arn} is not authorized to perform: "
                                  f"{self._action}")
            error.code = 403
            raise error
        original_denied(self)

    access_control.IAMRequest._raise_access_denied = raise_access_denied

    original_init = access_control.IAMRequestBase.__init__

    def init(self: Any, account_id: str, method: str, path: str, data: Any, body: Any,
             headers: Any, action: str) -> None:
        # An unsigned request is anonymous: AWS answers 403; moto failed with a KeyError (500).
        if "Authorization" not in headers:
            from moto.core.exceptions import AccessDeniedError
            from moto.s3.exceptions import S3AccessDeniedError

            if isinstance(self, access_control.S3IAMRequest):
                raise S3AccessDeniedError()
            raise AccessDeniedError(user_arn="anonymous", action=str(action))
        original_init(self, account_id, method, path, data, body, headers, action)

    access_control.IAMRequestBase.__init__ = init
