"""Paths, names and targets shared by the tasks."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dogops.errors import UserError

REPO_ROOT = Path(__file__).resolve().parent.parent
TERRAFORM_DIR = REPO_ROOT / "terraform"
TRAINING_DIR = REPO_ROOT / "training"
LAMBDA_DIR = REPO_ROOT / "lambda_function"
STATE_ROOT = Path(os.environ.get("DOGOPS_STATE_ROOT", REPO_ROOT / ".dogops"))
OFFLINE_PROVIDER_MIRROR = Path("/opt/tf-plugins")
OFFLINE_TFRC = TERRAFORM_DIR / "offline.tfrc"

TARGETS = ("local", "aws")
DEFAULT_TARGET = "local"
DEFAULT_REGION = "us-east-1"
DATA_PREFIX = "data/"
TRAINING_JOBS_PREFIX = "training-jobs"
CHECKPOINTS_PREFIX = "checkpoints"
EC2_MODELS_PREFIX = "models/ec2/"
TRAINING_CODE_KEY = "code/training.tar.gz"

# The credentials the emulator accepts; never used against AWS.
EMULATOR_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
}


def check_target(target: str) -> str:
    """Return the target if known; otherwise a clear error listing the valid ones."""
    if target not in TARGETS:
        raise UserError(f"unknown target {target!r}: use one of {', '.join(TARGETS)}")
    return target


@dataclass(frozen=True)
class TargetPaths:
    """Where one target keeps its tooling state; AWS and emulator never share files."""

    target: str

    @property
    def state_dir(self) -> Path:
        return STATE_ROOT / self.target

    @property
    def state_file(self) -> Path:
        return self.state_dir / "state.json"

    @property
    def tfvars_file(self) -> Path:
        # AWS: auto-loaded by Terraform in terraform/, so a hand-run `terraform plan` agrees with
        # the tooling. Emulator: kept out of terraform/ so a hand-run AWS plan never reads an
        # emulator model URI; the tooling passes it with -var-file.
        if self.target == "aws":
            return TERRAFORM_DIR / "aws.auto.tfvars.json"
        return self.state_dir / "local.auto.tfvars.json"

    @property
    def terraform_state(self) -> Path | None:
        """Separate state file for emulator runs; AWS keeps the root's own state/backend."""
        return self.state_dir / "terraform.tfstate" if self.target == "local" else None

    @property
    def terraform_data_dir(self) -> Path | None:
        return self.state_dir / "terraform-data" if self.target == "local" else None

    @property
    def work_dir(self) -> Path:
        return self.state_dir / "work"


def paths(target: str) -> TargetPaths:
    return TargetPaths(check_target(target))
