"""Promote: the live model of one environment, copied into another's bucket, recorded, deployed."""

from __future__ import annotations

from typing import ClassVar

import boto3
import pytest
from moto import mock_aws

from dogops import config, environments, state
from dogops.errors import UserError

SOURCE = "s3://dog-breeds-dev-123456789012-us-east-1/training-jobs/job-1/output/model.tar.gz"
PROD_BUCKET = "dog-breeds-prod-123456789012-us-east-1"


@pytest.fixture
def s3(fake_aws_credentials, monkeypatch, tmp_path):
    monkeypatch.setattr(config, "STATE_ROOT", tmp_path / "state")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        for bucket in ("dog-breeds-dev-123456789012-us-east-1", PROD_BUCKET):
            client.create_bucket(Bucket=bucket)
        bucket, _, key = SOURCE.removeprefix("s3://").partition("/")
        client.put_object(Bucket=bucket, Key=key, Body=b"model bytes")
        yield client


class FakeBackend:
    """The stack of one environment: its live model and its bucket (Terraform stood in for)."""

    live: ClassVar[dict[str, str | None]] = {}

    def __init__(self, client):
        self.env = config.current_env()
        self.s3 = client
        self.target = "local"

    def outputs(self):
        return {"model_data_url": self.live.get(self.env)}

    def ensure_stack(self):
        return {"bucket_name": f"dog-breeds-{self.env}-123456789012-us-east-1"}

    def client(self, service):
        return self.s3


def test_copy_lands_in_the_target_bucket_under_models_and_is_not_repeated(s3, monkeypatch):
    url = environments.copy_artifact(s3, SOURCE, PROD_BUCKET, "dev")
    assert url == (f"s3://{PROD_BUCKET}/models/promoted/dev/training-jobs/job-1/output/"
                   "model.tar.gz")
    key = url.removeprefix(f"s3://{PROD_BUCKET}/")
    assert s3.get_object(Bucket=PROD_BUCKET, Key=key)["Body"].read() == b"model bytes"
    monkeypatch.setattr(s3, "copy", lambda *a, **k: pytest.fail("copied again"))
    assert environments.copy_artifact(s3, SOURCE, PROD_BUCKET, "dev") == url
    assert environments.copy_artifact(s3, url, PROD_BUCKET, "dev") == url  # same bucket: as is


def test_promote_records_the_copy_in_the_target_env_and_deploys_there(s3, monkeypatch):
    FakeBackend.live = {"dev": SOURCE, "prod": None}
    monkeypatch.setattr(environments, "for_target", lambda target: FakeBackend(s3))
    deployed = []

    def deploy(backend):
        deployed.append((backend.env, state.read_tfvars("local")["model_data_url"]))

    url = environments.promote("local", "dev", "prod", deploy=deploy)
    assert url.startswith(f"s3://{PROD_BUCKET}/models/promoted/dev/")
    assert deployed == [("prod", url)]
    with config.use_env("prod"):
        assert state.load("local")["promoted_from"] == SOURCE
    assert config.current_env() == config.DEFAULT_ENV  # the env switch does not leak
    assert state.read_tfvars("local") == {}  # the default environment was not touched


def test_promote_refuses_same_env_unknown_env_and_an_env_with_nothing_live(s3, monkeypatch):
    FakeBackend.live = {"dev": None}
    monkeypatch.setattr(environments, "for_target", lambda target: FakeBackend(s3))
    with pytest.raises(UserError, match="--from and --to are both 'dev'"):
        environments.promote("local", "dev", "dev", deploy=pytest.fail)
    with pytest.raises(UserError, match="^unknown environment name 'PROD'"):
        environments.promote("local", "dev", "PROD", deploy=pytest.fail)
    with pytest.raises(UserError, match="no model is live in environment 'dev'"):
        environments.promote("local", "dev", "prod", deploy=pytest.fail)
