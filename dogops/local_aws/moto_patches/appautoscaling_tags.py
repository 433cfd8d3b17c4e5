"""Application Auto Scaling tags: ListTagsForResource / TagResource / UntagResource.

moto 5.2.5 raises NotImplementedError for these, and the Terraform provider retries reading a
scalable target's tags for about 10 minutes. Tags live on the scalable target, found by its ARN;
RegisterScalableTarget's `Tags` are stored too.
"""

from __future__ import annotations

import json
from functools import wraps
from typing import Any

from moto.applicationautoscaling.models import ApplicationAutoscalingBackend, FakeScalableTarget
from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse
from moto.core.exceptions import JsonRESTError

_TAGS_ATTR = "_dogops_tags"


class ResourceNotFound(JsonRESTError):
    def __init__(self, arn: str):
        super().__init__("ResourceNotFoundException", f"No scalable target found for {arn}")


def _target_by_arn(backend: ApplicationAutoscalingBackend, arn: str) -> FakeScalableTarget:
    for targets in backend.targets.values():
        for target in targets.values():
            if target.arn == arn:
                return target
    raise ResourceNotFound(arn)


def _tags(target: FakeScalableTarget) -> dict[str, str]:
    return target.__dict__.setdefault(_TAGS_ATTR, {})


def list_tags_for_resource(self: ApplicationAutoScalingResponse) -> str:
    target = _target_by_arn(self.applicationautoscaling_backend, self._get_param("ResourceARN"))
    return json.dumps({"Tags": _tags(target)})


def tag_resource(self: ApplicationAutoScalingResponse) -> str:
    target = _target_by_arn(self.applicationautoscaling_backend, self._get_param("ResourceARN"))
    _tags(target).update(self._get_param("Tags") or {})
    return "{}"


def untag_resource(self: ApplicationAutoScalingResponse) -> str:
    target = _target_by_arn(self.applicationautoscaling_backend, self._get_param("ResourceARN"))
    for key in self._get_param("TagKeys") or []:
        _tags(target).pop(key, None)
    return "{}"


def _register_with_tags(original: Any) -> Any:
    @wraps(original)
    def register_scalable_target(self: ApplicationAutoScalingResponse) -> str:
        result = original(self)
        tags = self._get_param("Tags")
        if tags:
            backend = self.applicationautoscaling_backend
            target = backend.targets[self._get_param("ScalableDimension")][
                self._get_param("ResourceId")
            ]
            _tags(target).update(tags)
        return result

    return register_scalable_target


def apply() -> None:
    ApplicationAutoScalingResponse.list_tags_for_resource = list_tags_for_resource
    ApplicationAutoScalingResponse.tag_resource = tag_resource
    ApplicationAutoScalingResponse.untag_resource = untag_resource
    ApplicationAutoScalingResponse.register_scalable_target = _register_with_tags(
        ApplicationAutoScalingResponse.register_scalable_target
    )
