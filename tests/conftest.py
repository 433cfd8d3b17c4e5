"""Session-wide test environment: no telemetry, no real AWS, the offline Terraform mirror."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Set before any test module imports boto3 or the SageMaker SDK.
os.environ.setdefault("SAGEMAKER_USER_CONFIG_OVERRIDE", str(ROOT / "tests" / "sagemaker_config.yaml"))
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("MPLBACKEND", "Agg")
if Path("/opt/tf-plugins").is_dir():
    os.environ["TF_CLI_CONFIG_FILE"] = str(ROOT / "terraform" / "offline.tfrc")
