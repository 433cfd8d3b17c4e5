"""Fail on over-broad IAM grants in every policy document of a Terraform plan.

Reads `terraform show -json` output (dogops.policy_render makes one with every option on) and
checks each rendered document: role policies, trust policies, bucket/key/topic policies.

Rules (each finding names the resource, the statement and what to do):
  WILDCARD_ACTION    an Allow with "*" in an action ("*", "s3:*", "s3:Get*")
  NOT_ACTION         an Allow with NotAction / NotResource (grants everything not listed)
  RESOURCE_STAR      an Allow on Resource "*" for an action not in the reviewed allow-list
                     (policies/policy_check.json), or without the condition the list requires
  PASSROLE_STAR      iam:PassRole on a wildcard resource (any role to any service)
  PRINCIPAL_STAR     a resource policy that allows Principal "*" without a condition
  UNKNOWN_AT_PLAN    a document only known after apply: it cannot be reviewed or checked
  parliament's own   (identity policies) e.g. RESOURCE_STAR for actions it knows support
                     resource-level permissions, RESOURCE_MISMATCH, UNKNOWN_ACTION, MALFORMED

parliament (1.6.4) lives in its own venv (.venv-policy, see the Makefile): it needs the removed
pkg_resources. Without it the check fails rather than passing on half the rules.

    python -m dogops.policy_check build/policy-check/plan.json [--exceptions policies/policy_check.json]
Exit status: 0 clean, 1 findings, 2 bad input.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

DEFAULT_EXCEPTIONS = Path(__file__).resolve().parent.parent / "policies" / "policy_check.json"
POLICY_ATTRIBUTES = ("policy", "assume_role_policy", "policy_document")
IDENTITY_TYPES = {"aws_iam_role_policy", "aws_iam_policy", "aws_iam_user_policy",
                  "aws_iam_group_policy"}
# Where the document is the resource's point, an unknown one is a finding. Elsewhere the
# attribute is optional and computed (a bucket's or topic's `policy`): unknown only matters when
# the configuration sets it.
REQUIRED_DOCUMENTS = {(t, "policy") for t in IDENTITY_TYPES} | {
    ("aws_iam_role", "assume_role_policy"), ("aws_s3_bucket_policy", "policy"),
    ("aws_sns_topic_policy", "policy"), ("aws_kms_key_policy", "policy"),
}


@dataclass(frozen=True)
class Document:
    address: str   # e.g. module.iam.aws_iam_role_policy.lambda
    attribute: str  # policy / assume_role_policy / ...
    kind: str      # identity, trust or resource
    text: str | None  # None: only known after apply


@dataclass(frozen=True)
class Finding:
    address: str
    statement: str
    issue: str
    message: str

    def __str__(self) -> str:
        return f"{self.address} [{self.statement}]: {self.issue}: {self.message}"


def _configured_attributes(plan: dict) -> dict[str, set[str]]:
    """{resource address without instance keys: attributes the configuration sets}."""
    found: dict[str, set[str]] = {}

    def walk(module: dict, prefix: str) -> None:
        for resource in module.get("resources", []):
            found[prefix + resource["address"]] = set(resource.get("expressions", {}))
        for name, call in module.get("module_calls", {}).items():
            walk(call.get("module", {}), f"{prefix}module.{name}.")

    walk(plan.get("configuration", {}).get("root_module", {}), "")
    return found


def _strip_keys(address: str) -> str:
    """module.a[0].aws_x.b["k"] -> module.a.aws_x.b"""
    out, depth = [], 0
    for char in address:
        depth += char == "["
        if depth == 0:
            out.append(char)
        depth -= char == "]"
    return "".join(out)


def documents_from_plan(plan: dict) -> list[Document]:
    """Every policy document the plan would create or change."""
    configured = _configured_attributes(plan)
    docs = []
    for change in plan.get("resource_changes", []):
        after = change.get("change", {}).get("after") or {}
        unknown = change.get("change", {}).get("after_unknown") or {}
        if "delete" in change.get("change", {}).get("actions", []) and not after:
            continue
        rtype = change.get("type", "")
        for attribute in POLICY_ATTRIBUTES:
            kind = ("trust" if attribute == "assume_role_policy"
                    else "identity" if rtype in IDENTITY_TYPES else "resource")
            if unknown.get(attribute) is True:
                if ((rtype, attribute) in REQUIRED_DOCUMENTS
                        or attribute in configured.get(_strip_keys(change["address"]), ())):
                    docs.append(Document(change["address"], attribute, kind, None))
            elif isinstance(after.get(attribute), str) and after[attribute].strip():
                docs.append(Document(change["address"], attribute, kind, after[attribute]))
        # Inline policies embedded in a role
        for inline in after.get("inline_policy") or []:
            if isinstance(inline, dict) and inline.get("policy"):
                docs.append(Document(change["address"], "inline_policy", "identity",
                                     inline["policy"]))
    return docs


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _label(statement: dict, index: int) -> str:
    return str(statement.get("Sid") or f"statement {index}")


def _principal_is_star(principal) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        return any("*" in _as_list(value) for value in principal.values())
    return False


def check_statements(doc: Document, policy: dict, exceptions: dict) -> list[Finding]:
    """The repository's own rules (independent of parliament)."""
    allowed_star = exceptions.get("resource_star_allowed", {})
    findings = []
    statements = _as_list(policy.get("Statement", []))
    for index, statement in enumerate(statements):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        label = _label(statement, index)

        def add(issue: str, message: str, label: str = label) -> None:
            findings.append(Finding(doc.address, label, issue, message))

        for key in ("NotAction", "NotResource"):
            if key in statement:
                add("NOT_ACTION", f"Allow with {key} grants everything not listed: list the "
                    "actions and resources instead")
        actions = [str(a) for a in _as_list(statement.get("Action", []))]
        wild = [a for a in actions if "*" in a]
        if wild:
            add("WILDCARD_ACTION", f"Allow grants wildcard action(s) {wild}: name the exact "
                "actions the role needs")
        if doc.kind == "trust":
            continue
        resources = [str(r) for r in _as_list(statement.get("Resource", []))]
        if doc.kind == "resource" and _principal_is_star(statement.get("Principal")) \
                and not statement.get("Condition"):
            add("PRINCIPAL_STAR", "Allow to Principal \"*\" without a condition: name the "
                "principal (service or account) or restrict it with aws:SourceAccount/SourceArn")
        if any(a.lower() == "iam:passrole" for a in actions) and any("*" in r for r in resources):
            add("PASSROLE_STAR", f"iam:PassRole on {resources}: name the role ARNs and restrict "
                "the service with iam:PassedToService")
        if "*" in resources:
            condition_keys = {key.lower() for ops in (statement.get("Condition") or {}).values()
                              if isinstance(ops, dict) for key in ops}
            for action in actions:
                entry = allowed_star.get(action)
                if entry is None:
                    add("RESOURCE_STAR", f"{action} on Resource \"*\": name the ARNs; if AWS "
                        "really has no resource-level permissions for it, add it with the reason "
                        "to policies/policy_check.json (reviewed)")
                    continue
                missing = [k for k in entry.get("required_condition_keys", [])
                           if k.lower() not in condition_keys]
                if missing:
                    add("RESOURCE_STAR", f"{action} on Resource \"*\" needs the condition key(s) "
                        f"{missing} (policies/policy_check.json)")
    return findings


def check_with_parliament(doc: Document, exceptions: dict) -> list[Finding]:
    """parliament's analysis of an identity policy, minus the reviewed accepted findings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pkg_resources deprecation noise
        from parliament import analyze_policy_string
    analysed = analyze_policy_string(doc.text, ignore_private_auditors=True)
    findings = []
    for finding in analysed.findings:
        detail = finding.detail
        actions = _finding_actions(detail)
        if _accepted(doc.address, finding.issue, actions, exceptions):
            continue
        where = (finding.location or {}).get("line")
        findings.append(Finding(doc.address, f"parliament, line {where}" if where else "parliament",
                                finding.issue, json.dumps(detail, default=str)))
    return findings


def _finding_actions(detail) -> list[str]:
    actions = []
    for item in _as_list(detail):
        if isinstance(item, dict) and "action" in item:
            actions.append(str(item["action"]))
        elif isinstance(item, str):
            actions.append(item)
    return actions


def _accepted(address: str, issue: str, actions: list[str], exceptions: dict) -> bool:
    for entry in exceptions.get("accepted_findings", []):
        if (fnmatch.fnmatchcase(address, entry["document"]) and entry["issue"] == issue
                and actions and all(a == entry.get("action") for a in actions)):
            return True
    return False


def check_documents(docs: list[Document], exceptions: dict) -> list[Finding]:
    findings = []
    for doc in docs:
        if doc.text is None:
            findings.append(Finding(doc.address, doc.attribute, "UNKNOWN_AT_PLAN",
                                    "the document is only known after apply, so nobody can "
                                    "review it: build its ARNs from names, not resource "
                                    "attributes"))
            continue
        try:
            policy = json.loads(doc.text)
        except json.JSONDecodeError as error:
            findings.append(Finding(doc.address, doc.attribute, "MALFORMED",
                                    f"not JSON: {error}"))
            continue
        findings.extend(check_statements(doc, policy, exceptions))
        if doc.kind == "identity":
            findings.extend(check_with_parliament(doc, exceptions))
    return findings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("plan", type=Path, help="terraform show -json output of a plan")
    parser.add_argument("--exceptions", type=Path, default=DEFAULT_EXCEPTIONS,
                        help="reviewed allow-list (default: policies/policy_check.json)")
    args = parser.parse_args(argv)
    try:
        plan = json.loads(args.plan.read_text())
        exceptions = json.loads(args.exceptions.read_text())
    except (OSError, json.JSONDecodeError) as error:
        print(f"error: cannot read the plan or the exceptions: {error}", file=sys.stderr)
        return 2
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pkg_resources deprecation noise
            import parliament  # noqa: F401
    except ImportError as error:
        print(f"error: parliament is not importable ({error}): run this with .venv-policy/bin/"
              "python (make policy-check builds it)", file=sys.stderr)
        return 2
    docs = documents_from_plan(plan)
    if not docs:
        print("error: the plan holds no policy documents: is it the stack's plan?",
              file=sys.stderr)
        return 2
    findings = check_documents(docs, exceptions)
    failed = {finding.address for finding in findings}
    for doc in docs:
        if doc.address not in failed:
            print(f"ok   {doc.address} ({doc.attribute})")
    for finding in findings:
        print(f"FAIL {finding}")
    print(f"policy check: {len(docs)} documents, {len(findings)} finding(s)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
