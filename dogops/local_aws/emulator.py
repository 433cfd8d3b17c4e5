"""The embedded local AWS emulator: moto in server mode with our gap fixes, on 127.0.0.1:4566.

    python -m dogops.local_aws.emulator start|stop|status [--port N] [--state-dir DIR]

`start` launches `python -m dogops.local_aws.moto_patches.server` as a detached background process, records
it in `<state dir>/emulator.pid` (state dir: `.dogops/local`), logs to `<state dir>/emulator.log`
and waits until it answers. It is idempotent: a healthy emulator of the same state dir is reused.
A port held by anything else is a clear error, never a second server. 4566 is LocalStack's edge
port, so tflocal-style endpoint settings and localstack-client work unchanged.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import requests

from dogops.config import EMULATOR_CREDENTIALS, REPO_ROOT
from dogops.errors import UserError
from dogops.local_aws.moto_patches import endpoint_registry
from dogops.local_aws.moto_patches.server import HEALTH_SERVICE

HOST = "127.0.0.1"
DEFAULT_PORT = int(os.environ.get("DOGOPS_EMULATOR_PORT", "4566"))
PID_FILE = "emulator.pid"
LOG_FILE = "emulator.log"
SERVER_MODULE = "dogops.local_aws.moto_patches.server"
REGION = "us-east-1"


@dataclass(frozen=True)
class EmulatorStatus:
    running: bool
    url: str
    pid: int | None = None
    state_dir: str | None = None
    detail: str = ""


def endpoint_url(port: int = DEFAULT_PORT) -> str:
    return f"http://{HOST}:{port}"


def operator_credentials(url: str) -> dict[str, str]:
    """The operator's key of the dogops emulator answering at `url` (IAM is enforced there:
    moto_patches/iam_enforcement.py); for any other emulator (e.g. LocalStack) the customary
    `test`/`test`, which those accept."""
    from dogops.local_aws.moto_patches.iam_enforcement import credentials_path

    answer = health_at(url)
    if answer and answer.get("state_dir"):
        try:
            record = json.loads(credentials_path(Path(answer["state_dir"])).read_text())
            return {k: str(record[k]) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
        except (OSError, ValueError, KeyError, TypeError):
            raise UserError(f"the emulator at {url} runs with IAM enforced, but its operator key "
                            f"({credentials_path(Path(answer['state_dir']))}) cannot be read: "
                            "restart it (python -m dogops.local_aws.emulator stop; start)",
                            exit_code=3) from None
    return dict(EMULATOR_CREDENTIALS)


def client_environment(port: int = DEFAULT_PORT) -> dict[str, str]:
    """Environment for boto3/Terraform/SDK clients talking to the emulator as its operator."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url(port),
        **operator_credentials(endpoint_url(port)),
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }


def _state_dir(state_dir: Path | str | None) -> Path:
    return Path(state_dir) if state_dir else endpoint_registry.default_state_dir()


def _pid_file(state_dir: Path) -> Path:
    return state_dir / PID_FILE


def _read_pid_file(state_dir: Path) -> dict | None:
    try:
        record = json.loads(_pid_file(state_dir).read_text())
        return record if isinstance(record, dict) and isinstance(record.get("pid"), int) else None
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _is_our_server(pid: int) -> bool:
    """True if `pid` is alive and is an emulator server (guards against a recycled pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return SERVER_MODULE.encode() in cmdline


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


def health(port: int = DEFAULT_PORT, timeout_s: float = 1.0) -> dict | None:
    """The emulator's health record, or None when nothing (or something else) answers."""
    return health_at(endpoint_url(port), timeout_s)


def health_at(url: str, timeout_s: float = 1.0) -> dict | None:
    try:
        reply = requests.get(f"{url.rstrip('/')}/moto-api/dogops/health", timeout=timeout_s)
        record = reply.json() if reply.ok else None
    except (requests.RequestException, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("service") == HEALTH_SERVICE else None


def status(port: int = DEFAULT_PORT, state_dir: Path | str | None = None) -> EmulatorStatus:
    state = _state_dir(state_dir)
    record = _read_pid_file(state)
    answer = health(port)
    url = endpoint_url(port)
    if answer and answer.get("state_dir") == str(state.resolve()):
        return EmulatorStatus(True, url, answer.get("pid"), answer["state_dir"], "healthy")
    if answer:
        return EmulatorStatus(
            False,
            url,
            answer.get("pid"),
            answer.get("state_dir"),
            f"port {port} is served by another dogops emulator (state dir {answer.get('state_dir')})",
        )
    if record and _is_our_server(record["pid"]):
        return EmulatorStatus(False, url, record["pid"], str(state), "process alive, not answering")
    if _port_in_use(port):
        return EmulatorStatus(False, url, None, None, f"port {port} is in use by another program")
    return EmulatorStatus(False, url, None, None, "not running")


def start(
    port: int = DEFAULT_PORT, state_dir: Path | str | None = None, timeout_s: float = 30.0
) -> EmulatorStatus:
    """Start the emulator (or reuse the healthy one already serving this state dir)."""
    state = _state_dir(state_dir)
    current = status(port, state)
    if current.running:
        return current
    record = _read_pid_file(state)
    if record and _is_our_server(record["pid"]):
        if record.get("port") != port:
            raise UserError(
                f"an emulator for {state} already runs on port {record.get('port')} "
                f"(pid {record['pid']}); stop it first (python -m dogops.local_aws.emulator stop "
                f"--port {record.get('port')})",
                exit_code=3,
            )
        # Ours but unresponsive (e.g. still starting): wait for it rather than start another.
        return _wait_healthy(port, state, record["pid"], None, timeout_s)
    if _port_in_use(port):
        raise UserError(
            f"cannot start the emulator: port {port} on {HOST} is already in use "
            f"({current.detail}). Stop that program, or use another port "
            "(--port / DOGOPS_EMULATOR_PORT).",
            exit_code=3,
        )
    state.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}  # no real creds
    env[endpoint_registry.STATE_DIR_ENV] = str(state.resolve())
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["MOTO_PORT"] = str(port)  # moto builds its self-referencing URLs from it
    log = open(state / LOG_FILE, "ab")  # noqa: SIM115 - handed to the child, closed below
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", SERVER_MODULE, "--host", HOST, "--port", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
            env=env,
            start_new_session=True,  # detached: survives the invoking shell
        )
    finally:
        log.close()
    _pid_file(state).write_text(json.dumps({"pid": process.pid, "port": port, "host": HOST}))
    return _wait_healthy(port, state, process.pid, process, timeout_s)


def _wait_healthy(
    port: int,
    state: Path,
    pid: int,
    process: subprocess.Popen | None,
    timeout_s: float,
) -> EmulatorStatus:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        answer = health(port, timeout_s=0.5)
        if answer and answer.get("pid") == pid:
            return EmulatorStatus(True, endpoint_url(port), pid, str(state.resolve()), "healthy")
        if process is not None and process.poll() is not None:
            _pid_file(state).unlink(missing_ok=True)
            raise UserError(
                f"the emulator exited during start-up (code {process.returncode}); "
                f"last log lines:\n{_log_tail(state)}",
                exit_code=3,
            )
        time.sleep(0.1)
    _terminate(pid)
    _pid_file(state).unlink(missing_ok=True)
    raise UserError(
        f"the emulator did not answer on {endpoint_url(port)} within {timeout_s:.0f}s; "
        f"last log lines:\n{_log_tail(state)}",
        exit_code=3,
    )


def _log_tail(state: Path, lines: int = 15) -> str:
    try:
        return "\n".join((state / LOG_FILE).read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def _terminate(pid: int, timeout_s: float = 10.0) -> None:
    if not _is_our_server(pid):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and _is_our_server(pid):
        _reap(pid)
        time.sleep(0.05)
    if _is_our_server(pid):
        os.kill(pid, signal.SIGKILL)
        _reap(pid)


def _reap(pid: int) -> None:
    """Collect the exit status when the server is our own child, so no zombie lingers."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def stop(port: int = DEFAULT_PORT, state_dir: Path | str | None = None) -> bool:
    """Stop the emulator started for this state dir; False if it was not running (idempotent)."""
    state = _state_dir(state_dir)
    record = _read_pid_file(state)
    _pid_file(state).unlink(missing_ok=True)
    if not record or not _is_our_server(record["pid"]):
        return False
    _terminate(record["pid"])
    return True


def reset(port: int = DEFAULT_PORT) -> None:
    """Forget every emulated resource (moto's reset), keeping the process up."""
    requests.post(f"{endpoint_url(port)}/moto-api/reset", timeout=10).raise_for_status()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dogops.local_aws.emulator",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=("start", "stop", "status"))
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--state-dir", default=None, help="default: .dogops/local")
    args = parser.parse_args(argv)
    try:
        if args.command == "start":
            result = start(args.port, args.state_dir)
            print(f"emulator running at {result.url} (pid {result.pid})")
            return 0
        if args.command == "stop":
            print("emulator stopped" if stop(args.port, args.state_dir) else "emulator not running")
            return 0
        result = status(args.port, args.state_dir)
        print(json.dumps(asdict(result)))
        return 0 if result.running else 1
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code


if __name__ == "__main__":
    sys.exit(main())
