"""Fixes for the gaps of moto's server mode that stop our stack from working on the emulator.

Each gap is closed in its own small module with an `apply()` function; `apply_all()` runs them
inside the emulator process before it serves (see `dogops.local_aws.moto_patches.server`). The patches add
or correct behaviour to match AWS; none of them fabricates results (see docs/emulator.md).
"""

from __future__ import annotations

from importlib import import_module

PATCH_MODULES = (
    "iam_enforcement",
    "resource_arns",
    "lambda_provisioned_concurrency",
    "lambda_invoke",
    "lambda_snapstart",
    "s3_bucket_policy_conditions",
    "sagemaker_instance_types",
    "sagemaker_empty_fields",
    "sagemaker_network_isolation",
    "sagemaker_update_endpoint",
    "sagemaker_model_packages",
    "sagemaker_training",
    "sagemaker_runtime",
    "appautoscaling_tags",
    "ec2_monitoring",
    "ec2_instance_attributes",
    "service_quotas_catalog",
    "ssm_public_parameters",
    "lambda_account_settings",
)

_applied: list[str] = []


def apply_all() -> list[str]:
    """Apply every patch once (idempotent); returns the names of the applied modules."""
    for name in PATCH_MODULES:
        if name not in _applied:
            import_module(f"{__name__}.{name}").apply()
            _applied.append(name)
    return list(_applied)
