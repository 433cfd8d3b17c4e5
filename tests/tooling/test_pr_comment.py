"""The PR comment renderer: marker, test summary, plan changes, pre-rendered reviews."""

from __future__ import annotations

import json

from dogops import pr_comment
from dogops.pr_comment import MARKER, TestSummary, render_pr_comment

PLAN = {
    "format_version": "1.2",
    "resource_changes": [
        {"address": "module.storage.aws_s3_bucket.artifacts", "type": "aws_s3_bucket",
         "change": {"actions": ["no-op"]}},
        {"address": "module.iam.aws_iam_role_policy.lambda", "type": "aws_iam_role_policy",
         "change": {"actions": ["update"]}},
        {"address": "module.endpoint[0].aws_sagemaker_model.this", "type": "aws_sagemaker_model",
         "change": {"actions": ["create", "delete"]}},
        {"address": 'aws_thing.x["a|b"]', "type": "aws_thing", "change": {"actions": ["create"]}},
        {"address": "aws_old.y", "type": "aws_old", "change": {"actions": ["delete"]}},
    ],
}

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="1" failures="1" skipped="2" tests="10" time="125.5">
<testcase classname="tests.tooling.test_a" name="test_ok" time="0.1"/>
<testcase classname="tests.tooling.test_a" name="test_bad" time="0.1"><failure message="x"/></testcase>
<testcase classname="tests.tooling.test_b" name="test_err" time="0.1"><error message="y"/></testcase>
</testsuite></testsuites>"""


def test_comment_starts_with_the_marker_and_lists_changes_riskiest_first():
    body = render_pr_comment(PLAN, TestSummary(passed=5, skipped=1, duration_s=90))
    assert body.startswith(MARKER + "\n")
    assert "✅ 5 passed, 0 failed, 1 skipped (1.5 min)" in body
    assert "**Plan:** 1 to destroy, 1 to replace, 1 to create, 1 to update (1 IAM changes" in body
    rows = [line for line in body.splitlines() if line.startswith("| ") and "`" in line]
    assert [row.split("|")[1].strip() for row in rows] == ["destroy", "replace", "create",
                                                           "update"]
    assert "aws_s3_bucket.artifacts" not in body  # no-ops are not listed
    assert '`aws_thing.x["a\\|b"]`' in body  # a pipe in an address cannot break the table
    assert "`module.iam.aws_iam_role_policy.lambda` (IAM)" in body


def test_a_pre_rendered_review_replaces_the_change_list():
    review = "#### Cost\n+$83.95/month: ml.m5.large endpoint\n"
    body = render_pr_comment(PLAN, TestSummary(passed=1), review_markdown=review)
    assert "+$83.95/month" in body and "| action | resource |" not in body


def test_no_changes_and_failed_plan_and_missing_tests_are_said_plainly():
    assert "**Plan:** no changes" in render_pr_comment({"resource_changes": []}, None)
    body = render_pr_comment(None, None, review_markdown="ignored", plan_error="init failed")
    assert "**Plan:** ❌ no plan: init failed" in body and "ignored" not in body
    assert "**Tests:** no report" in body


def test_junit_summary_counts_failures_and_errors(tmp_path):
    path = tmp_path / "junit.xml"
    path.write_text(JUNIT)
    summary = pr_comment.summarize_junit(path)
    assert (summary.passed, summary.failed, summary.skipped) == (6, 2, 2)
    assert summary.failures == ["tests.tooling.test_a::test_bad", "tests.tooling.test_b::test_err"]
    body = render_pr_comment(PLAN, summary)
    assert "❌ 6 passed, 2 failed, 2 skipped (2.1 min)" in body
    assert "- `tests.tooling.test_a::test_bad`" in body


def test_cli_writes_the_comment_and_uses_a_review_file_when_present(tmp_path):
    (tmp_path / "plan.json").write_text(json.dumps(PLAN))
    (tmp_path / "junit.xml").write_text(JUNIT)
    out = tmp_path / "comment.md"
    code = pr_comment.main(["--plan-json", str(tmp_path / "plan.json"), "--junit",
                            str(tmp_path / "junit.xml"), "--review",
                            str(tmp_path / "absent.md"), "--out", str(out)])
    assert code == 1  # tests failed
    assert out.read_text().startswith(MARKER) and "| replace |" in out.read_text()

    (tmp_path / "review.md").write_text("REVIEW BODY")
    code = pr_comment.main(["--plan-json", str(tmp_path / "plan.json"), "--review",
                            str(tmp_path / "review.md"), "--out", str(out)])
    assert code == 0 and "REVIEW BODY" in out.read_text()

    code = pr_comment.main(["--plan-json", str(tmp_path / "missing.json"), "--out", str(out)])
    assert code == 1 and "no plan: the plan step failed" in out.read_text()
