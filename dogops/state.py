"""Per-target tooling state: the trained model's URI, what produced it, and the tfvars file.

`train` records the model artifact in `.dogops/<target>/state.json` and in the target's
`*.auto.tfvars.json` (`{"model_data_url": ...}`) that `deploy` hands to Terraform. A fingerprint of
data + training code + hyperparameters lets a second `invoke train` reuse the artifact.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from dogops import config
from dogops.errors import UserError

# wheels/: build output pinned by requirements.lock (which is hashed), not code
IGNORED_CODE_PARTS = {"__pycache__", ".pytest_cache", ".ruff_cache", "wheels"}


def write_json_atomic(path: Path, data: object) -> None:
    """Write-then-rename, so an interrupted run never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except json.JSONDecodeError as err:
        raise UserError(f"{path} is not valid JSON ({err}); delete it and re-run train") from None
    if not isinstance(data, dict):
        raise UserError(f"{path} must hold a JSON object; delete it and re-run train")
    return data


def load(target: str) -> dict:
    return _read_json(config.paths(target).state_file)


def save(target: str, data: Mapping[str, object]) -> None:
    write_json_atomic(config.paths(target).state_file, dict(data))


def read_tfvars(target: str) -> dict:
    return _read_json(config.paths(target).tfvars_file)


def record_model(target: str, model_data_url: str, **details: object) -> None:
    """Remember the artifact for `deploy` (replacing what was recorded before): state file
    first, then the tfvars Terraform reads."""
    save(target, {**details, "model_data_url": model_data_url})
    tfvars = read_tfvars(target)
    tfvars["model_data_url"] = model_data_url
    write_json_atomic(config.paths(target).tfvars_file, tfvars)


def forget(target: str) -> None:
    """After destroy: the recorded artifact no longer exists."""
    target_paths = config.paths(target)
    target_paths.state_file.unlink(missing_ok=True)
    target_paths.tfvars_file.unlink(missing_ok=True)


def code_digest(root: Path = config.TRAINING_DIR) -> str:
    """sha256 over the training code (relative paths + bytes), ignoring caches."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(root).rglob("*") if p.is_file()):
        relative = path.relative_to(root)
        if IGNORED_CODE_PARTS.intersection(relative.parts) or path.suffix == ".pyc":
            continue
        digest.update(str(relative).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def data_digest(objects: Iterable[tuple[str, str]]) -> str:
    """sha256 over a dataset listing of (key, etag-or-content-hash) pairs."""
    digest = hashlib.sha256()
    for key, etag in sorted(objects):
        digest.update(f"{key}\0{etag}\n".encode())
    return digest.hexdigest()


def fingerprint(data: str, code: str, settings: Mapping[str, object]) -> str:
    """One id for 'same data + same code + same hyperparameters and job settings'."""
    payload = json.dumps({"data": data, "code": code, "settings": dict(settings)}, sort_keys=True,
                         default=str)
    return hashlib.sha256(payload.encode()).hexdigest()
