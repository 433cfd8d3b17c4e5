"""Region and profile from the normal boto3 chain; bad ones are one clear line each."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from dogops import aws_session
from dogops.errors import UserError


@pytest.fixture
def aws_home(tmp_path, monkeypatch):
    for key in ("AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)
    config = tmp_path / "config"
    config.write_text("[default]\nregion = eu-central-1\n[profile dev]\nregion = eu-west-1\n")
    credentials = tmp_path / "credentials"
    credentials.write_text("[default]\naws_access_key_id = a\naws_secret_access_key = b\n"
                           "[dev]\naws_access_key_id = c\naws_secret_access_key = d\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    return monkeypatch


def test_profile_region_is_used(aws_home):
    aws_home.setenv("AWS_PROFILE", "dev")
    session, choice = aws_session.session_for()
    assert (choice.region, choice.source) == ("eu-west-1", "profile dev")
    assert session.region_name == "eu-west-1" and session.profile_name == "dev"
    assert choice.describe() == "region eu-west-1 (from profile dev)"


def test_environment_beats_profile_and_flag_beats_both(aws_home):
    aws_home.setenv("AWS_DEFAULT_REGION", "us-west-2")
    assert aws_session.session_for()[1].region == "us-west-2"
    aws_home.setenv("AWS_REGION", "ap-southeast-2")
    assert aws_session.session_for()[1].source == "AWS_REGION"
    session, choice = aws_session.session_for("sa-east-1")
    assert (choice.region, choice.source, session.region_name) == ("sa-east-1", "--region",
                                                                   "sa-east-1")


def test_unknown_region_is_one_clear_line(aws_home):
    with pytest.raises(UserError) as err:
        aws_session.session_for("us-middle-9")
    assert err.value.exit_code == 2
    assert err.value.message.startswith("unknown AWS region 'us-middle-9'")


def test_missing_profile_is_one_clear_line(aws_home):
    aws_home.setenv("AWS_PROFILE", "nope")
    with pytest.raises(UserError) as err:
        aws_session.session_for()
    assert "AWS profile 'nope' (AWS_PROFILE) does not exist" in err.value.message


@pytest.mark.parametrize("code, message", [
    ("ExpiredToken", "the AWS credentials have expired"),
    ("InvalidClientTokenId", "AWS rejected the credentials (InvalidClientTokenId)"),
])
def test_bad_credentials_are_one_clear_line(aws_home, code, message):
    session, _ = aws_session.session_for()
    client = session.client("sts")
    with Stubber(client) as stub:
        stub.add_client_error("get_caller_identity", code, "x")
        session.client = lambda service, endpoint_url=None: client
        with pytest.raises(UserError) as err:
            aws_session.caller_identity(session)
    assert err.value.message.startswith(message)


def test_aws_backend_prints_account_and_region_and_terraform_gets_it(aws_home, capsys):
    from moto import mock_aws

    from dogops.backend import for_target

    aws_home.setenv("AWS_PROFILE", "dev")
    with mock_aws():
        backend = for_target("aws", region="eu-north-1")
    assert "[aws] account 123456789012, region eu-north-1 (from --region)" in capsys.readouterr().err
    env = backend.terraform_env()
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-north-1"
    assert env["AWS_PROFILE"] == "dev"  # Terraform uses the same profile's credentials
    assert backend.session().region_name == "eu-north-1"
