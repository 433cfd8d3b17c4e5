"""Identity-policy evaluation with conditions, for IAM users and assumed roles on the emulator.

moto's evaluator (moto/iam/access_control.py) ignores a statement's Condition unless the request
brings values for its keys, which it never does for identity policies: the training role's
`s3:ListBucket` limited by `s3:prefix` let it list the whole bucket. It also knows only
`StringEquals`, has no `NotResource`, turns an Allow whose condition fails into an explicit Deny,
and crashes (500) on a role-to-role AssumeRole when the target's trust policy names a `Service`.

Here each policy is evaluated with the same statement evaluator as bucket policies
(`s3_bucket_policy_conditions.evaluate`: Action/NotAction, Resource/NotResource, String/Arn
(Not)Equals/Like and Bool conditions; a condition that cannot be evaluated fails closed, so an
Allow does not apply and a Deny does). An explicit Deny wins, otherwise any Allow grants.

Request context supplied: `aws:SecureTransport` (as for bucket policies), `aws:PrincipalArn`,
`aws:PrincipalAccount`, and for `s3:ListBucket` the `s3:prefix` of the request (absent when none
is given, as on AWS). Any other condition key is absent, so a statement conditioned on it does not
grant (fail closed): see docs/security.md for the list.
"""

from __future__ import annotations

from typing import Any

from moto.iam.access_control import IAMPolicy, PermissionResult

from dogops.local_aws.moto_patches.s3_bucket_policy_conditions import evaluate, request_context


def policy_document(policy: Any) -> dict:
    """A collected policy (inline string or dict, or a managed Policy) as a JSON document."""
    return IAMPolicy(policy)._policy_json


def _first(value: Any) -> str | None:
    if isinstance(value, list):
        return str(value[0]) if value else None
    return None if value is None else str(value)


def identity_context(request: Any) -> dict[str, str]:
    context = request_context()
    context["aws:PrincipalArn"] = _principal_arn(request._access_key.arn)
    context["aws:PrincipalAccount"] = request.account_id
    if request._action == "s3:ListBucket":
        prefix = _first((request._data or {}).get("prefix"))
        if prefix is not None:
            context["s3:prefix"] = prefix
    return context


def _principal_arn(caller_arn: str) -> str:
    """aws:PrincipalArn of an assumed-role session is the role's ARN, not the session's."""
    if ":assumed-role/" in caller_arn:
        head, _, rest = caller_arn.partition(":assumed-role/")
        return f"{head.replace(':sts:', ':iam:')}:role/{rest.split('/')[0]}"
    return caller_arn


def decide(documents: list[dict], action: str, resource: str,
           context: dict[str, str]) -> PermissionResult:
    results = [evaluate(document, action, resource, context) for document in documents]
    if PermissionResult.DENIED in results:
        return PermissionResult.DENIED
    return PermissionResult.PERMITTED if PermissionResult.PERMITTED in results else \
        PermissionResult.NEUTRAL


def principal_may_assume(trust: dict, caller_role_arn: str, account_id: str,
                         context: dict[str, str]) -> bool:
    """Role chaining: the target's trust policy must name the caller (its role ARN, its
    account's root or account id, or "*")."""
    names = {caller_role_arn, f"arn:aws:iam::{account_id}:root", account_id, "*"}
    granted = []
    for statement in trust.get("Statement", []) if isinstance(trust.get("Statement"), list) \
            else [trust.get("Statement", {})]:
        principal = statement.get("Principal") or {}
        listed = principal if principal == "*" else principal.get("AWS", [])
        listed = listed if isinstance(listed, list) else [listed]
        if not names & {str(p) for p in listed}:
            continue
        scoped = {k: v for k, v in statement.items() if k != "Principal"}
        scoped.setdefault("Resource", "*")
        granted.append({"Statement": [scoped]})
    return decide(granted, "sts:AssumeRole", "*", context) == PermissionResult.PERMITTED


def role_allows(account_id: str, role_arn: str, actions: list[str], resource: str) -> bool:
    """Whether the role's own policies grant every action on `resource`: for work the emulator
    does on a role's behalf inside its own process (e.g. shipping a Lambda's logs)."""
    from moto.iam.exceptions import NotFoundException
    from moto.iam.models import iam_backends

    try:
        role = iam_backends[account_id]["aws"].get_role_by_arn(role_arn)
    except NotFoundException:
        return False
    documents = [policy_document(doc) for doc in role.policies.values()]
    documents += [policy_document(policy) for policy in role.managed_policies.values()]
    context = {**request_context(), "aws:PrincipalArn": role_arn, "aws:PrincipalAccount": account_id}
    return all(decide(documents, action, resource, context) == PermissionResult.PERMITTED
               for action in actions)


def check(request: Any, resource: str) -> None:
    """Replaces IAMRequestBase.check_action_permitted for users and assumed roles."""
    if request._action == "sts:GetCallerIdentity":  # always allowed, as on AWS
        return
    context = identity_context(request)
    documents = [policy_document(p) for p in request._access_key.collect_policies()]
    if decide(documents, request._action, resource, context) != PermissionResult.PERMITTED:
        request._raise_access_denied()
    if request._action == "sts:AssumeRole" and ":role/" in resource:
        from moto.iam.exceptions import NotFoundException

        try:
            role = request.backend.get_role_by_arn(resource)
        except NotFoundException:
            request._raise_access_denied()
        trust = policy_document(role.assume_role_policy_document)
        if not principal_may_assume(trust, context["aws:PrincipalArn"], request.account_id,
                                    context):
            request._raise_access_denied()
