"""S3 bucket policies: evaluate each statement's Condition instead of ignoring it.

moto 5.2.5 ignores condition operators it does not know (`Bool` among them), so our TLS-only
statement (Deny s3:* when `aws:SecureTransport` is "false") denied every request and nothing
could be written to the Terraform-made bucket. Here a statement applies only when its action,
resource and conditions all match; a condition we cannot evaluate fails closed (a Deny applies,
an Allow does not).

The emulator speaks plain HTTP on loopback. It stands in for AWS's TLS edge, so requests
count as `aws:SecureTransport = "true"` unless DOGOPS_EMULATOR_SECURE_TRANSPORT=false is set in
the emulator's environment (then the TLS-only policy denies them, as AWS would).
"""

from __future__ import annotations

import fnmatch
import json
import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

from moto.iam.access_control import PermissionResult
from moto.s3.models import FakeBucket

SECURE_TRANSPORT_ENV = "DOGOPS_EMULATOR_SECURE_TRANSPORT"
LOG = logging.getLogger(__name__)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _wildcard_match(patterns: Any, value: str) -> bool:
    return any(fnmatch.fnmatchcase(value, str(pattern)) for pattern in _as_list(patterns))


def _string_equals(expected: str, actual: str) -> bool:
    return expected == actual


def _string_like(expected: str, actual: str) -> bool:
    return fnmatch.fnmatchcase(actual, expected)


def _bool(expected: str, actual: str) -> bool:
    return str(expected).lower() == str(actual).lower()


OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": _string_equals,
    "StringLike": _string_like,
    "ArnEquals": _string_equals,
    "ArnLike": _string_like,
    "Bool": _bool,
}
NEGATED = {"StringNotEquals": "StringEquals", "StringNotLike": "StringLike",
           "ArnNotEquals": "ArnEquals", "ArnNotLike": "ArnLike"}


def conditions_match(conditions: Mapping[str, Any], context: Mapping[str, str]) -> bool | None:
    """True/False when every condition could be evaluated; None when one could not."""
    for operator, entries in conditions.items():
        negate = operator in NEGATED
        compare = OPERATORS.get(NEGATED.get(operator, operator))
        if compare is None:
            return None
        for key, expected in entries.items():
            actual = context.get(key)
            if actual is None:  # a missing key never matches (no ...IfExists support)
                return False
            hit = any(compare(str(value), actual) for value in _as_list(expected))
            if hit == negate:
                return False
    return True


def statement_applies(statement: Mapping[str, Any], action: str, resource: str,
                      context: Mapping[str, str]) -> bool:
    if "NotAction" in statement:
        if _wildcard_match(statement["NotAction"], action):
            return False
    elif not _wildcard_match(statement.get("Action", []), action):
        return False
    if "NotResource" in statement:
        if _wildcard_match(statement["NotResource"], resource):
            return False
    elif not _wildcard_match(statement.get("Resource", []), resource):
        return False
    matched = conditions_match(statement.get("Condition") or {}, context)
    if matched is None:
        LOG.warning("bucket policy condition not evaluable; failing closed: %s",
                    statement.get("Condition"))
        return statement.get("Effect") == "Deny"
    return matched


def evaluate(policy: Mapping[str, Any], action: str, resource: str,
             context: Mapping[str, str]) -> PermissionResult:
    """Explicit Deny wins, then any Allow; otherwise the policy says nothing."""
    effects = {statement.get("Effect") for statement in _as_list(policy.get("Statement", []))
               if statement_applies(statement, action, resource, context)}
    if "Deny" in effects:
        return PermissionResult.DENIED
    return PermissionResult.PERMITTED if "Allow" in effects else PermissionResult.NEUTRAL


def request_context() -> dict[str, str]:
    secure = os.environ.get(SECURE_TRANSPORT_ENV, "true").strip().lower() != "false"
    return {"aws:SecureTransport": "true" if secure else "false"}


def get_permission(self: FakeBucket, action: str, resource: str) -> PermissionResult:
    if self.policy is None:
        return PermissionResult.NEUTRAL
    return evaluate(json.loads(self.policy), action, resource, request_context())


def apply() -> None:
    FakeBucket.get_permission = get_permission
