"""The emulator's Service Quotas and public SSM parameters (server mode, seeded over HTTP)."""

from __future__ import annotations

import pytest
import requests

from dogops.local_aws import emulator

DLAMI = ("/aws/service/deeplearning/ami/x86_64/oss-nvidia-driver-gpu-pytorch-2.10-ubuntu-24.04/"
         "latest/ami-id")


def seed(port: int, route: str, body: dict) -> requests.Response:
    return requests.post(f"{emulator.endpoint_url(port)}/moto-api/dogops/{route}", json=body,
                         timeout=10)


def test_quotas_have_aws_defaults_and_take_a_new_accounts_values(aws, emulator_port):
    quotas = aws("service-quotas")
    names = {q["QuotaName"]: q["QuotaCode"] for q in
             quotas.list_aws_default_service_quotas(ServiceCode="sagemaker")["Quotas"]}
    assert names["ml.g5.xlarge for training job usage"] == "L-B6D80D9C"
    lam = quotas.get_service_quota(ServiceCode="lambda", QuotaCode="L-B99A9384")["Quota"]
    assert lam["Value"] == 1000.0 and lam["QuotaName"] == "Concurrent executions"
    assert seed(emulator_port, "service-quotas", {"ServiceCode": "lambda",
                                                  "QuotaCode": "L-B99A9384",
                                                  "Value": 10}).status_code == 200
    assert quotas.get_service_quota(ServiceCode="lambda",
                                    QuotaCode="L-B99A9384")["Quota"]["Value"] == 10.0
    assert seed(emulator_port, "service-quotas", {"ServiceCode": "lambda",
                                                  "QuotaCode": "L-NOPE", "Value": 1}
                ).status_code == 400
    # vpc quotas still come from moto itself
    assert quotas.list_aws_default_service_quotas(ServiceCode="vpc")["Quotas"]


def test_public_dlami_parameter_can_be_published_but_not_put(aws, emulator_port):
    ssm = aws("ssm")
    with pytest.raises(ssm.exceptions.ClientError):
        ssm.put_parameter(Name=DLAMI, Value="ami-0123456789abcdef0", Type="String")
    assert seed(emulator_port, "ssm-public-parameter",
                {"Name": DLAMI, "Value": "ami-0123456789abcdef0"}).status_code == 200
    assert ssm.get_parameter(Name=DLAMI)["Parameter"]["Value"] == "ami-0123456789abcdef0"
    assert seed(emulator_port, "ssm-public-parameter",
                {"Name": "/mine", "Value": "x"}).status_code == 400


def test_lambda_account_settings_follow_the_quota(aws, emulator_port):
    assert seed(emulator_port, "service-quotas", {"ServiceCode": "lambda",
                                                  "QuotaCode": "L-B99A9384",
                                                  "Value": 400}).status_code == 200
    limit = aws("lambda").get_account_settings()["AccountLimit"]
    assert limit["ConcurrentExecutions"] == 400
    assert limit["UnreservedConcurrentExecutions"] <= 400
