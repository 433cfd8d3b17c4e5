"""What makes a training run this run: data, code, every hyperparameter, the process count and,
on SageMaker, the training job's name. Checkpoints are keyed by it (see ``checkpoint``)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

# Settings that change where files go, not what is trained.
NOT_TRAINING_INPUTS = (
    "data_dir",
    "train_dir",
    "valid_dir",
    "test_dir",
    "model_dir",
    "output_dir",
    "checkpoint_dir",
)


def data_digest(split_dirs: dict[str, Path]) -> str:
    """Digest of every file's relative path and size in the splits (cheap for 8k+ images)."""
    digest = hashlib.sha256()
    for split in sorted(split_dirs):
        root = Path(split_dirs[split])
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            digest.update(
                f"{split}/{path.relative_to(root).as_posix()}\0{path.stat().st_size}\n".encode()
            )
    return digest.hexdigest()


def code_digest(code_dir: Path) -> str:
    """Digest of the training sources shipped with the job (``source_dir`` on SageMaker)."""
    digest = hashlib.sha256()
    for path in sorted(Path(code_dir).rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        digest.update(path.relative_to(code_dir).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def run_fingerprint(
    hyperparameters: dict,
    class_names: list[str],
    world_size: int,
    split_dirs: dict[str, Path],
    code_dir: Path,
) -> dict:
    return {
        # A restarted spot job keeps its name; a new job (a retrain, another tuning child) not.
        "job": os.environ.get("TRAINING_JOB_NAME"),
        "hyperparameters": {
            k: v for k, v in sorted(hyperparameters.items()) if k not in NOT_TRAINING_INPUTS
        },
        "classes": list(class_names),
        "world_size": world_size,
        "data": data_digest(split_dirs),
        "code": code_digest(code_dir),
    }
