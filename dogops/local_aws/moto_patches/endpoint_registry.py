"""Which local endpoint host serves which SageMaker endpoint name.

A small JSON file (`<state dir>/endpoints.json`, `{"<endpoint name>": "http://127.0.0.1:PORT"}`)
shared by the emulator process (reads it on every InvokeEndpoint) and `dogops.local_aws.endpoint_host`
(writes it when a host starts or stops). A file rather than in-memory emulator state, so a host
keeps serving across an emulator restart and the tooling can inspect it by hand.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REGISTRY_FILE = "endpoints.json"
STATE_DIR_ENV = "DOGOPS_EMULATOR_STATE_DIR"


def default_state_dir() -> Path:
    """The emulator's state directory: `$DOGOPS_EMULATOR_STATE_DIR`, else `.dogops/local`."""
    configured = os.environ.get(STATE_DIR_ENV)
    if configured:
        return Path(configured)
    from dogops.config import STATE_ROOT

    return STATE_ROOT / "local"


def registry_path(state_dir: Path | None = None) -> Path:
    return Path(state_dir or default_state_dir()) / REGISTRY_FILE


@contextmanager
def _locked(state_dir: Path | None) -> Iterator[Path]:
    path = registry_path(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield path
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _read(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except json.JSONDecodeError as err:
        raise ValueError(f"endpoint registry {path} is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise TypeError(f"endpoint registry {path} must hold a JSON object")
    return {str(k): str(v) for k, v in data.items()}


def _write(path: Path, data: dict[str, str]) -> None:
    # Write-then-rename so a reader never sees half a file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".endpoints-", suffix=".json")
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
    os.replace(tmp, path)


def register(endpoint_name: str, url: str, state_dir: Path | None = None) -> None:
    """Route InvokeEndpoint calls for `endpoint_name` to the host at `url`."""
    with _locked(state_dir) as path:
        data = _read(path)
        data[endpoint_name] = url.rstrip("/")
        _write(path, data)


def unregister(endpoint_name: str, state_dir: Path | None = None) -> None:
    with _locked(state_dir) as path:
        data = _read(path)
        if data.pop(endpoint_name, None) is not None:
            _write(path, data)


def lookup(endpoint_name: str, state_dir: Path | None = None) -> str | None:
    """The host URL registered for `endpoint_name`, or None."""
    return _read(registry_path(state_dir)).get(endpoint_name)


def all_hosts(state_dir: Path | None = None) -> dict[str, str]:
    return _read(registry_path(state_dir))
