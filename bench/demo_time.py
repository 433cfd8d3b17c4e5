"""Wall time of `invoke demo` from cold, and of a second `invoke train deploy` (should do nothing).

    .venv/bin/python bench/demo_time.py

Runs in a throw-away state dir with its own emulator port and a copy of terraform/, so it never
touches the repository's .dogops/ or a running emulator. Cold means: no emulator, no Terraform
state or provider copy, no dataset, no trained model. Prints seconds and ratios: the warm re-run
against the cold demo measured in the same run, and the cold demo against the 180 s budget.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUDGET_S = 180.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def timed(args: list[str], env: dict[str, str], log: Path) -> float:
    started = time.monotonic()
    with open(log, "a") as out:
        code = subprocess.run(
            [sys.executable, "-m", "invoke", *args],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        ).returncode
    elapsed = time.monotonic() - started
    if code != 0:
        sys.exit(f"`invoke {' '.join(args)}` failed (exit {code}); see {log}")
    return elapsed


def main() -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="dogops-demo-bench-"))
    shutil.copytree(
        REPO / "terraform",
        work / "terraform",
        ignore=shutil.ignore_patterns(
            ".terraform", "*.tfstate*", "emulator_providers_override.tf", "*.auto.tfvars.json"
        ),
    )
    shutil.copytree(REPO / "policies", work / "policies")
    env = {
        **os.environ,
        "DOGOPS_STATE_ROOT": str(work / ".dogops"),
        "DOGOPS_TERRAFORM_DIR": str(work / "terraform"),
        "DOGOPS_EMULATOR_PORT": str(free_port()),
    }
    env.pop("DOGOPS_EMULATOR_URL", None)
    log = work / "bench.log"
    finished = False
    try:
        cold = timed(["demo"], env, log)
        warm = timed(["train", "deploy"], env, log)
        if "model up to date" not in log.read_text():
            sys.exit(f"the second `invoke train deploy` trained again; see {log}")
        teardown = timed(["destroy"], env, log)
        finished = True
    finally:
        if not finished:  # leave no emulator or endpoint host running
            subprocess.run(
                [sys.executable, "-m", "invoke", "destroy"],
                cwd=REPO,
                env=env,
                capture_output=True,
                check=False,
            )
    print(
        f"invoke demo (cold)            {cold:7.1f} s   {cold / BUDGET_S:5.2f}x the "
        f"{BUDGET_S:.0f} s budget"
    )
    print(
        f"invoke train deploy (again)   {warm:7.1f} s   {warm / cold:5.2f}x the cold demo "
        "(nothing retrained or changed)"
    )
    print(f"invoke destroy                {teardown:7.1f} s")
    print(f"cores: {os.cpu_count()}, load average at the end: {os.getloadavg()[0]:.1f}")
    shutil.rmtree(work, ignore_errors=True)
    return {
        "demo_cold_s": round(cold, 1),
        "train_deploy_again_s": round(warm, 1),
        "destroy_s": round(teardown, 1),
        "budget_s": BUDGET_S,
    }


if __name__ == "__main__":
    main()
