"""Two environments side by side on the emulator, a local state migrated into the S3 backend,
and the state surviving the loss of the working copy.

In file order on one module-scoped emulator (see conftest.py): dev is applied with a local
state file, `invoke bootstrap` migrates it into the S3 backend, prod is applied straight into
its own key; both stacks then coexist with their own names; a fresh copy of terraform/ (the old
copy and Terraform's data dir deleted) sees dev's resources and plans no change.
"""

from __future__ import annotations

import shutil

import pytest

from dogops import config, remote_state

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def backend_for(env: str):
    from dogops.backend import for_target

    with config.use_env(env):
        return for_target("local")


@pytest.fixture(scope="module")
def moto_workspace(workspace):
    kind, root = workspace
    if kind != "moto":
        pytest.skip("the environment rehearsal runs on the embedded emulator")
    return root


@pytest.fixture(scope="module")
def dev_outputs(moto_workspace):
    dev = backend_for("dev")
    outputs = dev.apply()  # no remote backend yet: a local state file under envs/dev/
    assert config.paths("local", "dev").terraform_state.is_file()
    return outputs


def test_bootstrap_migrates_the_local_state_and_keeps_the_file(dev_outputs, capsys):
    from dogops.bootstrap import bootstrap

    local_state = config.paths("local", "dev").terraform_state
    bootstrap(backend_for("dev"))
    assert "migrating" in capsys.readouterr().out
    assert not local_state.exists()
    kept = list(local_state.parent.glob("terraform.tfstate.migrated-*"))
    assert len(kept) == 1 and kept[0].stat().st_size > 0  # moved aside, never dropped

    dev = backend_for("dev")
    settings = remote_state.read_settings(remote_state.backend_file("local", dev.terraform_dir))
    assert remote_state.state_exists(dev.client("s3"), str(settings["bucket"]), "dev")
    assert dev.outputs() == dev_outputs  # read back from the S3 backend
    with dev.terraform(quiet=True) as tf:
        assert tf.plan(dev.base_variables()) is False


def test_two_environments_coexist_with_their_own_names_and_states(dev_outputs):
    prod = backend_for("prod")
    prod_outputs = prod.apply()
    assert dev_outputs["bucket_name"].startswith("dog-breeds-dev-")
    assert prod_outputs["bucket_name"].startswith("dog-breeds-prod-")
    assert (dev_outputs["function_name"], prod_outputs["function_name"]) == (
        "dog-breeds-dev-predict", "dog-breeds-prod-predict")
    assert prod_outputs["environment"] == "prod"

    lambda_client = prod.client("lambda")
    s3 = prod.client("s3")
    for outputs in (dev_outputs, prod_outputs):  # both stacks are really there
        lambda_client.get_function(FunctionName=outputs["function_name"])
        s3.head_bucket(Bucket=outputs["bucket_name"])
    settings = remote_state.read_settings(remote_state.backend_file("local", prod.terraform_dir))
    for env in ("dev", "prod"):
        assert remote_state.state_exists(s3, str(settings["bucket"]), env)
    # The default environment was never touched.
    assert not remote_state.state_exists(s3, str(settings["bucket"]), config.DEFAULT_ENV)
    assert backend_for("dev").outputs() == dev_outputs  # prod's apply left dev's state alone


def test_state_survives_deleting_the_working_copy(moto_workspace, dev_outputs):
    terraform_dir = moto_workspace / "terraform"
    shutil.rmtree(terraform_dir)  # the working copy and everything Terraform kept locally
    shutil.rmtree(config.paths("local").terraform_data_dir, ignore_errors=True)
    # a fresh clone's terraform/: no .terraform, no state, no override files
    shutil.copytree(config.REPO_ROOT / "terraform", terraform_dir, ignore=shutil.ignore_patterns(
        ".terraform", "*.tfstate*", "emulator_*_override.tf", "*.auto.tfvars.json"))

    dev = backend_for("dev")
    assert dev.outputs() == dev_outputs
    with dev.terraform(quiet=True) as tf:
        assert "module.storage.aws_s3_bucket.artifacts" in tf.state_resources()
        assert tf.plan(dev.base_variables()) is False


def test_destroying_one_environment_leaves_the_other_running(dev_outputs):
    from dogops.deploy import destroy
    from dogops.local_aws import emulator

    dev, prod = backend_for("dev"), backend_for("prod")
    prod_function = prod.outputs()["function_name"]
    assert destroy(dev) == []
    lambda_client = prod.client("lambda")
    lambda_client.get_function(FunctionName=prod_function)  # prod is untouched
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.get_function(FunctionName=dev_outputs["function_name"])
    from dogops.backend import emulator_port

    assert emulator.health(emulator_port()) is not None  # the emulator kept running for prod
    with dev.terraform(quiet=True) as tf:
        assert tf.state_resources() == []
