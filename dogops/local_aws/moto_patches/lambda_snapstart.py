"""Lambda SnapStart: keep the requested `SnapStart.ApplyOn` instead of always reporting "None".

moto 5.2.5 ignores `SnapStart` on CreateFunction/UpdateFunctionConfiguration and reports
`{"ApplyOn": "None"}`, so with `enable_snapstart = true` every plan wants to add it again. As on
AWS, published versions report `OptimizationStatus: On` and `$LATEST` reports `Off`.
"""

from __future__ import annotations

from typing import Any

from moto.awslambda.models import LambdaFunction

_APPLY_ON_ATTR = "_dogops_snapstart_apply_on"

_original_init = LambdaFunction.__init__
_original_get_configuration = LambdaFunction.get_configuration
_original_update_configuration = LambdaFunction.update_configuration


def _init(self: LambdaFunction, account_id: str, spec: dict[str, Any], *args, **kwargs) -> None:
    _original_init(self, account_id, spec, *args, **kwargs)
    setattr(self, _APPLY_ON_ATTR, (spec.get("SnapStart") or {}).get("ApplyOn", "None"))


def _get_configuration(self: LambdaFunction, *args: Any, **kwargs: Any) -> dict[str, Any]:
    config = _original_get_configuration(self, *args, **kwargs)
    apply_on = getattr(self, _APPLY_ON_ATTR, "None")
    published = str(self.version) != "$LATEST"
    status = "On" if apply_on != "None" and published else "Off"
    config["SnapStart"] = {"ApplyOn": apply_on, "OptimizationStatus": status}
    return config


def _update_configuration(self: LambdaFunction, updates: dict[str, Any]) -> dict[str, Any]:
    if "SnapStart" in updates:
        setattr(self, _APPLY_ON_ATTR, (updates["SnapStart"] or {}).get("ApplyOn", "None"))
    return _original_update_configuration(self, updates)


def apply() -> None:
    LambdaFunction.__init__ = _init
    LambdaFunction.get_configuration = _get_configuration
    LambdaFunction.update_configuration = _update_configuration
