"""DescribeModel/EndpointConfig/Endpoint: omit empty optional structures, as AWS does.

moto answers `"VpcConfig": {}` / `"DataCaptureConfig": {}` for resources created without them;
the Terraform provider reads those as set-but-different and plans a replacement on every run,
so a second `terraform plan` is never empty.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from moto.core.responses import ActionResult
from moto.sagemaker.responses import SageMakerResponse

PATCHED_ACTIONS = ("describe_model", "describe_endpoint_config", "describe_endpoint")


def without_empty_structures(description: dict[str, Any]) -> dict[str, Any]:
    """Drop top-level members that are None or an empty object (AWS never returns those)."""
    return {k: v for k, v in description.items() if v is not None and v != {}}


def _omit_empty(action: Callable[[SageMakerResponse], ActionResult]) -> Callable:
    @wraps(action)
    def wrapper(self: SageMakerResponse) -> ActionResult:
        result = action(self)
        if isinstance(result, ActionResult) and isinstance(result.result, dict):
            return ActionResult(without_empty_structures(result.result))
        return result

    return wrapper


def apply() -> None:
    for name in PATCHED_ACTIONS:
        setattr(SageMakerResponse, name, _omit_empty(getattr(SageMakerResponse, name)))
