"""The CLI as a user meets it: --help everywhere, bad input -> one clear line, non-zero exit."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from invoke import Context, MockContext

from dogops import config

REPO = Path(__file__).resolve().parents[2]
INVOKE = [sys.executable, "-m", "invoke"]
TASKS = ("package", "data", "train", "deploy", "predict", "plan", "destroy", "ec2-train",
         "demo", "emulator", "preflight", "models", "rollback")


def no_aws_credentials_env(tmp_path) -> dict[str, str]:
    """An environment in which botocore finds no credentials at all."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_CONFIG_FILE": str(tmp_path / "none"),
                "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
                "AWS_EC2_METADATA_DISABLED": "true"})
    return env


def run_invoke(*args: str, env: dict[str, str] | None = None, timeout: int = 120):
    return subprocess.run([*INVOKE, *args], cwd=REPO, env=env or dict(os.environ),
                          capture_output=True, text=True, timeout=timeout, check=False)


def test_every_task_has_help():
    listing = run_invoke("--list")
    assert listing.returncode == 0
    for name in TASKS:
        assert name in listing.stdout
    helped = run_invoke("--help", "train")
    assert "--instances" in helped.stdout and "--spot" in helped.stdout
    assert "--tune" in helped.stdout and "local (embedded emulator" in helped.stdout


@pytest.mark.parametrize("task", ["train", "deploy", "predict", "plan", "destroy", "data",
                                  "ec2-train", "models", "rollback"])
def test_unknown_target_is_rejected_cleanly(task):
    result = run_invoke(task, "--target", "staging")
    assert result.returncode == 2
    assert "unknown target 'staging'" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_aws_target_without_credentials_is_a_clear_error(tmp_path):
    result = run_invoke("train", "--target", "aws", env=no_aws_credentials_env(tmp_path))
    assert result.returncode == 2
    assert "no AWS credentials found for --target aws" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize("args, env_extra, message", [
    (["--region", "us-middle-9"], {}, "error: unknown AWS region 'us-middle-9'"),
    ([], {"AWS_PROFILE": "nope"}, "error: AWS profile 'nope' (AWS_PROFILE) does not exist"),
])
def test_bad_region_or_profile_is_one_line_before_anything(tmp_path, args, env_extra, message):
    env = {**no_aws_credentials_env(tmp_path), **env_extra}
    for task in ("preflight", "deploy"):
        result = run_invoke(task, "--target", "aws", *args, env=env)
        assert result.returncode == 2
        assert result.stderr.strip() == message + result.stderr.strip()[len(message):]
        assert len(result.stderr.strip().splitlines()) == 1
        assert "Traceback" not in result.stderr + result.stdout


def test_emulator_port_in_use_is_a_clear_error(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {**os.environ, "DOGOPS_EMULATOR_PORT": str(port),
               "DOGOPS_STATE_ROOT": str(tmp_path / "state")}
        env.pop("DOGOPS_EMULATOR_URL", None)
        result = run_invoke("train", env=env)
    assert result.returncode == 3
    assert f"port {port}" in result.stderr and "already in use" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "state" / "local" / "state.json").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--epochs", "zero"], "--epochs must be an integer"),
    (["--instances", "0"], "--instances must be at least 1"),
    (["--learning-rate", "-1"], "--learning-rate must be positive"),
])
def test_bad_numbers_are_rejected_before_anything_runs(args, message):
    result = run_invoke("train", *args, env={**os.environ, "DOGOPS_EMULATOR_PORT": "1"})
    assert result.returncode == 2 and message in result.stderr


def test_predict_needs_exactly_one_image_source(tmp_path):
    import tasks

    with pytest.raises(SystemExit) as none_given:
        _call_without_backend(tasks.predict, MockContext())
    assert "exactly one of --image PATH or --url URL" in str(none_given.value)
    with pytest.raises(SystemExit) as missing:
        _call_without_backend(tasks.predict, MockContext(), image=str(tmp_path / "nope.jpg"))
    assert "no such file" in str(missing.value)
    with pytest.raises(SystemExit) as bad_url:
        _call_without_backend(tasks.predict, MockContext(), url="file:///etc/passwd")
    assert "must be an http(s) URL" in str(bad_url.value)


def _call_without_backend(task, context: Context, **kwargs):
    """Run a task with the backend lookup failing loudly if reached: input is checked first."""
    from invoke import Exit

    import tasks

    original = tasks._backend
    tasks._backend = lambda *a, **k: pytest.fail("validation must happen before the backend")
    try:
        task(context, **kwargs)
    except Exit as exit_:
        raise SystemExit(exit_.message) from None
    finally:
        tasks._backend = original


def test_package_task_builds_the_zip(tmp_path, capsys):
    import tasks

    tasks.package(MockContext())
    out = capsys.readouterr().out
    assert "lambda_function.zip" in out and "sha256=" in out
    assert (config.REPO_ROOT / "build" / "lambda_function.zip").is_file()


def test_data_with_unreachable_url_fails_before_starting_anything(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "DOGOPS_STATE_ROOT": str(tmp_path / "state"),
           "DOGOPS_EMULATOR_PORT": "1"}  # would fail loudly if the emulator were started
    result = run_invoke("data", "--source", f"http://127.0.0.1:{port}/dogImages.zip", env=env)
    assert result.returncode == 2
    assert "could not download" in result.stderr and "Traceback" not in result.stderr
    assert not list((tmp_path / "state").rglob("*.zip*"))


@pytest.mark.parametrize(("value", "message"), [("two", "--model must be an integer"),
                                                ("0", "--model must be at least 1")])
def test_deploy_bad_model_version_fails_before_anything_starts(tmp_path, value, message):
    env = {**os.environ, "DOGOPS_STATE_ROOT": str(tmp_path / "state")}
    result = run_invoke("deploy", "--model", value, env=env)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "state" / "local" / "emulator.pid").exists()
