"""The one pull-request comment CI keeps up to date: test summary + plan review.

    python -m dogops.pr_comment --plan-json build/plan.json --junit build/junit.xml \\
        [--review build/plan-review.md] [--plan-error TEXT] --out build/pr-comment.md

The comment starts with a hidden marker, so the workflow finds and edits its own comment instead
of adding one per push. A pre-rendered review (cost, IAM diffs: build/plan-review.md) is used
as it is when present; otherwise the changes are listed from `terraform show -json`.
"""

from __future__ import annotations

import argparse
import json
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

MARKER = "<!-- dogops-plan-review -->"
MAX_ROWS = 60
IAM_TYPES = ("aws_iam_",)
# Terraform's action lists -> one word (a replacement is ["delete","create"] or the reverse).
ACTIONS = {("create",): "create", ("update",): "update", ("delete",): "destroy",
           ("delete", "create"): "replace", ("create", "delete"): "replace",
           ("no-op",): "no-op", ("read",): "read"}
ORDER = ("destroy", "replace", "create", "update", "read")


@dataclass(frozen=True)
class TestSummary:
    __test__ = False  # not a pytest test class

    passed: int = 0
    failed: int = 0
    skipped: int = 0
    duration_s: float = 0.0
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0


@dataclass(frozen=True)
class Change:
    action: str
    address: str
    type: str


def summarize_junit(path: Path) -> TestSummary:
    """Totals and failing test ids of a pytest --junitxml report."""
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    failed = skipped = total = 0
    duration = 0.0
    failures: list[str] = []
    for suite in suites:
        total += int(suite.get("tests", 0))
        failed += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skipped += int(suite.get("skipped", 0))
        duration += float(suite.get("time", 0.0))
        for case in suite.iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                failures.append(f"{case.get('classname', '')}::{case.get('name', '')}")
    return TestSummary(passed=total - failed - skipped, failed=failed, skipped=skipped,
                       duration_s=duration, failures=failures)


def plan_changes(plan_json: Mapping) -> list[Change]:
    """Resource changes of a `terraform show -json` plan, no-ops left out, riskiest first."""
    changes = []
    for item in plan_json.get("resource_changes", []):
        actions = tuple(item.get("change", {}).get("actions", []))
        action = ACTIONS.get(actions, "+".join(actions) or "unknown")
        if action != "no-op":
            changes.append(Change(action, str(item.get("address", "")), str(item.get("type", ""))))
    rank = {name: index for index, name in enumerate(ORDER)}
    return sorted(changes, key=lambda c: (rank.get(c.action, len(ORDER)), c.address))


def _cell(text: str) -> str:
    return "`" + text.replace("`", "'").replace("|", "\\|") + "`"


def render_tests(tests: TestSummary | None) -> str:
    if tests is None:
        return "**Tests:** no report (the test step did not produce one)"
    minutes = f"{tests.duration_s / 60:.1f} min"
    counts = f"{tests.passed} passed, {tests.failed} failed, {tests.skipped} skipped ({minutes})"
    if tests.ok:
        return f"**Tests:** ✅ {counts}"
    listed = "\n".join(f"- {_cell(name)}" for name in tests.failures[:20])
    more = f"\n- ... and {len(tests.failures) - 20} more" if len(tests.failures) > 20 else ""
    return f"**Tests:** ❌ {counts}\n\n{listed}{more}"


def render_plan(plan_json: Mapping | None, plan_error: str | None = None) -> str:
    if plan_json is None:
        reason = f": {plan_error}" if plan_error else ""
        return f"**Plan:** ❌ no plan{reason}"
    changes = plan_changes(plan_json)
    if not changes:
        return "**Plan:** no changes"
    counts = Counter(c.action for c in changes)
    summary = ", ".join(f"{counts[a]} to {a}" for a in (*ORDER, *sorted(set(counts) - set(ORDER)))
                        if counts[a])
    iam = sum(1 for c in changes if c.type.startswith(IAM_TYPES))
    lines = [f"**Plan:** {summary}" + (f" ({iam} IAM changes: review them)" if iam else ""), "",
             "| action | resource |", "|---|---|"]
    for change in changes[:MAX_ROWS]:
        flag = " (IAM)" if change.type.startswith(IAM_TYPES) else ""
        lines.append(f"| {change.action} | {_cell(change.address)}{flag} |")
    if len(changes) > MAX_ROWS:
        lines.append(f"| ... | {len(changes) - MAX_ROWS} more |")
    return "\n".join(lines)


def render_pr_comment(plan_json: Mapping | None, test_summary: TestSummary | None,
                      review_markdown: str | None = None, plan_error: str | None = None,
                      context: str = "`invoke plan` on the local emulator") -> str:
    """The comment body: marker, tests, then the review (pre-rendered, or our change list)."""
    review = review_markdown.strip() if review_markdown and review_markdown.strip() else None
    plan = review if review and plan_json is not None else render_plan(plan_json, plan_error)
    return "\n\n".join([MARKER, "### dogops: tests and plan review", render_tests(test_summary),
                        f"{plan}\n\n<sub>plan: {context}</sub>"]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan-json", type=Path)
    parser.add_argument("--junit", type=Path)
    parser.add_argument("--review", type=Path, help="pre-rendered plan review (used if present)")
    parser.add_argument("--plan-error", help="why there is no plan (shown instead)")
    parser.add_argument("--context", default="`invoke plan` on the local emulator")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    def existing(path: Path | None) -> Path | None:
        return path if path is not None and path.is_file() and path.stat().st_size else None

    try:
        plan = json.loads(existing(args.plan_json).read_text()) if existing(args.plan_json) else None
        tests = summarize_junit(existing(args.junit)) if existing(args.junit) else None
    except (json.JSONDecodeError, ET.ParseError) as err:
        print(f"error: unreadable report: {err}", file=sys.stderr)
        return 2
    review = existing(args.review).read_text() if existing(args.review) else None
    error = args.plan_error or (None if plan else "the plan step failed (see the job log)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render_pr_comment(plan, tests, review, error, args.context))
    return 0 if plan is not None and (tests is None or tests.ok) else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
