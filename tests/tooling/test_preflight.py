"""Preflight against moto with a new account's quota values: each check names its fix."""

from __future__ import annotations

import pytest
from moto import mock_aws

from dogops import config, preflight, state
from dogops.backend import Backend
from dogops.errors import UserError
from dogops.local_aws.moto_patches import (
    lambda_account_settings,
    lambda_provisioned_concurrency,
    service_quotas_catalog,
    ssm_public_parameters,
)
from dogops.tfvars import effective_variables

REGION = "us-east-1"


@pytest.fixture
def account(fake_aws_credentials, monkeypatch, state_root):
    """An AWS backend on moto's in-process AWS, quotas at a new account's values."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    for patch in (service_quotas_catalog, ssm_public_parameters, lambda_provisioned_concurrency,
                  lambda_account_settings):
        patch.apply()
    service_quotas_catalog.reset()
    with mock_aws():
        # what a new account has: 10 concurrent executions, no SageMaker/G instances
        service_quotas_catalog.set_applied_value("lambda", "L-B99A9384", 10, REGION)
        ssm_public_parameters.publish(preflight.DLAMI_PARAMETER, "ami-0123456789abcdef0", REGION)
        yield Backend("aws", REGION)
    service_quotas_catalog.reset()


def grant(code: str, value: float, service: str = "sagemaker") -> None:
    service_quotas_catalog.set_applied_value(service, code, value, REGION)


def variables(tmp_path, **values):
    return effective_variables(config.TERRAFORM_DIR, [], values or None)


def findings(result: preflight.Result) -> dict[str, preflight.Finding]:
    return {f.check: f for f in result.findings}


def test_new_account_names_every_blocking_quota_and_switches_off_lambda_defaults(account,
                                                                                 tmp_path):
    result = preflight.run(account, preflight.EVERYTHING, variables(tmp_path))
    found = findings(result)
    assert found["credentials"].status == "ok" and result.account == "123456789012"
    # reserved 10 + provisioned 1 cannot work with a limit of 10: switched off, not failed
    assert result.adjustments == {"reserved_concurrency": -1, "provisioned_concurrency": 0}
    warnings = [f.message for f in result.findings if f.status == "warn"]
    assert any("L-B99A9384" in m and "switched off (-1)" in m for m in warnings)
    assert any("provisioned_concurrency = 1 is switched off" in m for m in warnings)
    failed = {f.check: f.message for f in result.failures}
    assert set(failed) == {"sagemaker training", "sagemaker endpoint", "ec2 training host"}
    assert "L-B6D80D9C" in failed["sagemaker training"] and "1 needed" in failed[
        "sagemaker training"]
    assert "L-1E9C780D" in failed["sagemaker endpoint"] and "3 needed" in failed[
        "sagemaker endpoint"] and "max_capacity" in failed["sagemaker endpoint"]
    assert "L-DB2E81BA" in failed["ec2 training host"] and "needs 4" in failed[
        "ec2 training host"]
    assert found["deep learning ami"].status == "ok"
    assert found["dlc images"].status == "ok"


def test_settle_writes_adjustments_and_refuses_on_failures(account, tmp_path):
    result = preflight.run(account, preflight.EVERYTHING, variables(tmp_path))
    with pytest.raises(UserError) as err:
        preflight.settle("aws", result, out=lambda line: None)
    assert err.value.exit_code == 1 and "3 check(s) failed" in err.value.message
    assert "nothing was created" in err.value.message
    assert state.read_tfvars("aws")["reserved_concurrency"] == -1
    assert not preflight.passed_before("aws", "123456789012", REGION)


def test_granted_quotas_pass_and_are_recorded(account, tmp_path):
    grant("L-B6D80D9C", 2)
    grant("L-1E9C780D", 3)
    grant("L-DB2E81BA", 8, service="ec2")
    service_quotas_catalog.set_applied_value("lambda", "L-B99A9384", 1000, REGION)
    training = preflight.Training(instances=1, parallel_jobs=2)
    scope = preflight.Scope(endpoint=True, training=training, host=True)
    result = preflight.run(account, scope, variables(tmp_path))
    assert result.failures == [] and result.adjustments == {}
    preflight.settle("aws", result, out=lambda line: None)
    assert preflight.passed_before("aws", "123456789012", REGION)


def test_tuning_needs_instances_times_parallel_jobs(account, tmp_path):
    grant("L-B6D80D9C", 2)
    result = preflight.run(account, preflight.Scope(
        stack=False, training=preflight.Training(instances=2, parallel_jobs=2)),
        variables(tmp_path))
    message = findings(result)["sagemaker training"].message
    assert "is 2" in message and "4 needed" in message and "2 instance(s) x 2 parallel" in message


def test_user_chosen_reserved_concurrency_fails_instead_of_being_switched_off(account, tmp_path):
    result = preflight.run(account, preflight.Scope(), variables(tmp_path,
                                                                 reserved_concurrency=5))
    assert result.adjustments == {}
    assert "set reserved_concurrency = -1" in findings(result)["lambda concurrency"].message


def test_instance_type_not_offered_and_missing_dlami_say_what_to_change(account, tmp_path):
    result = preflight.run(account, preflight.Scope(
        stack=False, training=preflight.Training(instance_type="ml.p5.48xlarge"), host=True),
        variables(tmp_path, training_host_ami_ssm_parameter="/aws/service/deeplearning/ami/"
                            "x86_64/none/latest/ami-id"))
    found = findings(result)
    assert "not offered there" in found["sagemaker training"].message
    assert "--instance-type" in found["sagemaker training"].message
    assert "does not resolve" in found["deep learning ami"].message
    assert "training_host_ami_id" in found["deep learning ami"].message


def test_wrong_region_image_is_reported(account, tmp_path):
    result = preflight.run(account, preflight.Scope(stack=False, full=True), variables(
        tmp_path, inference_image_uri="763104351884.dkr.ecr.eu-west-1.amazonaws.com/"
                                      "pytorch-inference:2.6.0-cpu-py312"))
    assert "is not in us-east-1" in findings(result)["dlc images"].message


def test_unreachable_quota_api_is_one_clear_line(account, tmp_path, monkeypatch):
    from botocore.exceptions import EndpointConnectionError

    def unreachable(self, method, **kwargs):
        raise EndpointConnectionError(endpoint_url="https://servicequotas.us-east-1.amazonaws.com")

    quotas = preflight.Quotas(account.client("service-quotas"), REGION)
    monkeypatch.setattr(type(quotas.client), "get_service_quota",
                        lambda *a, **k: unreachable(None, "x"))
    with pytest.raises(UserError) as err:
        quotas.value("lambda", "L-B99A9384")
    assert err.value.exit_code == 1
    assert err.value.message.startswith("the Service Quotas API is not reachable in us-east-1")


def test_denied_quota_api_names_the_permissions(account):
    from botocore.stub import Stubber

    client = account.client("service-quotas")
    with Stubber(client) as stub:
        stub.add_client_error("get_service_quota", "AccessDeniedException", "denied")
        with pytest.raises(UserError) as err:
            preflight.Quotas(client, REGION).value("lambda", "L-B99A9384")
    assert "servicequotas:GetServiceQuota" in err.value.message


def test_training_check_stops_a_run_before_any_job(account):
    with pytest.raises(UserError) as err:
        preflight.before_training(account, "ml.g5.xlarge", 1, 2, False, out=lambda line: None)
    assert "nothing was started" in err.value.message


def test_aws_deploy_stops_before_terraform_when_quotas_block(account, monkeypatch, capsys):
    """The `invoke deploy --target aws` flow: preflight fails -> Terraform never runs."""
    monkeypatch.setattr(Backend, "base_variables", lambda self: {"region": self.region})
    monkeypatch.setattr(Backend, "terraform",
                        lambda self, quiet=False: pytest.fail("terraform ran despite preflight"))
    with pytest.raises(UserError) as err:
        account.apply({"model_data_url": "s3://b/training-jobs/j/output/model.tar.gz"})
    assert err.value.exit_code == 1 and "sagemaker endpoint" in err.value.message
    shown = capsys.readouterr().out
    assert "FAIL  sagemaker endpoint" in shown and "L-1E9C780D" in shown
    assert "warn  lambda concurrency" in shown


def test_other_functions_reservations_count_against_the_room(account, tmp_path):
    import io
    import zipfile

    import boto3

    service_quotas_catalog.set_applied_value("lambda", "L-B99A9384", 1000, REGION)
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    lam = boto3.client("lambda", region_name=REGION)
    lam.create_function(FunctionName="someone-else", Runtime="python3.12", Role=role,
                        Handler="app.handler", Code={"ZipFile": code.getvalue()})
    lam.put_function_concurrency(FunctionName="someone-else", ReservedConcurrentExecutions=850)
    result = preflight.run(account, preflight.Scope(), variables(tmp_path))
    assert result.adjustments == {}  # 150 unreserved: 50 reservable, 10 + 1 fit
    lam.put_function_concurrency(FunctionName="someone-else", ReservedConcurrentExecutions=895)
    result = preflight.run(account, preflight.Scope(), variables(tmp_path))
    # 5 reservable: reserving 10 cannot work, provisioning 1 from the unreserved pool can
    assert result.adjustments == {"reserved_concurrency": -1}
    assert any(f.status == "warn" and "leaves 5 reservable" in f.message
               for f in result.findings)
