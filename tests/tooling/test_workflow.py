"""The plan-review workflow: what it runs, what it may do, and that it finds its own comment.

Structure is validated against the GitHub workflow schema in `make lint` (check-jsonschema);
these tests pin the project's contracts that a schema cannot see.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from dogops import config
from dogops.pr_comment import MARKER

WORKFLOW = config.REPO_ROOT / ".github" / "workflows" / "plan-review.yml"


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def steps(job: dict) -> str:
    return "\n".join(str(step.get("run", "")) + str(step.get("with", "")) for step in job["steps"])


def test_pull_requests_run_the_test_command_and_the_emulator_plan(workflow):
    assert "pull_request" in workflow[True]  # YAML 1.1 reads the `on` key as True
    job = workflow["jobs"]["test-and-plan"]
    text = steps(job)
    assert "make test" in text and "--junitxml=build/junit.xml" in str(job["steps"])
    assert ".venv/bin/invoke plan --plan-json build/plan.json" in text
    assert "python -m dogops.pr_comment" in text and "--review build/plan-review.md" in text


def test_the_comment_script_looks_for_the_renderers_marker(workflow):
    script = next(step["with"]["script"] for step in workflow["jobs"]["test-and-plan"]["steps"]
                  if step.get("uses", "").startswith("actions/github-script"))
    assert f"'{MARKER}'" in script
    assert "updateComment" in script and "createComment" in script


def test_least_privilege_tokens_and_no_stored_aws_keys(workflow):
    assert workflow["permissions"] == {"contents": "read"}
    assert workflow["jobs"]["test-and-plan"]["permissions"] == {"contents": "read",
                                                                "pull-requests": "write"}
    aws = workflow["jobs"]["plan-aws"]
    assert aws["permissions"] == {"contents": "read", "id-token": "write"}
    assert "refs/heads/main" in aws["if"] and "vars.DOGOPS_PLAN_ROLE_ARN" in aws["if"]
    assert "AWS_SECRET_ACCESS_KEY" not in WORKFLOW.read_text()
    assert "secrets." not in WORKFLOW.read_text()


def test_workflow_files_pass_the_schema_check():
    """The same check `make lint` runs (vendored schema: no network)."""
    tool = shutil.which("check-jsonschema", path=str(config.REPO_ROOT / ".venv" / "bin"))
    if tool is None:
        pytest.fail("check-jsonschema is missing: it is a pinned dev dependency (make install)")
    files = sorted(str(p) for p in (config.REPO_ROOT / ".github" / "workflows").glob("*.yml"))
    proc = subprocess.run([tool, "--builtin-schema", "vendor.github-workflows", *files],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
