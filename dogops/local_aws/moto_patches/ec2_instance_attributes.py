"""EC2 ModifyInstanceAttribute: an unrecognised attribute must not wipe the security groups.

moto 5.2.5 tries its known attributes in turn and falls back to "replace the security groups"
with whatever `Groups` holds, which is nothing for e.g. `InstanceInitiatedShutdownBehavior`.
The provider sets that attribute right after creating our training host, so the instance lost
its security group and every later plan wanted to add it back. Here: the groups are replaced
only when `Groups` is given, and any other `<Attribute>.Value` is stored on the instance.
"""

from __future__ import annotations

from moto.core.utils import camelcase_to_underscores
from moto.ec2.responses.instances import InstanceResponse


def _security_groups_handler(self: InstanceResponse) -> bool:
    groups = self._get_param("Groups")
    if not groups:
        return False
    self.error_on_dryrun()
    self.ec2_backend.modify_instance_security_groups(self._get_param("InstanceId"), groups)
    return True


def _any_value_attribute_handler(self: InstanceResponse) -> bool:
    for key, value in (getattr(self, "params", None) or {}).items():
        if isinstance(value, dict) and set(value) == {"Value"}:
            self.error_on_dryrun()
            self.ec2_backend.modify_instance_attribute(
                self._get_param("InstanceId"), camelcase_to_underscores(key), value["Value"]
            )
            return True
    return False


def _security_groups_then_any_value(self: InstanceResponse) -> bool:
    return _security_groups_handler(self) or _any_value_attribute_handler(self)


def apply() -> None:
    InstanceResponse._security_grp_instance_attribute_handler = _security_groups_then_any_value
