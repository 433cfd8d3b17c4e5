"""Shared fixtures: the real digits dataset and one real (tiny) training run reused by tests."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from dogops.sample_data import make_digits_imagefolder

REPO = Path(__file__).resolve().parents[2]
TRAIN_PY = REPO / "training" / "train.py"
METRIC_LINE = re.compile(
    r"^epoch=(\d+) train_loss=([\d.]+) valid_loss=([\d.]+) valid_accuracy=([\d.]+)$", re.MULTILINE
)
TEST_LINE = re.compile(r"^test_loss=([\d.]+) test_accuracy=([\d.]+)$", re.MULTILINE)

# Small enough for a 2-core CI box: digits are 8x8 at source, so 16 px loses nothing.
TINY_HPARAMS = [
    "--arch",
    "resnet18",
    "--pretrained",
    "none",
    "--freeze",
    "none",
    "--image-size",
    "16",
    "--batch-size",
    "32",
    "--learning-rate",
    "0.002",
    "--augment",
    "none",
    "--num-workers",
    "0",
]


def train_env() -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SM_", "RANK", "WORLD_", "LOCAL_RANK", "MASTER_"))
    }
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class TrainingRun:
    model_dir: Path
    output_dir: Path
    stdout: str
    metrics: dict


@pytest.fixture(scope="session")
def digits_dir(tmp_path_factory) -> Path:
    return make_digits_imagefolder(tmp_path_factory.mktemp("digits"), image_size=32, seed=0)


@pytest.fixture(scope="session")
def small_digits_dir(digits_dir, tmp_path_factory) -> Path:
    """A per-class subset of the real digits, for tests about the loop rather than accuracy."""
    root = tmp_path_factory.mktemp("digits_small")
    for split, per_class in (("train", 24), ("valid", 4), ("test", 4)):
        for class_dir in sorted((digits_dir / split).iterdir()):
            target = root / split / class_dir.name
            target.mkdir(parents=True)
            for image in sorted(class_dir.glob("*.png"))[:per_class]:
                shutil.copy(image, target / image.name)
    return root


def run_train(args: list[str], *, launcher: list[str] | None = None, timeout: int = 600):
    command = (launcher or [sys.executable]) + [str(TRAIN_PY), *args]
    return subprocess.run(
        command,
        check=False,
        capture_output=True,
        text=True,
        env=train_env(),
        timeout=timeout,
        cwd=REPO,
    )


@pytest.fixture(scope="session")
def trained(digits_dir, tmp_path_factory) -> TrainingRun:
    """One real training run on the digits, with ONNX export: the served model of the tests."""
    out = tmp_path_factory.mktemp("run")
    result = run_train(
        [
            "--data-dir",
            str(digits_dir),
            "--model-dir",
            str(out / "model"),
            "--output-dir",
            str(out / "output"),
            "--checkpoint-dir",
            str(out / "checkpoints"),
            "--epochs",
            "3",
            "--export-onnx",
            "true",
            *TINY_HPARAMS,
        ]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    metrics = json.loads((out / "output" / "metrics.json").read_text())
    return TrainingRun(out / "model", out / "output", result.stdout, metrics)
