"""The plan review is a pure function of `terraform show -json` (recorded from the emulator)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from dogops.plan_review import (
    HOURS_PER_MONTH,
    TrainingRun,
    changes,
    hourly_items,
    iam_diffs,
    render_plan_review,
    summary,
)
from dogops.pricing import Prices

# `terraform show -json` of the emulator profile's plan with a model and the training host on
# (made with Backend("local").terraform() + plan(out=...) + show_json; configuration dropped).
PLAN = json.loads((Path(__file__).parent / "fixtures" / "emulator-plan.json").read_text())
PRICES = Prices("us-east-1", "test table", "2026-12-01", {
    "sagemaker_hosting_hour": {"ml.m5.large": 0.1},
    "sagemaker_training_hour": {"ml.g5.xlarge": 1.5},
    "ec2_hour": {"g5.xlarge": 1.0},
    "lambda_provisioned_gb_second": {"x86_64": 0.000004},
    "ebs_gb_month": {"gp3": 0.073},
})


def by_address(items):
    return {".".join(item.address.split(".")[-2:]): item for item in items}


def test_counts_and_addresses_by_action():
    grouped = changes(PLAN)
    assert len(grouped["add"]) == 25 and grouped["destroy"] == grouped["replace"] == []


def test_hourly_items_follow_capacity_memory_and_disk():
    items = by_address(hourly_items(PLAN, PRICES))
    endpoint = items["aws_sagemaker_endpoint_configuration.this"]
    assert (endpoint.hourly_min, endpoint.hourly_max) == pytest.approx((0.1, 0.3))  # 1-3 x 0.1
    lam = items["aws_lambda_provisioned_concurrency_config.live[0]"]
    assert lam.hourly_min == pytest.approx(1 * 0.25 * 3600 * 0.000004)  # 256 MB
    host = items["aws_instance.training"]
    assert host.hourly_min == pytest.approx(1.0 + 150 * 0.073 / HOURS_PER_MONTH)


def test_review_has_hourly_and_monthly_figures_dates_and_the_word_estimate():
    text = render_plan_review(PLAN, PRICES, TrainingRun(jobs=4, parallel_jobs=2))
    assert "Estimate from the price snapshot of 2026-12-01 (test table)" in text
    assert "| $0.10 - $0.30 | $73.00 - $219.00 |" in text  # endpoint per hour and month
    assert "1 x ml.g5.xlarge: $1.50 per hour" in text
    assert "Tuning with 4 jobs (2 at a time): $6.00" in text
    assert "| add | change | replace | destroy |\n|---|---|---|---|\n| 25 | 0 | 0 | 0 |" in text


def test_policy_changes_are_diffs_of_the_documents():
    plan = copy.deepcopy(PLAN)
    rc = next(r for r in plan["resource_changes"]
              if r["address"] == "module.iam.aws_iam_role_policy.lambda")
    before = json.loads(rc["change"]["after"]["policy"])
    after = copy.deepcopy(before)
    after["Statement"][0]["Action"] = ["sagemaker:InvokeEndpoint", "sagemaker:DescribeEndpoint"]
    rc["change"].update(actions=["update"], before={"policy": json.dumps(before)},
                        after={"policy": json.dumps(after)})
    diff = dict(iam_diffs(plan))["module.iam.aws_iam_role_policy.lambda"]
    assert '-      "Action": "sagemaker:InvokeEndpoint",' in diff
    assert '+        "sagemaker:DescribeEndpoint"' in diff
    assert changes(plan)["change"] == ["module.iam.aws_iam_role_policy.lambda"]


def test_replace_and_destroy_are_named_and_removed_costs_not_counted():
    plan = copy.deepcopy(PLAN)
    for rc in plan["resource_changes"]:
        if rc["type"] == "aws_instance":
            rc["change"].update(actions=["delete"], before=rc["change"]["after"], after=None)
        if rc["type"] == "aws_sagemaker_model":
            rc["change"]["actions"] = ["delete", "create"]
    grouped = changes(plan)
    assert grouped["destroy"] == ["module.training_host[0].aws_instance.training"]
    assert grouped["replace"] == ["module.endpoint[0].aws_sagemaker_model.this"]
    short = summary(plan, PRICES)
    assert "[removed]" in short and "total: $0.10 - $0.30/h" in short.replace("$0.1037", "$0.10")


def test_missing_price_says_so_instead_of_a_number():
    text = render_plan_review(PLAN, Prices("ap-south-2", "none", "2026-12-01", {}))
    assert "no price for ml.m5.large hosting" in text and "n/a" in text
