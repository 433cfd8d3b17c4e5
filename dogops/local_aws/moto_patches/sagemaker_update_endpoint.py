"""UpdateEndpoint: roll an endpoint onto a new endpoint config, as a model rollout does.

moto 5.2.5 has no UpdateEndpoint, so changing `model_data_url` on a live endpoint made the
Terraform provider retry until it timed out (about 6.5 minutes). AWS swaps the config behind
the endpoint without downtime; here the swap is immediate and the endpoint stays InService.
The local endpoint host serving the old model is restarted by the deploy task, not here.
"""

from __future__ import annotations

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import FakeEndpoint, SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse


def update_endpoint(
    backend: SageMakerModelBackend, endpoint_name: str, endpoint_config_name: str
) -> FakeEndpoint:
    endpoint = backend.endpoints.get(endpoint_name)
    if endpoint is None:
        arn = FakeEndpoint.arn_formatter(endpoint_name, backend.account_id, backend.region_name)
        raise ValidationError(message=f"Could not find endpoint '{arn}'.")
    config = backend.describe_endpoint_config(endpoint_config_name)  # ValidationError if unknown
    endpoint.endpoint_config_name = endpoint_config_name
    endpoint.production_variants = endpoint._process_production_variants(
        config["ProductionVariants"]
    )
    endpoint.data_capture_config = config["DataCaptureConfig"]
    endpoint.last_modified_time = utcnow()
    return endpoint


def _update_endpoint_action(self: SageMakerResponse) -> ActionResult:
    endpoint = update_endpoint(
        self.sagemaker_backend,
        self._get_param("EndpointName"),
        self._get_param("EndpointConfigName"),
    )
    return ActionResult({"EndpointArn": endpoint.arn})


def apply() -> None:
    SageMakerResponse.update_endpoint = _update_endpoint_action
