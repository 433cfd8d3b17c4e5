"""CreateModel: keep EnableNetworkIsolation, as AWS does.

moto's model object hard-codes `enable_network_isolation = False` and its CreateModel handler
drops the parameter, so DescribeModel says False for an isolated model; the Terraform provider
then plans a forced replacement of `aws_sagemaker_model` on every run (the attribute is
ForceNew), and a second `terraform plan` is never empty.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from moto.core.responses import ActionResult
from moto.sagemaker.responses import SageMakerResponse


def _keeping_isolation(action: Callable[[SageMakerResponse], ActionResult]) -> Callable:
    @wraps(action)
    def wrapper(self: SageMakerResponse) -> ActionResult:
        result = action(self)
        isolated = self._get_param("EnableNetworkIsolation", False) is True
        model = self.sagemaker_backend.describe_model(self._get_param("ModelName"))
        model.enable_network_isolation = isolated
        return result

    return wrapper


def apply() -> None:
    SageMakerResponse.create_model = _keeping_isolation(SageMakerResponse.create_model)
