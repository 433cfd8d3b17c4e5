"""EC2 MonitorInstances / UnmonitorInstances (detailed monitoring on the training host).

moto 5.2.5 raises NotImplementedError for both, so an `aws_instance` with `monitoring = true`
never finishes applying (the provider retries the 500s). The state moto already keeps per
instance (`Monitoring.State`, shown by DescribeInstances) is switched instead.
"""

from __future__ import annotations

from moto.core.responses import ActionResult
from moto.ec2.responses.monitoring import Monitoring


def _set_monitoring(response: Monitoring, state: str) -> ActionResult:
    instance_ids = response._get_param("InstanceIds", [])
    response.error_on_dryrun()
    items = []
    for instance_id in instance_ids:
        instance = response.ec2_backend.get_instance(instance_id)  # InvalidInstanceID.NotFound
        instance.monitoring_state = state
        items.append({"InstanceId": instance.id, "Monitoring": {"State": state}})
    return ActionResult({"InstanceMonitorings": items})


def monitor_instances(self: Monitoring) -> ActionResult:
    return _set_monitoring(self, "enabled")


def unmonitor_instances(self: Monitoring) -> ActionResult:
    return _set_monitoring(self, "disabled")


def apply() -> None:
    Monitoring.monitor_instances = monitor_instances
    Monitoring.unmonitor_instances = unmonitor_instances
