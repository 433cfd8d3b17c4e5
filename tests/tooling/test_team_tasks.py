"""The team tasks as a user meets them: --env, bootstrap, promote, unlock; bad input is one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def no_aws_credentials_env(tmp_path) -> dict[str, str]:
    """An environment in which botocore finds no credentials at all."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DOGOPS_ENV"))}
    env.update({"AWS_CONFIG_FILE": str(tmp_path / "none"),
                "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
                "AWS_EC2_METADATA_DISABLED": "true"})
    return env


def run_invoke(*args: str, env: dict[str, str] | None = None):
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=REPO,
                          env=env or dict(os.environ), capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.mark.parametrize("args", [
    ("train", "--env", "Prod!"), ("deploy", "--env", "Prod!"), ("plan", "--env", "Prod!"),
    ("destroy", "--env", "Prod!"), ("predict", "--env", "Prod!"), ("data", "--env", "Prod!"),
    ("ec2-train", "--env", "Prod!"), ("unlock", "--lock-id", "x", "--env", "Prod!"),
    ("promote", "--from", "dev", "--to", "Prod!"),
])
def test_unknown_env_name_is_one_line_and_nothing_starts(args, tmp_path):
    env = no_aws_credentials_env(tmp_path)
    env["DOGOPS_STATE_ROOT"] = str(tmp_path / "state")  # an emulator start would write here
    result = run_invoke(*args, env=env)
    assert result.returncode == 2
    assert result.stderr.strip() == ("error: unknown environment name 'Prod!': use 1-16 lowercase "
                                     "letters, digits and '-', starting with a letter and not "
                                     "ending with '-' (e.g. dev, staging, prod)")
    assert not (tmp_path / "state").exists()


def test_team_tasks_have_help_and_need_their_arguments(tmp_path):
    for task, flag in (("bootstrap", "--state-bucket"), ("promote", "--from"),
                       ("unlock", "--lock-id"), ("plan", "--plan-json"), ("deploy", "--env")):
        assert flag in run_invoke("--help", task).stdout
    promote = run_invoke("promote", "--from", "dev")
    assert promote.returncode == 2 and "name both environments" in promote.stderr
    unlock = run_invoke("unlock")
    assert unlock.returncode == 2 and "--lock-id is required" in unlock.stderr


def test_aws_bootstrap_without_credentials_is_a_clear_error(tmp_path):
    result = run_invoke("bootstrap", "--target", "aws", env=no_aws_credentials_env(tmp_path))
    assert result.returncode == 2
    assert "no AWS credentials found for --target aws" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
