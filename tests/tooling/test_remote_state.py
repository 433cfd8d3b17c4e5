"""Remote state settings, bucket checks, lock messages, environments: the bad-input lines."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from dogops import config, remote_state
from dogops.errors import UserError
from dogops.state_lock import locked_message, parse_lock_error

LOCK_STDERR = """
╷
│ Error: Error acquiring the state lock
│
│ Error message: operation error S3: PutObject, https response error StatusCode: 412
│ Lock Info:
│   ID:        a2367671-1424-5ae1-219e-eb4eeedd2826
│   Path:      st/dogops/prod/terraform.tfstate
│   Operation: OperationTypeApply
│   Who:       alice@laptop
│   Version:   1.11.4
│   Created:   2026-12-01 07:28:11.520501506 +0000 UTC
│   Info:
"""


@pytest.fixture
def aws(fake_aws_credentials):
    with mock_aws():
        yield


def test_lock_error_becomes_one_line_naming_holder_and_release_command():
    lock = parse_lock_error(LOCK_STDERR)
    assert lock is not None and lock.lock_id == "a2367671-1424-5ae1-219e-eb4eeedd2826"
    message = locked_message(lock, "invoke unlock --target aws --env prod --lock-id {lock_id}")
    assert "\n" not in message
    assert "locked by alice@laptop (apply since 2026-12-01 07:28:11 UTC" in message
    assert "`invoke unlock --target aws --env prod --lock-id a2367671-1424-5ae1-219e-eb4eeedd2826`" \
        in message
    assert parse_lock_error("Error: something else") is None


def test_backend_file_round_trip_and_state_keys(tmp_path):
    path = tmp_path / "aws.s3.tfbackend"
    settings = remote_state.backend_settings("my-state", "eu-west-1")
    path.write_text(remote_state.render({**settings, **remote_state.emulator_settings(
        "http://127.0.0.1:1")}, "comment"))
    read = remote_state.read_settings(path)
    assert read["bucket"] == "my-state" and read["region"] == "eu-west-1"
    assert read["use_lockfile"] is True and read["encrypt"] is True
    assert "s3" not in read  # nested endpoint settings are not top-level values
    assert remote_state.state_key("default") == "dogops/default/terraform.tfstate"
    assert remote_state.state_key("prod") == "dogops/prod/terraform.tfstate"
    path.write_text('region = "us-east-1"\n')
    with pytest.raises(UserError, match="must set bucket and region"):
        remote_state.read_settings(path)


@pytest.mark.parametrize("name", ["Prod", "prod_1", "-dev", "dev-", "a" * 17, "9lives", "pr od"])
def test_unknown_or_invalid_env_names_are_one_clear_line(name):
    with pytest.raises(UserError, match="^unknown environment name") as err:
        config.check_env(name)
    assert "\n" not in str(err.value)


def test_env_paths_keep_the_default_and_separate_the_others(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "STATE_ROOT", tmp_path)
    default, prod = config.paths("local", "default"), config.paths("local", "prod")
    assert default.terraform_state == tmp_path / "local" / "terraform.tfstate"  # as before envs
    assert prod.terraform_state == tmp_path / "local" / "envs" / "prod" / "terraform.tfstate"
    assert prod.state_dir == default.state_dir  # emulator and endpoint hosts stay shared
    assert config.paths("aws", "prod").tfvars_file == tmp_path / "aws" / "envs" / "prod" / \
        "model.tfvars.json"
    with config.use_env("dev"):
        assert config.paths("aws").env == "dev"
    assert config.paths("aws").env == config.DEFAULT_ENV


def test_bucket_in_another_region_is_refused(aws):
    s3 = boto3.client("s3", region_name="eu-west-1")
    s3.create_bucket(Bucket="team-state", CreateBucketConfiguration={
        "LocationConstraint": "eu-west-1"})
    with pytest.raises(UserError, match="^state bucket team-state is in eu-west-1, not us-east-1"):
        remote_state.check_bucket(boto3.client("s3", region_name="us-east-1"), "team-state",
                                  "us-east-1", None)
    assert remote_state.check_bucket(s3, "team-state", "eu-west-1", None) is True
    assert remote_state.check_bucket(s3, "absent-bucket", "eu-west-1", None) is False


def test_bucket_of_another_account_is_refused():
    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x",
                      aws_secret_access_key="x")
    with Stubber(s3) as stub:  # what S3 answers when ExpectedBucketOwner does not match
        stub.add_client_error("head_bucket", service_error_code="403", http_status_code=403,
                              expected_params={"Bucket": "their-state",
                                               "ExpectedBucketOwner": "111122223333"})
        with pytest.raises(UserError, match="^state bucket their-state exists but is not owned "
                                            "by account 111122223333"):
            remote_state.check_bucket(s3, "their-state", "us-east-1", "111122223333")


def test_created_bucket_has_every_setting_and_a_tls_only_policy(aws):
    s3 = boto3.client("s3", region_name="us-east-1")
    remote_state.create_bucket(s3, "team-state", "us-east-1")
    remote_state.create_bucket(s3, "team-state", "us-east-1")  # idempotent
    assert remote_state.missing_settings(s3, "team-state") == []
    policy = json.loads(s3.get_bucket_policy(Bucket="team-state")["Policy"])
    assert policy["Statement"][0]["Effect"] == "Deny"
    assert policy["Statement"][0]["Resource"] == ["arn:aws:s3:::team-state",
                                                 "arn:aws:s3:::team-state/*"]
    s3.create_bucket(Bucket="plain")
    assert remote_state.missing_settings(s3, "plain") == ["versioning", "default encryption",
                                                          "public access block"]


@pytest.fixture
def aws_backend(aws, tmp_path, monkeypatch):
    from dogops.backend import Backend

    monkeypatch.setattr(config, "STATE_ROOT", tmp_path / "state")
    (tmp_path / "terraform").mkdir()
    return Backend("aws", "us-east-1", terraform_dir=tmp_path / "terraform")


def test_aws_bootstrap_shows_the_bucket_and_creates_nothing_without_a_yes(aws_backend, capsys):
    from dogops.bootstrap import bootstrap

    with pytest.raises(UserError, match="state bucket not created: answer y, or pass --yes"):
        bootstrap(aws_backend, confirm=lambda question: False)
    out = capsys.readouterr().out
    assert "create S3 bucket dog-breeds-tfstate-123456789012-us-east-1 in us-east-1" in out
    assert "versioning on" in out and "public access blocked" in out
    assert boto3.client("s3").list_buckets()["Buckets"] == []
    assert not (aws_backend.terraform_dir / remote_state.AWS_BACKEND_FILE).exists()


def test_aws_bootstrap_with_yes_writes_the_backend_file_and_is_idempotent(aws_backend, capsys):
    from dogops.bootstrap import bootstrap

    path = bootstrap(aws_backend, yes=True)
    assert path == aws_backend.terraform_dir / "aws.s3.tfbackend"
    assert remote_state.read_settings(path)["bucket"] == "dog-breeds-tfstate-123456789012-us-east-1"
    capsys.readouterr()
    bootstrap(aws_backend, confirm=lambda question: pytest.fail("asked again"))
    assert "exists (us-east-1; versioned, encrypted, private)" in capsys.readouterr().out
    with pytest.raises(UserError, match="already uses state bucket"):
        bootstrap(aws_backend, state_bucket="another-one", yes=True)
    # The preflight every aws run makes: -backend-config file + this environment's key.
    aws_backend.env = "prod"
    assert aws_backend.remote_backend_config() == [str(path),
                                                   "key=dogops/prod/terraform.tfstate"]


def test_aws_runs_refuse_without_remote_state_or_with_an_unmigrated_local_state(aws_backend):
    with pytest.raises(UserError, match="^no remote state configured for --target aws: run "
                                        "`invoke bootstrap --target aws` once"), \
            aws_backend.terraform():
        pass
    from dogops.backend import refuse_unmigrated_state

    local = aws_backend.terraform_dir / "terraform.tfstate"
    local.write_text('{"resources": []}')  # emptied by a destroy: nothing to migrate
    refuse_unmigrated_state(aws_backend.terraform_dir)
    local.write_text('{"resources": [{"mode": "managed", "type": "aws_s3_bucket"}]}')
    with pytest.raises(UserError, match="holds a local Terraform state: run `invoke bootstrap"):
        refuse_unmigrated_state(aws_backend.terraform_dir)


def test_env_variables_name_the_env_and_never_inherit_the_default_model(aws_backend,
                                                                         monkeypatch):
    import dogops.backend as backend_module

    class FakeTerraform:
        def output(self):
            return {"model_data_url": "s3://prod-bucket/live/model.tar.gz"}

    monkeypatch.setattr(backend_module, "build_lambda_zip", lambda terraform_dir: None)
    aws_backend.env = "prod"
    assert aws_backend.base_variables() == {"region": "us-east-1", "environment": "prod"}
    # Nothing recorded in this working copy: the model live in prod's state is kept (never the
    # default environment's auto-loaded tfvars, never null, which would remove the endpoint).
    assert aws_backend.model_variables(FakeTerraform()) == {
        "model_data_url": "s3://prod-bucket/live/model.tar.gz"}
    recorded = config.paths("aws", "prod").tfvars_file
    recorded.parent.mkdir(parents=True)
    recorded.write_text('{"model_data_url": "s3://b/m.tar.gz"}')
    assert aws_backend.model_variables(FakeTerraform()) == {}  # its own file supplies it
    files = aws_backend.var_files()
    assert files == [aws_backend.terraform_dir / "envs" / "prod.tfvars.json", recorded]
    aws_backend.env = config.DEFAULT_ENV
    assert aws_backend.base_variables() == {"region": "us-east-1"}  # unchanged default


def test_aws_bootstrap_never_overwrites_a_remote_state_with_a_local_one(aws_backend):
    from dogops.bootstrap import bootstrap, local_states

    path = bootstrap(aws_backend, yes=True)
    bucket = str(remote_state.read_settings(path)["bucket"])
    local = aws_backend.terraform_dir / "terraform.tfstate"
    local.write_text('{"resources": []}')
    assert local_states(aws_backend) == []  # empty: nothing to migrate
    text = '{"resources": [{"mode": "managed", "type": "aws_s3_bucket", "name": "x"}]}'
    local.write_text(text)
    assert [item.path for item in local_states(aws_backend)] == [local]
    s3 = boto3.client("s3")
    # In-process moto applies the TLS-only Deny without its condition (the emulator's patch,
    # s3_bucket_policy_conditions, is not loaded here): drop it to place a remote state.
    s3.delete_bucket_policy(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="dogops/default/terraform.tfstate", Body=b"{}")
    with pytest.raises(UserError, match="hold a state: nothing migrated"):
        bootstrap(aws_backend)
    assert local.read_text() == text  # kept exactly as it was
