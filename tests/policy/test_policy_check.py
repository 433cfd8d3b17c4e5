"""The policy check fails on over-broad grants and passes the repository's real policies.

Planted statements go into a copy of policies/, which the whole stack is then planned with
(dogops.policy_render, against a private emulator), so the check sees them exactly as AWS would
receive them. The checker runs in .venv-policy (parliament needs pkg_resources): `make
policy-check` / `make test` build it; without it these tests fail with that instruction.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from dogops import config
from dogops.policy_render import render_plan

POLICY_PYTHON = config.REPO_ROOT / ".venv-policy" / "bin" / "python"
CHECKOV = config.REPO_ROOT / ".venv-scan" / "bin" / "checkov"
POLICIES = config.REPO_ROOT / "policies"
# The same checkov check list `make policy-check` runs on the plan.
PLAN_POLICY_CHECKS = re.search(r"^PLAN_POLICY_CHECKS := (\S+)$",
                               (config.REPO_ROOT / "Makefile").read_text(), re.MULTILINE).group(1)

pytestmark = pytest.mark.integration


def run_check(plan: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    assert POLICY_PYTHON.exists(), (
        f"{POLICY_PYTHON} is missing: run `make .venv-policy/.installed` (make test builds it)")
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan))
    return subprocess.run([str(POLICY_PYTHON), "-m", "dogops.policy_check", str(plan_file)],
                          check=False, cwd=config.REPO_ROOT, capture_output=True, text=True,
                          timeout=120)


def run_checkov(plan_file: Path) -> subprocess.CompletedProcess:
    assert CHECKOV.exists(), f"{CHECKOV} is missing: run `make .venv-scan/.installed`"
    return subprocess.run([str(CHECKOV), "--quiet", "--compact", "--framework", "terraform_plan",
                           "-f", str(plan_file), "--check", PLAN_POLICY_CHECKS],
                          check=False, capture_output=True, text=True, timeout=300)


def plant(policies: Path, template: str, statement: dict) -> None:
    """Insert `statement` as the first statement of a policy template."""
    path = policies / template
    text = path.read_text()
    marker = '"Statement": ['
    assert marker in text, f"{template} has no Statement list"
    path.write_text(text.replace(marker, marker + json.dumps(statement) + ",", 1))


def plan_document(address: str, policy: dict, rtype: str = "aws_iam_role_policy") -> dict:
    return {"resource_changes": [{
        "address": address, "type": rtype,
        "change": {"actions": ["create"], "after": {"policy": json.dumps(policy)},
                   "after_unknown": {}},
    }]}


def test_real_policies_pass(tmp_path):
    result = run_check(render_plan(POLICIES), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    scan = run_checkov(tmp_path / "plan.json")
    assert scan.returncode == 0 and "Failed checks: 0" in scan.stdout, scan.stdout + scan.stderr
    # Every role's documents and the bucket policy were checked, not skipped.
    for address in ("module.iam.aws_iam_role_policy.lambda",
                    "module.iam.aws_iam_role_policy.training_host[0]",
                    "module.storage.aws_s3_bucket_policy.tls_only",
                    "module.ci_plan_role[0].aws_iam_role_policy.plan",
                    "module.iam.aws_iam_role.lambda (assume_role_policy)"):
        assert f"ok   {address}" in result.stdout, result.stdout


def test_planted_wildcards_fail_with_readable_findings(tmp_path):
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    plant(policies, "lambda_invoke_endpoint.json.tftpl",
          {"Sid": "PlantedAdmin", "Effect": "Allow", "Action": "*", "Resource": "*"})
    plant(policies, "training_host.json.tftpl",
          {"Sid": "PlantedReadAnyObject", "Effect": "Allow", "Action": "s3:GetObject",
           "Resource": "*"})
    plant(policies, "training_host.json.tftpl",
          {"Sid": "PlantedPassAnyRole", "Effect": "Allow", "Action": "iam:PassRole",
           "Resource": "*"})

    result = run_check(render_plan(policies), tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    lambda_doc = "module.iam.aws_iam_role_policy.lambda"
    host_doc = "module.iam.aws_iam_role_policy.training_host[0]"
    assert f"FAIL {lambda_doc} [PlantedAdmin]: WILDCARD_ACTION" in out, out
    assert (f"FAIL {host_doc} [PlantedReadAnyObject]: RESOURCE_STAR: s3:GetObject on "
            'Resource "*"') in out, out
    assert f"FAIL {host_doc} [PlantedPassAnyRole]: PASSROLE_STAR" in out, out
    # parliament, independently, knows both actions support resource-level permissions.
    assert "RESOURCE_STAR" in out.split(f"FAIL {host_doc} [parliament")[1], out
    # Untouched documents still pass.
    assert "ok   module.storage.aws_s3_bucket_policy.tls_only" in out, out

    # checkov, reading the same plan, fails too (it never saw the policies in the HCL).
    scan = run_checkov(tmp_path / "plan.json")
    assert scan.returncode == 1, scan.stdout
    assert re.search(r"CKV_AWS_63.*\n\s*FAILED for resource: module\.iam\.aws_iam_role_policy\.lambda",
                     scan.stdout), scan.stdout
    assert re.search(r"CKV_AWS_355.*\n\s*FAILED for resource: "
                     r"module\.iam\.aws_iam_role_policy\.training_host\[0\]", scan.stdout), scan.stdout


@pytest.mark.parametrize(("statement", "issue"), [
    ({"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::b/*"}, "WILDCARD_ACTION"),
    ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, "NOT_ACTION"),
    # allow-listed action, but without the condition the allow-list requires
    ({"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*"}, "RESOURCE_STAR"),
    ({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b"},
     "RESOURCE_MISMATCH"),
])
def test_rules_on_single_statements(tmp_path, statement, issue):
    plan = plan_document("module.x.aws_iam_role_policy.p",
                         {"Version": "2012-10-17", "Statement": [statement]})
    result = run_check(plan, tmp_path)
    assert result.returncode == 1 and f": {issue}" in result.stdout, result.stdout


def test_allow_listed_resource_star_with_its_condition_passes(tmp_path):
    plan = plan_document("module.x.aws_iam_role_policy.p", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
         "Condition": {"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}}},
    ]})
    result = run_check(plan, tmp_path)
    assert result.returncode == 0, result.stdout


def test_public_resource_policy_and_unknown_document_fail(tmp_path):
    plan = plan_document("module.s.aws_s3_bucket_policy.p", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::b/*"}]}, rtype="aws_s3_bucket_policy")
    plan["resource_changes"].append({
        "address": "module.iam.aws_iam_role_policy.q", "type": "aws_iam_role_policy",
        "change": {"actions": ["create"], "after": {}, "after_unknown": {"policy": True}}})
    result = run_check(plan, tmp_path)
    assert result.returncode == 1
    assert "module.s.aws_s3_bucket_policy.p [statement 0]: PRINCIPAL_STAR" in result.stdout
    assert "module.iam.aws_iam_role_policy.q [policy]: UNKNOWN_AT_PLAN" in result.stdout


def test_a_plan_without_documents_is_bad_input(tmp_path):
    result = run_check({"resource_changes": []}, tmp_path)
    assert result.returncode == 2
    assert "no policy documents" in result.stderr
