"""A plan review people can sign: changes, IAM policy diffs and what bills by the hour.

`render_plan_review(plan_json, prices)` is a pure function of `terraform show -json <plan>`
output and a `Prices` table, so the same Markdown can go to build/plan-review.md, the terminal
before an AWS apply, or a PR comment. Every cost is an *estimate* from list prices (the table's
source and date are printed): on-demand, before taxes, free tier and savings plans.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass

from dogops.pricing import Prices

HOURS_PER_MONTH = 730  # AWS's own monthly convention (365 x 24 / 12)
ACTION_NAMES = {"create": "add", "update": "change", "replace": "replace", "delete": "destroy"}
STATE_AFTER = {"create": "new", "update": "changed", "replace": "replaced", "delete": "removed",
               "no-op": "unchanged"}
POLICY_ATTRIBUTES = {
    "aws_iam_role_policy": "policy", "aws_iam_policy": "policy",
    "aws_iam_role": "assume_role_policy", "aws_s3_bucket_policy": "policy",
}


@dataclass(frozen=True)
class TrainingRun:
    """One `invoke train --target aws` run, priced per hour of job time."""

    instance_type: str = "ml.g5.xlarge"
    instances: int = 1
    jobs: int = 1  # tuning: --max-jobs
    parallel_jobs: int = 1


@dataclass(frozen=True)
class CostItem:
    address: str
    action: str
    what: str
    hourly_min: float | None
    hourly_max: float | None
    note: str = ""


def action_of(change: Mapping) -> str:
    actions = list(change.get("actions", []))
    if actions in (["delete", "create"], ["create", "delete"]):
        return "replace"
    if actions == ["create"]:
        return "create"
    if actions == ["update"]:
        return "update"
    if actions == ["delete"]:
        return "delete"
    return actions[0] if actions else "no-op"


def changes(plan: Mapping) -> dict[str, list[str]]:
    """Resource addresses by what the plan does to them (add/change/replace/destroy)."""
    grouped: dict[str, list[str]] = {name: [] for name in ACTION_NAMES.values()}
    for rc in plan.get("resource_changes", []):
        if rc.get("mode") == "data":
            continue
        name = ACTION_NAMES.get(action_of(rc["change"]))
        if name:
            grouped[name].append(rc["address"])
    return grouped


def _pretty(document: object) -> list[str]:
    if document in (None, ""):
        return []
    try:
        parsed = json.loads(document) if isinstance(document, str) else document
    except json.JSONDecodeError:
        return str(document).splitlines()
    return json.dumps(parsed, indent=2, sort_keys=True).splitlines()


def iam_diffs(plan: Mapping) -> list[tuple[str, str]]:
    """(address, unified diff) for every policy document the plan creates, changes or removes."""
    diffs = []
    for rc in plan.get("resource_changes", []):
        attribute = POLICY_ATTRIBUTES.get(rc.get("type", ""))
        action = action_of(rc["change"])
        if not attribute or action in ("no-op", "read"):
            continue
        before = (rc["change"].get("before") or {}).get(attribute)
        after = (rc["change"].get("after") or {}).get(attribute)
        if (rc["change"].get("after_unknown") or {}).get(attribute):
            diffs.append((rc["address"], "(policy known after apply)"))
            continue
        if before == after and action != "replace":
            continue
        lines = difflib.unified_diff(_pretty(before), _pretty(after), "before", "after",
                                     lineterm="")
        diffs.append((rc["address"], "\n".join(lines)))
    return diffs


def _after(rc: Mapping) -> Mapping:
    return rc["change"].get("after") or rc["change"].get("before") or {}


def _price(value: float | None, factor: float) -> float | None:
    return None if value is None else value * factor


def hourly_items(plan: Mapping, prices: Prices) -> list[CostItem]:
    """Everything in the plan that bills per hour while it exists, priced from `prices`."""
    resources = [rc for rc in plan.get("resource_changes", []) if rc.get("mode") != "data"]
    by_type: dict[str, list[Mapping]] = {}
    for rc in resources:
        by_type.setdefault(rc["type"], []).append(rc)
    items: list[CostItem] = []
    scaling = {str(_after(rc).get("resource_id", "")): _after(rc)
               for rc in by_type.get("aws_appautoscaling_target", [])}
    for rc in by_type.get("aws_sagemaker_endpoint_configuration", []):
        for variant in _after(rc).get("production_variants") or []:
            instance_type = variant.get("instance_type")
            if not instance_type:  # serverless variants bill per request
                continue
            count = int(variant.get("initial_instance_count") or 1)
            target = next((t for rid, t in scaling.items()
                           if rid.endswith(f"/variant/{variant.get('variant_name')}")), None)
            low, high = ((int(target["min_capacity"]), int(target["max_capacity"])) if target
                         else (count, count))
            unit = prices.get("sagemaker_hosting_hour", instance_type)
            items.append(CostItem(
                rc["address"], action_of(rc["change"]),
                f"endpoint {instance_type} x {low}-{high} instances (autoscaling min-max)",
                _price(unit, low), _price(unit, high),
                "" if unit is not None else f"no price for {instance_type} hosting"))
    memory = {str(_after(rc).get("function_name")): int(_after(rc).get("memory_size") or 128)
              for rc in by_type.get("aws_lambda_function", [])}
    for rc in by_type.get("aws_lambda_provisioned_concurrency_config", []):
        after = _after(rc)
        count = int(after.get("provisioned_concurrent_executions") or 0)
        gb = memory.get(str(after.get("function_name")), 128) / 1024
        unit = prices.get("lambda_provisioned_gb_second", "x86_64")
        hourly = _price(unit, count * gb * 3600)
        items.append(CostItem(rc["address"], action_of(rc["change"]),
                              f"Lambda provisioned concurrency {count} x {gb * 1024:g} MB",
                              hourly, hourly,
                              "" if unit is not None else "no Lambda price"))
    for rc in by_type.get("aws_instance", []):
        after = _after(rc)
        instance_type = str(after.get("instance_type"))
        unit = prices.get("ec2_hour", instance_type)
        disks = after.get("root_block_device") or [{}]
        size = int(disks[0].get("volume_size") or 0)
        disk = prices.get("ebs_gb_month", str(disks[0].get("volume_type") or "gp3"))
        hourly = None if unit is None else unit + (size * disk / HOURS_PER_MONTH if disk else 0)
        items.append(CostItem(rc["address"], action_of(rc["change"]),
                              f"EC2 training host {instance_type} + {size} GB gp3 "
                              "(while enabled; it terminates itself after one run)",
                              hourly, hourly, "" if unit is not None
                              else f"no price for {instance_type}"))
    return items


def _usd(value: float | None) -> str:
    return "n/a" if value is None else f"${value:,.2f}" if value >= 0.1 else f"${value:,.4f}"


def _range(low: float | None, high: float | None, factor: float = 1) -> str:
    if low is None or high is None:
        return "n/a"
    if abs(low - high) < 1e-12:
        return _usd(low * factor)
    return f"{_usd(low * factor)} - {_usd(high * factor)}"


def _totals(items: list[CostItem]) -> tuple[float, float]:
    live = [i for i in items if i.action != "delete"]
    return (sum(i.hourly_min or 0 for i in live), sum(i.hourly_max or 0 for i in live))


def summary(plan: Mapping, prices: Prices) -> str:
    """A few lines for the terminal before an apply asks for confirmation."""
    grouped = changes(plan)
    counts = ", ".join(f"{len(v)} to {k}" for k, v in grouped.items())
    lines = [f"Plan: {counts}."]
    items = hourly_items(plan, prices)
    if items:
        lines.append(f"Bills by the hour after this apply (estimate, {prices.label(short=True)}):")
        for item in items:
            state = STATE_AFTER.get(item.action, item.action)
            lines.append(f"  {item.what} [{state}]: {_range(item.hourly_min, item.hourly_max)}"
                         f"/h {item.note}".rstrip())
        low, high = _totals(items)
        lines.append(f"  total: {_range(low, high)}/h, {_range(low, high, HOURS_PER_MONTH)}"
                     "/month if left running")
    return "\n".join(lines)


def render_plan_review(plan: Mapping, prices: Prices, training: TrainingRun | None = None,
                       title: str = "Terraform plan review") -> str:
    """Markdown review of a `terraform show -json` plan (pure: no I/O, no clock)."""
    out = [f"# {title}", ""]
    grouped = changes(plan)
    out.append("| add | change | replace | destroy |")
    out.append("|---|---|---|---|")
    out.append("| " + " | ".join(str(len(grouped[k])) for k in
                                  ("add", "change", "replace", "destroy")) + " |")
    out.append("")
    for name in ("add", "change", "replace", "destroy"):
        if grouped[name]:
            out.append(f"**{name}**: " + ", ".join(f"`{a}`" for a in grouped[name]))
            out.append("")
    out += ["## IAM and bucket policy changes", ""]
    diffs = iam_diffs(plan)
    if not diffs:
        out += ["No policy document changes.", ""]
    for address, diff in diffs:
        out += [f"`{address}`", "", "```diff", diff, "```", ""]
    out += ["## What bills by the hour", "",
            (f"Estimate from the {prices.label()}, region {prices.region}; on-demand list prices "
            f"in USD, {HOURS_PER_MONTH} hours a month, before taxes, free tier and discounts."),
            ""]
    items = hourly_items(plan, prices)
    if items:
        out += ["| resource | what | after apply | per hour | per month |", "|---|---|---|---|---|"]
        for item in items:
            state = STATE_AFTER.get(item.action, item.action)
            monthly = _range(item.hourly_min, item.hourly_max, HOURS_PER_MONTH)
            out.append(f"| `{item.address}` | {item.what}{' (' + item.note + ')' if item.note else ''}"
                       f" | {state} | {_range(item.hourly_min, item.hourly_max)} | {monthly} |")
        low, high = _totals(items)
        out.append(f"| **total** | while all of the above run | | {_range(low, high)} | "
                   f"{_range(low, high, HOURS_PER_MONTH)} |")
    else:
        out.append("Nothing in this plan bills by the hour.")
    out.append("")
    if training is not None:
        unit = prices.get("sagemaker_training_hour", training.instance_type)
        per_hour = _price(unit, training.instances)
        out += ["## A training run (not in this plan: `invoke train --target aws`)", "",
                (f"{training.instances} x {training.instance_type}: {_usd(per_hour)} per hour "
                "of job time (billed per second while the job runs).")]
        if training.jobs > 1:
            out.append(f"Tuning with {training.jobs} jobs ({training.parallel_jobs} at a time): "
                       f"{_usd(_price(per_hour, training.jobs))} per hour of each job's time, "
                       f"{training.instances * training.parallel_jobs} instances at once.")
        out.append("")
    return "\n".join(out)
