"""Faults the local runtime survives, each on one emulated stack (tests run in file order).

1. `terraform apply` interrupted half-way (Ctrl-C: SIGINT to the process group) -> re-running
   converges and a second plan is empty.
2. Training killed mid-epoch (SIGKILL, as a spot reclaim) -> the next `train` resumes at the next
   epoch from the setup's checkpoint.
3. The endpoint host killed -> `predict` says so clearly; `deploy` restarts it and predict works.
4. The emulator killed under the deployed stack -> the next `deploy` rebuilds it (bucket, roles,
   Lambda, endpoint, the model uploaded again from this machine's copy) and converges.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dogops import config
from dogops.errors import UserError

pytestmark = pytest.mark.integration
EPOCHS = 3


@pytest.fixture(scope="module")
def backend(workspace):
    from dogops.backend import for_target

    return for_target("local")


def child_env(root: Path) -> dict[str, str]:
    """The workspace's settings for a child process (config.STATE_ROOT is patched in-process)."""
    return {**os.environ, "DOGOPS_STATE_ROOT": str(root / ".dogops"),
            "PYTHONPATH": str(config.REPO_ROOT)}


# Prefixed to the children that get Ctrl-C: they take it as a terminal's foreground job does,
# even when this run was started in the background, where shells start jobs with SIGINT ignored
# and children inherit that (then no KeyboardInterrupt, and nothing to test).
AS_FOREGROUND_JOB = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n"


def run_until(code: str, root: Path, ready, timeout_s: float = 300) -> subprocess.Popen:
    """Start `python -c code` in its own process group; return once `ready()` is true."""
    code = AS_FOREGROUND_JOB + code
    process = subprocess.Popen([sys.executable, "-c", code], env=child_env(root),
                               cwd=config.REPO_ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    deadline = time.monotonic() + timeout_s
    while not ready():
        if process.poll() is not None:
            pytest.fail(f"the child finished before the fault could be injected:\n"
                        f"{process.stdout.read()[-3000:]}")
        if time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail("the child never reached the point of the fault")
        time.sleep(0.05)
    return process


def test_interrupted_apply_converges_when_run_again(workspace, backend):
    from dogops.deploy import plan

    _, root = workspace
    iam = backend.client("iam")
    code = "from dogops.backend import for_target; for_target('local').ensure_stack()"
    # Interrupt once Terraform has created part of the stack (the roles come early).
    process = run_until(code, root, lambda: len(iam.list_roles()["Roles"]) >= 1)
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in the terminal
    output, _ = process.communicate(timeout=300)
    assert process.returncode != 0, output
    assert "Interrupt received" in output, output[-3000:]  # Terraform stopped gracefully
    assert "Two interrupts received" not in output, output[-3000:]

    outputs = backend.apply()  # the user runs it again
    assert outputs["bucket_name"]
    assert plan(backend) is False, "the re-run must converge: a second plan is empty"


def test_interrupt_passes_one_sigint_and_waits(tmp_path):
    """Unit check of the mechanism: the child gets one SIGINT, finishes its cleanup, and the
    caller gets the one-line error (no KeyboardInterrupt traceback, no SIGKILL)."""
    marker = tmp_path / "cleaned-up"
    child = (f"import signal, time, pathlib, sys\n"
             f"def stop(*_):\n    time.sleep(1.0); pathlib.Path({str(marker)!r}).write_text('ok')"
             f"; sys.exit(1)\n"
             f"signal.signal(signal.SIGINT, stop)\nprint('ready', flush=True)\ntime.sleep(60)\n")
    script = (f"{AS_FOREGROUND_JOB}import sys\nfrom dogops.terraform import run_interruptible\n"
              f"from dogops.errors import UserError\n"
              f"try:\n    run_interruptible([sys.executable, '-c', {child!r}], None, False)\n"
              f"except UserError as err:\n    print('error:', err); sys.exit(err.exit_code)\n")
    process = subprocess.Popen([sys.executable, "-c", script], env=child_env(tmp_path),
                               stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert process.stdout.readline().strip() == "ready"
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: the whole foreground group
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 130, output
    assert marker.read_text() == "ok", "the child was killed before its cleanup"
    assert "interrupted: Terraform stopped and saved its state" in output


@pytest.fixture(scope="module")
def trained(backend, digits, workspace):
    """Training killed mid-epoch, then run again: it must resume, not restart."""
    from dogops.train import TrainRequest, train

    _, root = workspace
    checkpoints = config.paths("local").work_dir / "checkpoints"
    code = (
        "from pathlib import Path; from dogops.backend import for_target; "
        "from dogops.train import TrainRequest, train; "
        f"train(TrainRequest(target='local', hyperparameters={{'epochs': {EPOCHS}}}, "
        f"sample_data=Path({str(digits)!r})), for_target('local'))"
    )
    process = run_until(code, root, lambda: any(checkpoints.glob("*/checkpoint-*.pt")))
    os.killpg(process.pid, signal.SIGKILL)  # no chance to clean up
    process.wait(timeout=30)
    url = train(TrainRequest(target="local", hyperparameters={"epochs": EPOCHS},
                             sample_data=digits), backend)
    return url


def test_training_killed_mid_epoch_resumes_at_the_next_epoch(trained, capsys):
    logs = sorted(config.paths("local").work_dir.glob("*/training.log"),
                  key=lambda p: p.stat().st_mtime)
    text = logs[-1].read_text()
    resumed = [line for line in text.splitlines() if "resuming from checkpoint of epoch" in line]
    assert resumed, text[-3000:]
    epoch = int(resumed[0].split("epoch ")[1].split(";")[0])
    assert 1 <= epoch < EPOCHS
    assert f"next epoch {epoch + 1}" in resumed[0]
    assert not any(config.paths("local").work_dir.glob("checkpoints/*/checkpoint-*.pt")), \
        "a finished run leaves no checkpoint behind"


def test_killed_endpoint_host_is_reported_and_deploy_restarts_it(backend, trained, digits):
    from dogops.deploy import deploy
    from dogops.local_aws import endpoint_host
    from dogops.predict import predict
    from dogops.sample_data import sample_image

    deploy(backend)
    state_dir = config.paths("local").state_dir
    host = endpoint_host.host_info("dog-breeds-endpoint", state_dir)
    image, _ = sample_image(digits)
    assert predict(backend, image=str(image), top_k=1)
    os.kill(host.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while endpoint_host.host_info("dog-breeds-endpoint", state_dir) and \
            time.monotonic() < deadline:
        time.sleep(0.1)
    with pytest.raises(UserError) as err:
        predict(backend, image=str(image), top_k=1)
    message = str(err.value)
    assert "endpoint" in message and "deploy" in message, message
    assert "Traceback" not in message
    deploy(backend)  # restarts the host
    restarted = endpoint_host.host_info("dog-breeds-endpoint", state_dir)
    assert restarted is not None and restarted.pid != host.pid
    assert predict(backend, image=str(image), top_k=1)


def test_killed_emulator_is_rebuilt_by_the_next_deploy(backend, trained, digits):
    from dogops.backend import emulator_port, for_target
    from dogops.deploy import deploy, plan
    from dogops.local_aws import emulator
    from dogops.predict import predict
    from dogops.sample_data import sample_image

    status = emulator.health(emulator_port())
    os.kill(status["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while emulator.health(emulator_port()) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    fresh = for_target("local")  # what the next `invoke deploy` does: a new emulator
    outputs = deploy(fresh)
    assert outputs["endpoint_name"] == "dog-breeds-endpoint"
    assert plan(fresh) is False, "after the rebuild a second plan must be empty"
    image, _ = sample_image(digits)
    assert predict(fresh, image=str(image), top_k=1)
