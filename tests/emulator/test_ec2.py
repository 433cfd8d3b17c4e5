"""EC2 on the emulator: what the training host's Terraform resource needs."""

from __future__ import annotations

import uuid


def run_host(ec2) -> tuple[str, str]:
    group = ec2.create_security_group(
        GroupName=f"training-host-{uuid.uuid4().hex[:8]}", Description="host"
    )["GroupId"]
    instance = ec2.run_instances(
        ImageId="ami-999844e0",
        InstanceType="g5.xlarge",
        MinCount=1,
        MaxCount=1,
        SecurityGroupIds=[group],
    )["Instances"][0]["InstanceId"]
    return instance, group


def describe(ec2, instance_id: str) -> dict:
    return ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]


def test_monitor_and_unmonitor_instances(aws):
    ec2 = aws("ec2")
    instance, _ = run_host(ec2)
    reply = ec2.monitor_instances(InstanceIds=[instance])
    assert reply["InstanceMonitorings"] == [
        {"InstanceId": instance, "Monitoring": {"State": "enabled"}}
    ]
    assert describe(ec2, instance)["Monitoring"]["State"] == "enabled"
    ec2.unmonitor_instances(InstanceIds=[instance])
    assert describe(ec2, instance)["Monitoring"]["State"] == "disabled"


def test_setting_shutdown_behaviour_keeps_the_security_groups(aws):
    ec2 = aws("ec2")
    instance, group = run_host(ec2)
    ec2.modify_instance_attribute(
        InstanceId=instance, InstanceInitiatedShutdownBehavior={"Value": "terminate"}
    )
    assert [g["GroupId"] for g in describe(ec2, instance)["SecurityGroups"]] == [group]
    behaviour = ec2.describe_instance_attribute(
        InstanceId=instance, Attribute="instanceInitiatedShutdownBehavior"
    )
    assert behaviour["InstanceInitiatedShutdownBehavior"]["Value"] == "terminate"
    # Replacing the groups explicitly still works.
    other = ec2.create_security_group(
        GroupName=f"other-{uuid.uuid4().hex[:8]}", Description="other"
    )["GroupId"]
    ec2.modify_instance_attribute(InstanceId=instance, Groups=[other])
    assert [g["GroupId"] for g in describe(ec2, instance)["SecurityGroups"]] == [other]
