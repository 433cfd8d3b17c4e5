"""SageMaker endpoint configs: accept every instance type AWS accepts (moto's list lacks ml.g5.*).

The authoritative list is the `ProductionVariantInstanceType` enum of botocore's SageMaker
model, which moto already ships with, so the emulator rejects exactly what AWS would reject.
"""

from __future__ import annotations

from functools import cache

import botocore.session
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import FakeEndpointConfig


@cache
def production_variant_instance_types() -> frozenset[str]:
    model = botocore.session.get_session().get_service_model("sagemaker")
    return frozenset(model.shape_for("ProductionVariantInstanceType").enum)


def _validate_instance_type(self: FakeEndpointConfig, instance_type: str) -> None:
    if instance_type not in production_variant_instance_types():
        raise ValidationError(
            message=(
                f"Value '{instance_type}' at 'instanceType' failed to satisfy constraint: "
                "Member must satisfy enum value set of SageMaker production variant "
                "instance types (e.g. ml.g5.xlarge, ml.m5.large)"
            )
        )


def apply() -> None:
    FakeEndpointConfig.validate_instance_type = _validate_instance_type
