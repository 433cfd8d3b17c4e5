"""AWS applies are plan first: summary, confirmation, and only the saved plan is applied."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest

from dogops import reviewed_apply
from dogops.backend import Backend
from dogops.errors import UserError
from dogops.pricing import load_snapshot

PLAN = json.loads((Path(__file__).parent / "fixtures" / "emulator-plan.json").read_text())


class FakeTerraform:
    def __init__(self, plan=PLAN, changed=True):
        self.plan_json, self.changed, self.applied = plan, changed, []

    def plan(self, variables, out=None):
        self.planned_to = out
        return self.changed

    def show_json(self, plan_file):
        return self.plan_json

    def apply_plan(self, plan_file):
        self.applied.append(plan_file)

    def apply(self, variables):  # the un-reviewed path must never be taken on AWS
        raise AssertionError("terraform apply -auto-approve on AWS")

    def output(self):
        return {"bucket_name": "b"}


@pytest.fixture
def backend(monkeypatch, state_root):
    tf = FakeTerraform()
    monkeypatch.setattr(reviewed_apply, "run_preflight", lambda backend, extra: None)
    monkeypatch.setattr(reviewed_apply, "prices_for", lambda backend: load_snapshot("us-east-1"))
    monkeypatch.setattr(Backend, "base_variables", lambda self: {"region": self.region})
    monkeypatch.setattr(Backend, "terraform", lambda self, quiet=False: contextlib.nullcontext(tf))
    b = Backend("aws", "us-east-1")
    b.fake = tf
    return b


def test_declined_confirmation_applies_nothing(backend, capsys):
    backend.confirm = lambda prompt: False
    with pytest.raises(UserError, match="nothing was applied"):
        backend.apply({"model_data_url": "s3://b/m.tar.gz"})
    assert backend.fake.applied == []
    shown = capsys.readouterr().out
    assert "Plan: 25 to add" in shown and "endpoint ml.m5.large x 1-3" in shown
    assert "/month if left running" in shown


def test_confirmed_plan_applies_the_saved_plan_file(backend):
    backend.confirm = lambda prompt: True
    assert backend.apply() == {"bucket_name": "b"}
    assert backend.fake.applied == [backend.fake.planned_to]
    assert not backend.fake.planned_to.exists()  # the plan file is not left behind


def test_yes_skips_the_question(backend):
    backend.assume_yes = True
    backend.confirm = lambda prompt: pytest.fail("asked despite --yes")
    backend.apply()
    assert len(backend.fake.applied) == 1


def test_no_terminal_and_no_yes_is_a_clear_stop(backend, monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    with pytest.raises(UserError, match="re-run with --yes"):
        backend.apply()
    assert backend.fake.applied == []


def test_interrupted_confirmation_applies_nothing(backend, monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)

    def interrupted(prompt):
        raise KeyboardInterrupt

    monkeypatch.setattr("builtins.input", interrupted)
    with pytest.raises(UserError, match="not confirmed: nothing was applied"):
        backend.apply()
    assert backend.fake.applied == []


def test_removal_only_plan_goes_ahead_without_asking(backend):
    plan = json.loads(json.dumps(PLAN))
    for rc in plan["resource_changes"]:
        rc["change"]["actions"] = ["delete"] if rc["type"] == "aws_instance" else ["no-op"]
    backend.fake.plan_json = plan
    backend.confirm = lambda prompt: pytest.fail("asked for a plan that only removes")
    backend.apply({"enable_training_host": False})
    assert len(backend.fake.applied) == 1


def test_no_changes_applies_nothing(backend):
    backend.fake.changed = False
    backend.apply()
    assert backend.fake.applied == []
