"""AWS applies, plan first: preflight -> plan -> summary with hourly costs -> confirm -> apply.

Terraform applies exactly the saved plan file that was shown, so a declined or interrupted
confirmation changes nothing and a state that moved on in between makes Terraform refuse.
`--yes` (Backend.assume_yes) confirms for CI; without a terminal and without --yes the apply
stops with a clear line. Plans that only remove resources (turning the training host off)
go ahead without asking: they stop billing.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from dogops import config, plan_review, preflight
from dogops.errors import UserError

YES = {"y", "yes"}


def ask(prompt: str) -> bool:
    if not sys.stdin.isatty():
        raise UserError("this AWS apply needs a confirmation: review the plan above (or "
                        "`invoke plan --target aws`), then re-run with --yes; nothing was applied")
    try:
        return input(prompt).strip().lower() in YES
    except (EOFError, KeyboardInterrupt):
        print()
        raise UserError("not confirmed: nothing was applied", 1) from None


def run_preflight(backend, extra: Mapping[str, object] | None) -> None:
    from dogops.aws_session import caller_identity

    account = str(caller_identity(backend.session(), backend.endpoint_url).get("Account", ""))
    first = not preflight.passed_before(backend.target, account, backend.region)
    scope = preflight.scope_for(dict(extra or {}), first)
    result = preflight.run(backend, scope, backend.variables(extra))
    preflight.report(result)
    preflight.settle(backend.target, result)


def needs_confirmation(plan: Mapping) -> bool:
    grouped = plan_review.changes(plan)
    return bool(grouped["add"] or grouped["change"] or grouped["replace"])


def prices_for(backend):
    """The Price List API on AWS; the dated snapshot when it cannot be reached (said so)."""
    from dogops import pricing

    if not backend.is_local:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            client = backend.session().client("pricing", region_name=pricing.PRICING_REGION)
            return pricing.fetch(client, backend.region)
        except (BotoCoreError, ClientError) as err:
            print(f"warning: AWS Price List API not usable ({type(err).__name__}); "
                  "estimating from the price snapshot")
    return pricing.load_snapshot(backend.region)


def apply(backend, extra: Mapping[str, object] | None = None) -> dict[str, object]:
    run_preflight(backend, extra)  # adjustments land in the target's tfvars before the plan
    variables = {**backend.base_variables(), **(extra or {})}
    plan_file = config.paths(backend.target).state_dir / "apply.tfplan"
    try:
        with backend.terraform() as tf:
            if not tf.plan(variables, out=plan_file):
                print(f"[{backend.target}] no changes")
                return tf.output()
            plan = tf.show_json(plan_file)
            print(plan_review.summary(plan, prices_for(backend)))
            if needs_confirmation(plan) and not backend.assume_yes:
                confirm = backend.confirm or ask
                if not confirm(f"Apply this plan to AWS account in {backend.region}? [y/N] "):
                    raise UserError("not confirmed: nothing was applied", 1)
            tf.apply_plan(plan_file)
            return tf.output()
    finally:
        plan_file.unlink(missing_ok=True)
