"""Paths, names and targets shared by the tasks."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
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
# Environments (dev, staging, prod, ...): each has its own Terraform state, variable file and
# resource names. The default one keeps the names and files the project had before envs.
DEFAULT_ENV = "default"
ENV_VARIABLE = "DOGOPS_ENV"
ENV_NAME_PATTERN = re.compile(r"^[a-z]([a-z0-9-]{0,14}[a-z0-9])?$")
DEFAULT_REGION = "us-east-1"
DATA_PREFIX = "data/"
TRAINING_JOBS_PREFIX = "training-jobs"
CHECKPOINTS_PREFIX = "checkpoints"
EC2_MODELS_PREFIX = "models/ec2/"
TRAINING_CODE_KEY = "code/training.tar.gz"

# What an emulator other than ours (e.g. LocalStack) accepts; ours enforces IAM and hands out an
# operator key instead (dogops.local_aws.emulator.operator_credentials). Never used against AWS.
EMULATOR_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
}


def check_target(target: str) -> str:
    """Return the target if known; otherwise a clear error listing the valid ones."""
    if target not in TARGETS:
        raise UserError(f"unknown target {target!r}: use one of {', '.join(TARGETS)}")
    return target


def check_env(name: str | None) -> str:
    """A valid environment name (None/"" -> the default one); a clear error otherwise."""
    if name in (None, "", DEFAULT_ENV):
        return DEFAULT_ENV
    if not isinstance(name, str) or not ENV_NAME_PATTERN.match(name):
        raise UserError(f"unknown environment name {name!r}: use 1-16 lowercase letters, digits "
                        "and '-', starting with a letter and not ending with '-' (e.g. dev, "
                        "staging, prod)")
    return name


def current_env() -> str:
    """The environment this process works on: DOGOPS_ENV (set by `--env`), else the default."""
    return check_env(os.environ.get(ENV_VARIABLE))


@contextlib.contextmanager
def use_env(name: str) -> Iterator[str]:
    """Work on environment `name` inside the block (e.g. promote deploys into another env)."""
    name = check_env(name)
    saved = os.environ.get(ENV_VARIABLE)
    os.environ[ENV_VARIABLE] = name
    try:
        yield name
    finally:
        if saved is None:
            os.environ.pop(ENV_VARIABLE, None)
        else:
            os.environ[ENV_VARIABLE] = saved


@dataclass(frozen=True)
class TargetPaths:
    """Where one target keeps its tooling state; AWS and emulator never share files.

    Shared by all environments of a target: state_dir (emulator, endpoint hosts, work files).
    Per environment: the recorded model (state_file, tfvars_file) and the local Terraform
    state; the default environment keeps the paths from before environments existed."""

    target: str
    env: str = field(default=DEFAULT_ENV)

    @property
    def state_dir(self) -> Path:
        return STATE_ROOT / self.target

    @property
    def env_dir(self) -> Path:
        if self.env == DEFAULT_ENV:
            return self.state_dir
        return self.state_dir / "envs" / self.env

    @property
    def state_file(self) -> Path:
        return self.env_dir / "state.json"

    @property
    def tfvars_file(self) -> Path:
        # AWS: auto-loaded by Terraform in terraform/, so a hand-run `terraform plan` agrees with
        # the tooling. Emulator: kept out of terraform/ so a hand-run AWS plan never reads an
        # emulator model URI; the tooling passes it with -var-file.
        # Other environments keep theirs beside their state (an auto-loaded file would leak
        # into every environment's plan).
        if self.env != DEFAULT_ENV:
            return self.env_dir / "model.tfvars.json"
        if self.target == "aws":
            return TERRAFORM_DIR / "aws.auto.tfvars.json"
        return self.state_dir / "local.auto.tfvars.json"

    @property
    def terraform_state(self) -> Path | None:
        """Local state file for emulator runs without a remote backend (`invoke bootstrap`
        moves it into the S3 backend); AWS keeps its state in the S3 backend."""
        return self.env_dir / "terraform.tfstate" if self.target == "local" else None

    @property
    def terraform_data_dir(self) -> Path | None:
        return self.state_dir / "terraform-data" if self.target == "local" else None

    @property
    def work_dir(self) -> Path:
        return self.state_dir / "work"


def paths(target: str, env: str | None = None) -> TargetPaths:
    """Paths of a target for `env` (default: the current environment, see current_env)."""
    return TargetPaths(check_target(target), check_env(env) if env else current_env())
