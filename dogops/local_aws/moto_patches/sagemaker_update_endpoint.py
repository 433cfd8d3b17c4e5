"""UpdateEndpoint: roll an endpoint onto a new endpoint config, as a model rollout does.

moto 5.2.5 has no UpdateEndpoint, so changing `model_data_url` on a live endpoint made the
Terraform provider retry until it timed out (about 6.5 minutes), and it ignores
`DeploymentConfig` on CreateEndpoint/UpdateEndpoint (the provider then planned it again on every
run). Here:
- `DeploymentConfig` is kept and reported by DescribeEndpoint as `LastDeploymentConfig`;
- an endpoint served by a local endpoint host is rolled out blue/green for real
  (`dogops.local_aws.rollout`: green host, traffic shifting, rollback alarms): `Updating` until
  it completes or rolls back, then `InService` (after a rollback on the old config, with a
  `FailureReason`), as on AWS; a second update meanwhile is refused, as on AWS;
- an endpoint nobody serves locally moves onto the new config at once and stays `InService`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import FakeEndpoint, SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse


def _endpoint(backend: SageMakerModelBackend, endpoint_name: str) -> FakeEndpoint:
    endpoint = backend.endpoints.get(endpoint_name)
    if endpoint is None:
        arn = FakeEndpoint.arn_formatter(endpoint_name, backend.account_id, backend.region_name)
        raise ValidationError(message=f"Could not find endpoint '{arn}'.")
    return endpoint


def update_endpoint(
    backend: SageMakerModelBackend, endpoint_name: str, endpoint_config_name: str
) -> FakeEndpoint:
    endpoint = _endpoint(backend, endpoint_name)
    config = backend.describe_endpoint_config(endpoint_config_name)  # ValidationError if unknown
    endpoint.endpoint_config_name = endpoint_config_name
    endpoint.production_variants = endpoint._process_production_variants(
        config["ProductionVariants"]
    )
    endpoint.data_capture_config = config["DataCaptureConfig"]
    endpoint.last_modified_time = utcnow()
    return endpoint


def _update_endpoint_action(self: SageMakerResponse) -> ActionResult:
    from dogops.local_aws import rollout

    name = self._get_param("EndpointName")
    config_name = self._get_param("EndpointConfigName")
    endpoint = _endpoint(self.sagemaker_backend, name)
    self.sagemaker_backend.describe_endpoint_config(config_name)  # ValidationError if unknown
    if endpoint.endpoint_status != "InService":
        raise ValidationError(
            message=f"Cannot update in-progress endpoint \"{endpoint.arn}\".")
    deployment_config = self._get_param("DeploymentConfig")
    if deployment_config is not None or not self._get_param("RetainDeploymentConfig"):
        endpoint.deployment_config = deployment_config
    if not rollout.start(self.sagemaker_backend, endpoint, config_name,
                         getattr(endpoint, "deployment_config", None)):
        update_endpoint(self.sagemaker_backend, name, config_name)
        endpoint.failure_reason = None
    return ActionResult({"EndpointArn": endpoint.arn})


def _keep_deployment_config(create: Callable) -> Callable:
    @wraps(create)
    def create_endpoint(self: SageMakerResponse) -> ActionResult:
        result = create(self)
        endpoint = self.sagemaker_backend.endpoints[self._get_param("EndpointName")]
        endpoint.deployment_config = self._get_param("DeploymentConfig")
        return result

    return create_endpoint


def _report_deployment_config(describe: Callable) -> Callable:
    @wraps(describe)
    def describe_endpoint(self: SageMakerResponse) -> Any:
        result = describe(self)
        endpoint = self.sagemaker_backend.endpoints.get(self._get_param("EndpointName"))
        config = getattr(endpoint, "deployment_config", None)
        if config and isinstance(result, ActionResult) and isinstance(result.result, dict):
            return ActionResult({**result.result, "LastDeploymentConfig": config})
        return result

    return describe_endpoint


def apply() -> None:
    SageMakerResponse.update_endpoint = _update_endpoint_action
    SageMakerResponse.create_endpoint = _keep_deployment_config(SageMakerResponse.create_endpoint)
    SageMakerResponse.describe_endpoint = _report_deployment_config(
        SageMakerResponse.describe_endpoint)
