"""SageMaker model registry: the two places where moto 5.2.5 differs from AWS.

- `CreateModelPackage` into a group without `ModelApprovalStatus`: AWS records the version as
  `PendingManualApproval`; moto leaves the status out, so such a version would look neither
  approved nor pending to a client that filters on it.
- `CreateModelPackageGroup` with a name that exists: AWS answers a ValidationException; moto
  silently replaced the group (its versions stayed, its description and ARN time changed).
"""

from __future__ import annotations

from functools import wraps
from typing import Any

from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import SageMakerModelBackend

DEFAULT_VERSIONED_STATUS = "PendingManualApproval"


def _default_status(create: Any) -> Any:
    @wraps(create)
    def create_model_package(self: SageMakerModelBackend, *args: Any, **kwargs: Any) -> str:
        if kwargs.get("model_package_group_name") and not kwargs.get("model_approval_status"):
            kwargs["model_approval_status"] = DEFAULT_VERSIONED_STATUS
        return create(self, *args, **kwargs)

    return create_model_package


def _refuse_duplicate(create: Any) -> Any:
    @wraps(create)
    def create_model_package_group(self: SageMakerModelBackend, *args: Any, **kwargs: Any) -> str:
        name = kwargs.get("model_package_group_name", args[0] if args else None)
        if name in self.model_package_groups:
            raise ValidationError(
                message=f"Model Package Group already exists: "
                f"{self.model_package_groups[name].arn}"
            )
        return create(self, *args, **kwargs)

    return create_model_package_group


def apply() -> None:
    SageMakerModelBackend.create_model_package = _default_status(
        SageMakerModelBackend.create_model_package)
    SageMakerModelBackend.create_model_package_group = _refuse_duplicate(
        SageMakerModelBackend.create_model_package_group)
