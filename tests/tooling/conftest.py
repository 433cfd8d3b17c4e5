"""Fixtures for the tooling tests: an isolated state root and an in-process S3."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from dogops import config


@pytest.fixture
def state_root(tmp_path, monkeypatch):
    """Every .dogops/<target>/ file goes to a temp dir; aws tfvars too."""
    root = tmp_path / "dogops-state"
    monkeypatch.setattr(config, "STATE_ROOT", root)
    aws_tfvars = tmp_path / "aws.auto.tfvars.json"
    monkeypatch.setattr(config.TargetPaths, "tfvars_file", property(
        lambda self: aws_tfvars if self.target == "aws" else self.state_dir / "local.tfvars.json"))
    return root


@pytest.fixture
def fake_aws_credentials(monkeypatch):
    """No real endpoint, profile, session or environment leaks in; moto's fake key, us-east-1."""
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN", "DOGOPS_ENV"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def s3_bucket(fake_aws_credentials):
    """(client, bucket) on moto's in-process S3."""
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="dog-breeds-test")
        yield s3, "dog-breeds-test"

