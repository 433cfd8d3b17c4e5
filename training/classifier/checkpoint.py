"""Per-epoch checkpoints written atomically, so a spot interruption never leaves a torn file.

A checkpoint belongs to one run: its file name carries a digest of the run's fingerprint (data,
code, every hyperparameter, world size and, on SageMaker, the training job's name). A restarted
spot job finds its own file and resumes; a retrain with anything changed, or another tuning
child sharing the checkpoint location, finds none and starts fresh.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

import torch

log = logging.getLogger("classifier")
CHECKPOINT_GLOB = "checkpoint-*.pt"


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


def run_key(fingerprint: dict) -> str:
    canonical = json.dumps(fingerprint, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def checkpoint_path(checkpoint_dir: Path, fingerprint: dict) -> Path:
    return Path(checkpoint_dir) / f"checkpoint-{run_key(fingerprint)}.pt"


def save_checkpoint(checkpoint_dir: Path, state: dict) -> Path:
    path = checkpoint_path(checkpoint_dir, state["fingerprint"])
    atomic_torch_save(state, path)
    return path


def load_checkpoint(checkpoint_dir: Path | None, fingerprint: dict) -> dict | None:
    """This run's saved state, if any; other runs' checkpoints in the same place are left be."""
    if checkpoint_dir is None:
        return None
    path = checkpoint_path(checkpoint_dir, fingerprint)
    if not path.is_file():
        others = [p.name for p in Path(checkpoint_dir).glob(CHECKPOINT_GLOB)]
        others += [p.name for p in Path(checkpoint_dir).glob("checkpoint.pt")]  # older layout
        if others:
            log.info(
                "no checkpoint of this run in %s (%d of other runs ignored): starting fresh",
                checkpoint_dir,
                len(others),
            )
        return None
    try:
        # Our own file holds plain containers, tensors and numbers only.
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001  (torch.load raises many kinds; all mean unusable)
        raise CheckpointError(f"checkpoint {path} is unreadable: {error}") from None
    if state.get("fingerprint") != fingerprint:  # only a digest collision or a renamed file
        raise CheckpointError(
            f"checkpoint {path} holds another run's state; delete it or use another "
            "--checkpoint-dir"
        )
    return state
