"""The terraform driver against a real (provider-free) configuration: terraform_data only."""

from __future__ import annotations

import textwrap

import pytest

from dogops import terraform
from dogops.errors import UserError

CONFIG = textwrap.dedent("""
    variable "greeting" {
      type    = string
      default = "hello"
    }
    variable "nothing" {
      type    = string
      default = null
    }
    resource "terraform_data" "first" {
      input = var.greeting
    }
    resource "terraform_data" "second" {
      input = terraform_data.first.output
      # Fails while the flag file exists: a half-way failure after `first` was created.
      provisioner "local-exec" {
        command = "test ! -e ${path.root}/fail.flag"
      }
    }
    output "greeting" {
      value = terraform_data.second.output
    }
    output "nothing_is_null" {
      value = var.nothing == null
    }
""")


@pytest.fixture
def root(tmp_path):
    (tmp_path / "main.tf").write_text(CONFIG)
    return tmp_path


def test_apply_half_way_failure_then_rerun_converges(root, tmp_path):
    tf = terraform.Terraform(working_dir=root, state_file=tmp_path / "state" / "x.tfstate",
                             data_dir=tmp_path / "data", quiet=True)
    tf.init()
    (root / "fail.flag").write_text("")
    with pytest.raises(UserError, match=r"(?s)terraform apply failed.*local-exec.*re-run") as failure:
        tf.apply({"greeting": "hi"})
    assert failure.value.exit_code == 1
    assert "terraform_data.first" in tf.state_resources()  # created before the failure

    (root / "fail.flag").unlink()
    tf.apply({"greeting": "hi"})
    assert tf.output() == {"greeting": "hi", "nothing_is_null": True}
    assert tf.plan({"greeting": "hi"}) is False
    assert tf.plan({"greeting": "changed"}) is True

    tf.destroy({"greeting": "hi"})
    assert tf.state_resources() == []
    assert not list(root.glob("*.tfstate"))  # the separate state file was used, not the root's


def test_saved_plan_is_shown_as_json_and_applied_as_reviewed(root, tmp_path):
    tf = terraform.Terraform(working_dir=root, state_file=tmp_path / "s.tfstate",
                             data_dir=tmp_path / "data", quiet=True)
    tf.init()
    plan_file = tmp_path / "plans" / "review.tfplan"
    assert tf.plan({"greeting": "reviewed"}, out=plan_file) is True
    shown = tf.show_json(plan_file)
    assert [(r["address"], r["change"]["actions"]) for r in shown["resource_changes"]] == [
        ("terraform_data.first", ["create"]), ("terraform_data.second", ["create"])]
    assert shown["variables"]["greeting"]["value"] == "reviewed"
    tf.apply_plan(plan_file)  # exactly what was shown, no variables passed again
    assert tf.output()["greeting"] == "reviewed"
    with pytest.raises(UserError, match="terraform apply failed"):
        tf.apply_plan(plan_file)  # a stale plan is refused, never re-planned silently
    tf.destroy({"greeting": "reviewed"})


def test_var_files_and_null_values(root, tmp_path):
    var_file = tmp_path / "vars.auto.tfvars.json"
    var_file.write_text('{"greeting": "from file"}')
    tf = terraform.Terraform(working_dir=root, state_file=tmp_path / "s.tfstate",
                             data_dir=tmp_path / "data", var_files=[var_file], quiet=True)
    tf.init()
    assert tf.output() == {}
    tf.apply({"nothing": None})
    assert tf.output() == {"greeting": "from file", "nothing_is_null": True}
    tf.destroy()


def test_emulator_override_is_placed_for_the_run_only(tmp_path):
    (tmp_path / "emulator").mkdir()
    (tmp_path / "emulator" / "providers_override.tf").write_text(
        'provider "aws" {\n  endpoints { s3 = "http://localhost:4566" }\n}\n')
    with terraform.emulator_override("http://127.0.0.1:45999/", tmp_path) as placed:
        assert placed == tmp_path / "emulator_providers_override.tf"
        assert 's3 = "http://127.0.0.1:45999"' in placed.read_text()
    assert not placed.exists()
    with pytest.raises(RuntimeError), terraform.emulator_override("http://x:1", tmp_path):
        raise RuntimeError("apply crashed")
    assert not placed.exists()
    placed.write_text("stale")
    terraform.remove_stale_emulator_override(tmp_path)
    assert not placed.exists()


def test_missing_emulator_profile_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="emulator profile missing"):
        terraform.render_emulator_override("http://127.0.0.1:4566", tmp_path)


def test_offline_mirror_config_is_used_when_present(monkeypatch):
    env = terraform.terraform_env({"PATH": "/usr/bin"})
    if terraform.config.OFFLINE_PROVIDER_MIRROR.is_dir():
        assert env["TF_CLI_CONFIG_FILE"].endswith("terraform/offline.tfrc")
    assert env["TF_IN_AUTOMATION"] == "1" and env["TF_INPUT"] == "0"
