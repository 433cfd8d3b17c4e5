"""Render every policy document the stack would create: a Terraform plan against the emulator.

The role, bucket and key policies are templatefile() renderings of policies/*.json.tftpl, so an
HCL scanner never sees them. A plan does: `terraform show -json` carries each document as AWS
would receive it. The plan runs on a throwaway copy of terraform/ + policies/ (so a test can plant
a bad statement in the copy, and the shared working directory is never touched), against a
private emulator (only the account id and a few EC2 look-ups are read), with every option that
adds a policy switched on. Nothing is applied. Then `dogops.policy_check` reads the plan.

    python -m dogops.policy_render [--policies-dir DIR] [--out build/policy-check/plan.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from dogops import config
from dogops.errors import UserError
from dogops.local_aws import emulator
from dogops.terraform import Terraform, render_emulator_override

DEFAULT_OUT = config.REPO_ROOT / "build" / "policy-check" / "plan.json"

# Every switch that adds a role, a policy or a key policy is on, so each document is checked.
RENDER_VARIABLES: dict[str, object] = {
    "region": "us-east-1",
    "bucket_name": "policy-check-123456789012-us-east-1",
    "model_data_url": "s3://policy-check-123456789012-us-east-1/training-jobs/job/output/model.tar.gz",
    "lambda_zip_path": "tests/fixtures/lambda_function.zip",
    "enable_training_host": True,
    "training_host_ami_id": "ami-0123456789abcdef0",
    "training_host_detailed_monitoring": False,
    "data_capture_sampling_percent": 10,
    "enable_monitoring": True,
    "create_alarm_topic": True,
    "enable_github_plan_role": True,
    "github_repository": "example/dog-breeds",
    "github_state_bucket": "policy-check-state-123456789012",
    # the key statements in the role policies appear only with a key
    "kms_key_arn": "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-000000000000",
}

# What the copy leaves out: provider caches, state, and per-machine files that would change
# the rendering (auto-loaded variables, a left-over emulator override).
_IGNORE = shutil.ignore_patterns(
    ".terraform", "*.tfstate", "*.tfstate.*", "*.tfplan", "*.auto.tfvars.json",
    "emulator_*_override.tf", ".terraform.lock.hcl",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((emulator.HOST, 0))
        return sock.getsockname()[1]


def copy_configuration(dest: Path, policies_dir: Path) -> Path:
    """terraform/ and the given policies directory side by side under `dest` (the root finds
    its templates at ../policies); returns the copied root."""
    root = dest / "terraform"
    shutil.copytree(config.TERRAFORM_DIR, root, ignore=_IGNORE)
    shutil.copytree(policies_dir, dest / "policies")
    return root


def render_plan(policies_dir: Path = config.REPO_ROOT / "policies",
                variables: Mapping[str, object] | None = None) -> dict:
    """`terraform show -json` of a plan of the whole stack with `policies_dir`'s templates."""
    policies_dir = Path(policies_dir)
    if not policies_dir.is_dir():
        raise UserError(f"no policies directory at {policies_dir}")
    with tempfile.TemporaryDirectory(prefix="dogops-policy-render-") as tmp:
        tmp_path = Path(tmp)
        root = copy_configuration(tmp_path, policies_dir)
        port = _free_port()
        emulator.start(port, tmp_path / "emulator")
        try:
            (root / "emulator_providers_override.tf").write_text(
                render_emulator_override(emulator.endpoint_url(port), root))
            shutil.copyfile(root / "emulator" / "local_state_override.tf",
                            root / "emulator_local_state_override.tf")
            tf = Terraform(working_dir=root, data_dir=tmp_path / "tf-data", quiet=True,
                           state_file=tmp_path / "terraform.tfstate",
                           env=_emulator_env(port))
            tf.init()
            plan_file = tmp_path / "policy-check.tfplan"
            tf.plan({**RENDER_VARIABLES, **(variables or {})}, out=plan_file)
            return tf.show_json(plan_file)
        finally:
            emulator.stop(port, tmp_path / "emulator")


def _emulator_env(port: int) -> dict[str, str]:
    """This process's environment without real AWS settings, plus the emulator's."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    return {**env, **emulator.client_environment(port)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies-dir", type=Path, default=config.REPO_ROOT / "policies")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    try:
        plan = render_plan(args.policies_dir)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(plan, indent=1))
    print(f"plan with every rendered policy: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
