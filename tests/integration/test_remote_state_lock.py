"""Remote state on the emulator: the S3 backend with its native lockfile, exactly as configured
by `invoke bootstrap --target local`.

A small configuration (terraform_data with a sleeping provisioner, so a run holds the lock for a
few seconds) shares the real backend settings under its own state key:
two concurrent applies -> the second fails naming the holder, the state is intact (or, with a
lock timeout, waits and applies on top of the first); a run killed
while holding the lock -> the next run names the lock ID and the printed release works.
"""

from __future__ import annotations

import os
import signal
import subprocess
import textwrap
import threading
import time

import pytest

from dogops import config, remote_state
from dogops.state_lock import StateLockedError
from dogops.terraform import Terraform

pytestmark = pytest.mark.integration

HOLD_S = 8
CONFIG = textwrap.dedent(f"""
    terraform {{
      backend "s3" {{}}
    }}
    variable "greeting" {{
      type    = string
      default = "hello"
    }}
    resource "terraform_data" "slow" {{
      input = var.greeting
      provisioner "local-exec" {{
        command = "sleep {HOLD_S}"
      }}
    }}
    resource "terraform_data" "after" {{
      input = terraform_data.slow.output
    }}
""")


@pytest.fixture(scope="module")
def backend(workspace):
    from dogops.backend import for_target
    from dogops.bootstrap import bootstrap

    kind, _ = workspace
    if kind != "moto":
        pytest.skip("the lock rehearsal runs on the embedded emulator")
    backend = for_target("local")
    bootstrap(backend)
    return backend


def tiny_terraform(backend, root, key: str) -> Terraform:
    root.mkdir(parents=True, exist_ok=True)
    (root / "main.tf").write_text(CONFIG)
    tf = Terraform(working_dir=root, env=backend.terraform_env(), data_dir=root / ".data",
                   quiet=True, backend_config=[*backend.remote_backend_config(), f"key={key}"],
                   unlock_command=backend.unlock_command())
    tf.init()
    return tf


def wait_for_lock(backend, key: str, timeout_s: float = 30) -> None:
    bucket = remote_state.read_settings(remote_state.backend_file("local",
                                                                  backend.terraform_dir))["bucket"]
    s3 = backend.client("s3")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{key}.tflock").get("KeyCount", 0)
        if listed:
            return
        time.sleep(0.2)
    pytest.fail(f"no lockfile {key}.tflock appeared within {timeout_s} s")


def apply_in_background(terraform: Terraform, variables: dict) -> tuple[threading.Thread, list]:
    """Start an apply in a thread; its exception, if any, lands in the returned list."""
    errors: list[BaseException] = []

    def run():
        try:
            terraform.apply(variables)
        except Exception as err:  # noqa: BLE001 - reported by the caller's assertion
            errors.append(err)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def test_bootstrap_made_a_versioned_encrypted_private_bucket_and_is_idempotent(backend, capsys):
    from dogops.bootstrap import bootstrap

    path = remote_state.backend_file("local", backend.terraform_dir)
    settings = remote_state.read_settings(path)
    assert settings["use_lockfile"] is True and settings["encrypt"] is True
    s3 = backend.client("s3")
    assert remote_state.missing_settings(s3, str(settings["bucket"])) == []
    before = path.read_text()
    capsys.readouterr()
    bootstrap(backend)  # second run: nothing created, nothing rewritten
    out = capsys.readouterr().out
    assert "exists" in out and "created" not in out and "wrote" not in out
    assert path.read_text() == before


def test_concurrent_applies_one_fails_naming_the_holder_and_the_state_stays_whole(backend,
                                                                                   tmp_path):
    key = "locktest/concurrent.tfstate"
    first = tiny_terraform(backend, tmp_path / "first", key)
    second = tiny_terraform(backend, tmp_path / "second", key)  # another working copy
    thread, errors = apply_in_background(first, {"greeting": "one"})
    wait_for_lock(backend, key)
    with pytest.raises(StateLockedError) as locked:
        second.apply({"greeting": "two"})
    thread.join(timeout=120)
    assert not errors, errors

    message = str(locked.value)
    assert locked.value.lock.who and locked.value.lock.who in message  # the holder is named
    assert "apply" in message and locked.value.lock.lock_id in message
    assert f"invoke unlock --target local --lock-id {locked.value.lock.lock_id}" in message
    # The state holds exactly the first run's resources, and both copies agree on it.
    assert sorted(second.state_resources()) == ["terraform_data.after", "terraform_data.slow"]
    assert second.plan({"greeting": "one"}) is False
    assert first.plan({"greeting": "one"}) is False


def test_with_a_lock_timeout_the_second_apply_waits_then_applies_on_top(backend, tmp_path):
    key = "locktest/waiting.tfstate"
    first = tiny_terraform(backend, tmp_path / "first", key)
    second = tiny_terraform(backend, tmp_path / "second", key)
    second.lock_timeout = "90s"  # DOGOPS_LOCK_TIMEOUT=90s
    thread, errors = apply_in_background(first, {"greeting": "one"})
    wait_for_lock(backend, key)
    started = time.monotonic()
    second.apply({"greeting": "two"})  # waits for the lock, then builds on the first's state
    thread.join(timeout=120)
    assert not errors, errors
    assert time.monotonic() - started > 1  # it really waited for the holder (HOLD_S sleep)
    assert first.plan({"greeting": "two"}) is False  # both copies see the second's result
    assert sorted(first.state_resources()) == ["terraform_data.after", "terraform_data.slow"]


def test_a_crashed_runs_lock_is_named_and_released_with_the_printed_command(backend, tmp_path):
    key = "locktest/crashed.tfstate"
    crashed = tiny_terraform(backend, tmp_path / "crashed", key)
    cmd = ["terraform", f"-chdir={crashed.working_dir}", "apply", "-auto-approve", "-input=false",
           "-no-color"]
    proc = subprocess.Popen(cmd, env=crashed.env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for_lock(backend, key)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the run dies holding the lock
        proc.wait(timeout=30)

    retry = tiny_terraform(backend, tmp_path / "retry", key)
    with pytest.raises(StateLockedError) as locked:
        retry.apply()
    lock_id = locked.value.lock.lock_id
    assert f"--lock-id {lock_id}" in str(locked.value)

    retry.force_unlock(lock_id)  # what `invoke unlock --lock-id <ID>` runs
    retry.apply()
    assert sorted(retry.state_resources()) == ["terraform_data.after", "terraform_data.slow"]


def test_an_unknown_env_fails_before_anything_runs():
    from dogops.errors import UserError

    with pytest.raises(UserError, match="unknown environment name 'Prod!'"):
        config.check_env("Prod!")
