"""Service Quotas: the Lambda, SageMaker and EC2 quotas this stack needs, and settable values.

moto 5.2.5 knows only the `vpc` service's quotas: `GetServiceQuota` for `lambda`, `sagemaker`
or `ec2` answers NoSuchResourceException. This adds the quotas `dogops.preflight` reads, with
the defaults AWS lists for them, and lets a test or a user give the emulated account its own
values, as a granted (or never granted) quota increase does on AWS:

    POST /moto-api/dogops/service-quotas
    {"Region": "us-east-1", "ServiceCode": "lambda", "QuotaCode": "L-B99A9384", "Value": 10}

`set_applied_value()` does the same in-process (tests under `moto.mock_aws`).
Quota codes: Lambda and EC2 codes are AWS's documented ones; the SageMaker per-instance-type
codes are the ones reported in public notes (the preflight itself finds quotas by *name*, as
their codes differ per instance type, so it never depends on these).
"""

from __future__ import annotations

import json
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.servicequotas import models
from moto.servicequotas.exceptions import NoSuchResource

SERVICE_NAMES = {
    "lambda": "AWS Lambda",
    "sagemaker": "Amazon SageMaker",
    "ec2": "Amazon Elastic Compute Cloud (Amazon EC2)",
}

# (service, code, name, AWS default value). SageMaker instance quotas default to 0.
CATALOG: tuple[tuple[str, str, str, float], ...] = (
    ("lambda", "L-B99A9384", "Concurrent executions", 1000.0),
    ("ec2", "L-DB2E81BA", "Running On-Demand G and VT instances", 0.0),
    ("ec2", "L-3819A6DF", "All G and VT Spot Instance Requests", 0.0),
    ("sagemaker", "L-B6D80D9C", "ml.g5.xlarge for training job usage", 0.0),
    ("sagemaker", "L-1E9C780D", "ml.m5.large for endpoint usage", 0.0),
)

# (account, region, service, code) -> value set through the route or set_applied_value()
_applied: dict[tuple[str, str, str, str], float] = {}
_original_list = models.ServiceQuotasBackend.list_aws_default_service_quotas
_original_get = models.ServiceQuotasBackend.get_service_quota


def _quota(service: str, code: str, name: str, value: float, region: str) -> dict[str, Any]:
    return {
        "Adjustable": True,
        "GlobalQuota": False,
        "QuotaArn": f"arn:aws:servicequotas:{region}::{service}/{code}",
        "QuotaCode": code,
        "QuotaName": name,
        "ServiceCode": service,
        "ServiceName": SERVICE_NAMES[service],
        "Unit": "None",
        "Value": value,
    }


def _defaults(service: str, region: str) -> list[dict[str, Any]]:
    return [_quota(s, code, name, value, region)
            for s, code, name, value in CATALOG if s == service]


def list_aws_default_service_quotas(self, service_code: str) -> list[dict[str, Any]]:
    if service_code in SERVICE_NAMES:
        return _defaults(service_code, self.region_name)
    return _original_list(self, service_code)


def get_service_quota(self, service_code: str, quota_code: str) -> dict[str, Any]:
    if service_code not in SERVICE_NAMES:
        return _original_get(self, service_code, quota_code)
    for quota in _defaults(service_code, self.region_name):
        if quota["QuotaCode"] == quota_code:
            key = (self.account_id, self.region_name, service_code, quota_code)
            quota["Value"] = _applied.get(key, quota["Value"])
            return quota
    raise NoSuchResource


def set_applied_value(service: str, code: str, value: float, region: str = "us-east-1",
                      account_id: str = DEFAULT_ACCOUNT_ID) -> None:
    if not any(s == service and c == code for s, c, _, _ in CATALOG):
        raise ValueError(f"unknown quota {service}/{code}")
    _applied[(account_id, region, service, code)] = float(value)


def reset() -> None:
    _applied.clear()


def _route(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
    try:
        body = json.loads(request.get_data() or b"{}")  # any content type
        set_applied_value(str(body["ServiceCode"]), str(body["QuotaCode"]), float(body["Value"]),
                          str(body.get("Region", "us-east-1")),
                          str(body.get("AccountId", DEFAULT_ACCOUNT_ID)))
    except (KeyError, TypeError, ValueError, json.JSONDecodeError) as err:
        return 400, {"Content-Type": "application/json"}, json.dumps({"error": str(err)})
    return 200, {"Content-Type": "application/json"}, json.dumps({"ok": True})


ROUTE = "{0}/moto-api/dogops/service-quotas"


def apply() -> None:
    from moto.moto_api._internal import urls as moto_api_urls

    models.ServiceQuotasBackend.list_aws_default_service_quotas = list_aws_default_service_quotas
    models.ServiceQuotasBackend.get_service_quota = get_service_quota
    moto_api_urls.url_paths[ROUTE] = _route
