"""A small driver for the terraform CLI (init / plan / apply / output / destroy).

python-terraform 0.10.1 breaks on Terraform 1.11 (`destroy` passes the removed `-force`,
`output(name)` raises), and what we need is five subprocess calls, so we own them here.
Emulator runs get their own state file and data dir, and the emulator provider override is
copied beside the root configuration for the run only.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from dogops import config
from dogops.errors import UserError
from dogops.state_lock import StateLockedError, locked_message, parse_lock_error

EMULATOR_OVERRIDE_SOURCE = Path("emulator") / "providers_override.tf"
EMULATOR_OVERRIDE_TARGET = Path("emulator_providers_override.tf")
LOCAL_STATE_OVERRIDE_SOURCE = Path("emulator") / "local_state_override.tf"
LOCAL_STATE_OVERRIDE_TARGET = Path("emulator_local_state_override.tf")
DEFAULT_EMULATOR_ENDPOINT = "http://localhost:4566"


def terraform_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for terraform: offline provider mirror when present, no prompts."""
    env = dict(os.environ if base is None else base)
    if config.OFFLINE_PROVIDER_MIRROR.is_dir() and config.OFFLINE_TFRC.is_file():
        env["TF_CLI_CONFIG_FILE"] = str(config.OFFLINE_TFRC)
    env["TF_IN_AUTOMATION"] = "1"
    env["TF_INPUT"] = "0"
    return env


def render_emulator_override(endpoint_url: str, root: Path = config.TERRAFORM_DIR) -> str:
    """The emulator profile's provider override, pointed at `endpoint_url`."""
    source = Path(root) / EMULATOR_OVERRIDE_SOURCE
    if not source.is_file():
        raise UserError(f"emulator profile missing: {source} does not exist")
    text = source.read_text()
    endpoint_url = endpoint_url.rstrip("/")
    for default in (DEFAULT_EMULATOR_ENDPOINT, "http://127.0.0.1:4566"):
        text = text.replace(default, endpoint_url)
    return text


@contextlib.contextmanager
def emulator_override(endpoint_url: str, root: Path = config.TERRAFORM_DIR) -> Iterator[Path]:
    """Place the emulator provider override beside the root configuration for one run."""
    target = Path(root) / EMULATOR_OVERRIDE_TARGET
    target.write_text(render_emulator_override(endpoint_url, root))
    try:
        yield target
    finally:
        target.unlink(missing_ok=True)


@contextlib.contextmanager
def local_state_override(root: Path = config.TERRAFORM_DIR) -> Iterator[Path]:
    """Replace the root's S3 backend with a local one for one run (emulator runs before
    `invoke bootstrap`, and the first half of a state migration)."""
    source = Path(root) / LOCAL_STATE_OVERRIDE_SOURCE
    target = Path(root) / LOCAL_STATE_OVERRIDE_TARGET
    if not source.is_file():
        raise UserError(f"emulator profile missing: {source} does not exist")
    shutil.copyfile(source, target)
    try:
        yield target
    finally:
        target.unlink(missing_ok=True)


def remove_stale_emulator_override(root: Path = config.TERRAFORM_DIR) -> None:
    """A left-over override would silently send an AWS run to the emulator (or to a local
    state file instead of the S3 backend): remove it."""
    for name in (EMULATOR_OVERRIDE_TARGET, LOCAL_STATE_OVERRIDE_TARGET):
        target = Path(root) / name
        if target.exists():
            print(f"removing stale {target.name} from an interrupted emulator run")
            target.unlink()


def run_interruptible(cmd: list[str], env: Mapping[str, str] | None,
                      capture_stdout: bool) -> subprocess.CompletedProcess:
    """Run Terraform so that Ctrl-C stops it gracefully, with its state saved.

    subprocess.run would SIGKILL the child 0.25 s after a KeyboardInterrupt, so an interrupted
    apply lost the record of what it had just created and the re-run failed on "already
    exists". Terraform runs in its own process group; an interrupt reaches only us, and we pass
    on exactly one SIGINT and wait (a second Ctrl-C passes a second one: Terraform's own "exit
    now"). Then the command fails with a one-line message and exit code 130.
    """
    proc = subprocess.Popen(cmd, env=env, text=True, stderr=subprocess.PIPE,
                            stdout=subprocess.PIPE if capture_stdout else None, process_group=0)
    interrupted = False
    while True:
        try:
            out, err = proc.communicate()
            break
        except KeyboardInterrupt:
            interrupted = True
            proc.send_signal(signal.SIGINT)
    if interrupted:
        if err:
            sys.stderr.write(err)
        raise UserError("interrupted: Terraform stopped and saved its state; run the same "
                        "command again to continue", exit_code=130)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


class Terraform:
    """Runs terraform in the root configuration with one target's state and variables."""

    def __init__(
        self,
        working_dir: Path = config.TERRAFORM_DIR,
        env: Mapping[str, str] | None = None,
        state_file: Path | None = None,
        data_dir: Path | None = None,
        var_files: Sequence[Path] = (),
        quiet: bool = False,
        backend_config: Sequence[str] = (),
        unlock_command: str = "terraform force-unlock {lock_id}",
        lock_timeout: str | None = None,
    ):
        if shutil.which("terraform") is None:
            raise UserError("terraform is not on PATH: install Terraform >= 1.11")
        self.working_dir = Path(working_dir)
        self.env = terraform_env(env)
        if data_dir is not None:
            data_dir.mkdir(parents=True, exist_ok=True)
            self.env["TF_DATA_DIR"] = str(data_dir)
        self.state_file = state_file
        self.var_files = [Path(p) for p in var_files]
        self.quiet = quiet
        # -backend-config values (files or key=value) for a partial backend block (remote state)
        self.backend_config = list(backend_config)
        self.unlock_command = unlock_command
        # 0s: a second run fails at once naming the lock holder; e.g. "5m" waits for it instead.
        self.lock_timeout = lock_timeout or os.environ.get("DOGOPS_LOCK_TIMEOUT") or "0s"
        self._temp_files: list[Path] = []

    # -- low level -------------------------------------------------------------------------
    def _color(self) -> list[str]:
        return [] if sys.stdout.isatty() and not self.quiet else ["-no-color"]

    def _state_args(self) -> list[str]:
        return [f"-state={self.state_file}"] if self.state_file else []

    def _var_args(self, variables: Mapping[str, object] | None) -> list[str]:
        args = [f"-var-file={p}" for p in self.var_files if p.exists()]
        if variables:
            # A JSON var file (not -var) so null, numbers and booleans keep their types.
            fd, name = tempfile.mkstemp(prefix="dogops-", suffix=".tfvars.json")
            with os.fdopen(fd, "w") as handle:
                json.dump(dict(variables), handle)
            self._temp_files.append(Path(name))
            args.append(f"-var-file={name}")
        return args

    def run(self, *args: str, capture: bool = False, ok_codes: Sequence[int] = (0,)) -> tuple:
        """Run terraform; stream its output unless captured; UserError on failure."""
        cmd = ["terraform", f"-chdir={self.working_dir}", *args]
        try:
            if capture or self.quiet:
                proc = run_interruptible(cmd, self.env, capture_stdout=True)
            else:
                sys.stdout.flush()
                proc = run_interruptible(cmd, self.env, capture_stdout=False)
                if proc.stderr:
                    sys.stderr.write(proc.stderr)
        finally:
            for path in self._temp_files:
                path.unlink(missing_ok=True)
            self._temp_files.clear()
        if proc.returncode not in ok_codes:
            lock = parse_lock_error(proc.stderr or "")
            if lock is not None:
                raise StateLockedError(locked_message(lock, self.unlock_command), lock)
            detail = (proc.stderr or "").strip().splitlines()[-15:]
            message = f"terraform {args[0]} failed (exit {proc.returncode})"
            if detail:
                message += ":\n  " + "\n  ".join(detail)
            error = UserError(message + "\nfix the cause and re-run: Terraform resumes from its "
                              "state", exit_code=1)
            error.stderr = proc.stderr or ""  # the whole output, for callers that parse it
            raise error
        return proc.returncode, proc.stdout or ""

    # -- commands --------------------------------------------------------------------------
    def init(self) -> None:
        # -reconfigure: the backend settings are given in full on every run (one data dir serves
        # every environment's state key); moving a state between backends is only ever the
        # explicit migrate_state(), never a side effect of init.
        self.run("init", "-input=false", "-reconfigure",
                 *(f"-backend-config={value}" for value in self.backend_config), *self._color(),
                 capture=True)

    def migrate_state(self, backend_config: Sequence[str]) -> None:
        """Copy the state of the currently initialised backend into `backend_config`'s
        (terraform init -migrate-state); the old state is left where it was."""
        self.run("init", "-input=false", "-migrate-state", "-force-copy",
                 *(f"-backend-config={value}" for value in backend_config), *self._color(),
                 capture=True)
        self.backend_config = list(backend_config)

    def force_unlock(self, lock_id: str) -> None:
        self.run("force-unlock", "-force", lock_id, capture=True)

    def _lock_args(self) -> list[str]:
        return [f"-lock-timeout={self.lock_timeout}"]

    def plan(self, variables: Mapping[str, object] | None = None,
             out: Path | None = None) -> bool:
        """True when the plan has changes (terraform -detailed-exitcode); `out` keeps the plan."""
        out_args = []
        if out is not None:
            Path(out).parent.mkdir(parents=True, exist_ok=True)
            out_args = [f"-out={out}"]
        code, _ = self.run("plan", "-input=false", "-detailed-exitcode", "-lock=true",
                           *self._lock_args(), *out_args, *self._color(), *self._state_args(),
                           *self._var_args(variables), ok_codes=(0, 2))
        return code == 2

    def show_json(self, plan_file: Path) -> dict:
        """`terraform show -json` of a saved plan (what reviews and PR comments read)."""
        _, out = self.run("show", "-json", str(plan_file), capture=True)
        return json.loads(out)

    def apply_plan(self, plan_file: Path) -> None:
        """Apply exactly a saved (reviewed) plan; Terraform refuses it if the state moved on."""
        self.run("apply", "-input=false", *self._lock_args(), *self._color(),
                 *self._state_args(), str(plan_file))

    def apply(self, variables: Mapping[str, object] | None = None) -> None:
        self.run("apply", "-input=false", "-auto-approve", *self._lock_args(), *self._color(),
                 *self._state_args(), *self._var_args(variables))

    def forget_resource(self, address: str) -> None:
        """Drop an address from the state (the resource itself is left alone)."""
        self.run("state", "rm", *self._state_args(), address, capture=True)

    def destroy(self, variables: Mapping[str, object] | None = None) -> None:
        self.run("destroy", "-input=false", "-auto-approve", *self._lock_args(), *self._color(),
                 *self._state_args(), *self._var_args(variables))

    def output(self) -> dict[str, object]:
        """All root outputs as plain values ({} before the first apply)."""
        _, out = self.run("output", "-json", *self._state_args(), capture=True)
        raw = json.loads(out or "{}")
        return {name: item.get("value") for name, item in raw.items()}

    def state_resources(self) -> list[str]:
        """Addresses in the state (empty after a full destroy)."""
        if self.state_file is not None and not self.state_file.exists():
            return []
        _, out = self.run("state", "list", *self._state_args(), capture=True, ok_codes=(0, 1))
        return [line for line in out.splitlines() if line.strip()]

    def state_rm(self, addresses: Sequence[str]) -> list[str]:
        """Forget resources without destroying them; returns the addresses that were there."""
        present = [a for a in addresses if a in self.state_resources()]
        if present:
            self.run("state", "rm", *self._state_args(), *present, capture=True)
        return present

    def import_resource(self, address: str, resource_id: str,
                        variables: Mapping[str, object] | None = None) -> None:
        """Adopt an existing object into the state (the configuration needs its variables)."""
        self.run("import", "-input=false", *self._color(), *self._state_args(),
                 *self._var_args(variables), address, resource_id, capture=True)

    def planned_actions(self, variables: Mapping[str, object] | None = None) -> dict[str, list]:
        """{resource address: planned actions} of a plan (e.g. ["create", "delete"] for a
        create-before-destroy replacement); nothing is applied."""
        fd, plan_file = tempfile.mkstemp(prefix="dogops-", suffix=".tfplan")
        os.close(fd)
        try:
            self.run("plan", "-input=false", "-lock=true", f"-out={plan_file}", *self._color(),
                     *self._state_args(), *self._var_args(variables), capture=True)
            _, out = self.run("show", "-json", plan_file, capture=True)
        finally:
            Path(plan_file).unlink(missing_ok=True)
        changes = json.loads(out or "{}").get("resource_changes", [])
        return {c["address"]: list(c["change"]["actions"]) for c in changes}
