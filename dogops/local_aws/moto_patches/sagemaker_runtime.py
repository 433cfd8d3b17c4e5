"""sagemaker-runtime InvokeEndpoint: check the endpoint, forward to its local endpoint host.

moto answers canned data for any endpoint name. Here, as on AWS, an unknown endpoint is a
ValidationError; a known one is served by the local endpoint host registered for it in
`endpoint_registry` (started by `dogops.local_aws.endpoint_host`). Body, ContentType, Accept and
CustomAttributes are forwarded; a host error status becomes AWS's ModelError (HTTP 424 with
OriginalStatusCode/OriginalMessage), as SageMaker reports a container's error. Each invocation
publishes the endpoint's CloudWatch metrics, and during a rollout `dogops.local_aws.rollout`
decides which fleet answers.
"""

from __future__ import annotations

import time
from urllib.parse import unquote

import requests
from moto.core.common_types import TYPE_RESPONSE
from moto.core.exceptions import ServiceException
from moto.sagemaker.models import sagemaker_backends
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

from dogops.local_aws import rollout
from dogops.local_aws.moto_patches import endpoint_registry

# SageMaker's own limit for a real-time invocation is 60 s.
INVOCATION_TIMEOUT_S = 60
CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
# A missing or stopped host is a ValidationError (400), as AWS answers for an endpoint that is
# not in service: not a 5xx, which the SDKs would retry for seconds before giving up.


class RuntimeValidationError(ServiceException):
    code = "ValidationError"


class ModelError(ServiceException):
    code = "ModelError"

    def __init__(self, status: int, message: str, log_stream_arn: str):
        super().__init__(
            f"Received {'client' if status < 500 else 'server'} error ({status}) from primary "
            f'with message "{message}". See {log_stream_arn} in account for more information.'
        )
        self.OriginalStatusCode = status
        self.OriginalMessage = message
        self.LogStreamArn = log_stream_arn


def _endpoint_name(response: SageMakerRuntimeResponse) -> str:
    # Path: /endpoints/<name>/invocations
    return unquote(response.path.rstrip("/").split("/")[-2])


def invoke_endpoint(self: SageMakerRuntimeResponse) -> TYPE_RESPONSE:
    name = _endpoint_name(self)
    if name not in sagemaker_backends[self.current_account][self.region].endpoints:
        raise RuntimeValidationError(
            f"Endpoint {name} of account {self.current_account} not found."
        )
    try:
        # during a blue/green rollout part of the traffic goes to the new fleet's host
        url = rollout.pick_host(name, endpoint_registry.lookup(name))
    except (ValueError, TypeError) as err:
        raise RuntimeValidationError(str(err)) from None
    if url is None:
        raise RuntimeValidationError(
            f"Endpoint {name} has no local endpoint host running: start one with "
            f"`python -m dogops.local_aws.endpoint_host --endpoint-name {name} --model-data s3://...` "
            "(invoke deploy does this)"
        )
    forward = {"Content-Type": self.headers.get("Content-Type", "application/octet-stream")}
    forward["Accept"] = self.headers.get("Accept") or "*/*"
    if self.headers.get(CUSTOM_ATTRIBUTES):
        forward[CUSTOM_ATTRIBUTES] = self.headers[CUSTOM_ATTRIBUTES]
    started = time.monotonic()
    try:
        reply = requests.post(
            f"{url}/invocations",
            data=self.raw_body,
            headers=forward,
            timeout=INVOCATION_TIMEOUT_S,
        )
    except requests.Timeout:
        _publish(self, name, 504, started)
        raise ModelError(504, "model did not respond in time", _log_stream(self, name)) from None
    except requests.ConnectionError:
        raise RuntimeValidationError(
            f"Endpoint {name}: its local endpoint host at {url} is not reachable "
            "(stopped?); start it again with `python -m dogops.local_aws.endpoint_host`"
        ) from None
    _publish(self, name, reply.status_code, started)
    if reply.status_code >= 400:
        raise ModelError(reply.status_code, reply.text[:2048], _log_stream(self, name))
    headers = {
        "Content-Type": reply.headers.get("Content-Type", "application/json"),
        "x-Amzn-Invoked-Production-Variant": "AllTraffic",
    }
    if reply.headers.get(CUSTOM_ATTRIBUTES):
        headers[CUSTOM_ATTRIBUTES] = reply.headers[CUSTOM_ATTRIBUTES]
    return 200, headers, reply.content


def _publish(response: SageMakerRuntimeResponse, name: str, status: int, started: float) -> None:
    """CloudWatch metrics of this invocation (what rollback alarms and dashboards read)."""
    rollout.record_invocation(response.current_account, response.region, name, status,
                              time.monotonic() - started)


def _log_stream(response: SageMakerRuntimeResponse, name: str) -> str:
    return (
        f"arn:aws:logs:{response.region}:{response.current_account}:log-group:"
        f"/aws/sagemaker/Endpoints/{name}"
    )


def apply() -> None:
    # Image bodies are binary: moto would decode every body as UTF-8 and fail with a 500.
    SageMakerRuntimeResponse.use_raw_body = True
    SageMakerRuntimeResponse.invoke_endpoint = invoke_endpoint
