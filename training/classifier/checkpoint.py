"""Per-epoch checkpoints written atomically, so a spot interruption never leaves a torn file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

CHECKPOINT_NAME = "checkpoint.pt"


class CheckpointError(ValueError):
    """A checkpoint exists but cannot be used for this run."""


def atomic_torch_save(obj, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def save_checkpoint(checkpoint_dir: Path, state: dict) -> Path:
    path = Path(checkpoint_dir) / CHECKPOINT_NAME
    atomic_torch_save(state, path)
    return path


def load_checkpoint(checkpoint_dir: Path | None, fingerprint: dict) -> dict | None:
    """The saved state if a checkpoint exists; it must come from the same model setup."""
    if checkpoint_dir is None:
        return None
    path = Path(checkpoint_dir) / CHECKPOINT_NAME
    if not path.is_file():
        return None
    try:
        # Our own file holds plain containers, tensors and numbers only.
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001  (torch.load raises many kinds; all mean unusable)
        raise CheckpointError(f"checkpoint {path} is unreadable: {error}") from None
    if state.get("fingerprint") != fingerprint:
        raise CheckpointError(
            f"checkpoint {path} was written for {state.get('fingerprint')}, this run is "
            f"{fingerprint}; use another --checkpoint-dir or delete it"
        )
    return state
