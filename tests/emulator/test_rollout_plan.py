"""The emulator's rollout engine: traffic steps and alarm evaluation (pure parts)."""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace

from dogops.local_aws import rollout


def canary(value, kind="CAPACITY_PERCENT", wait=30, alarms=()):
    return {"BlueGreenUpdatePolicy": {
        "TrafficRoutingConfiguration": {"Type": "CANARY", "WaitIntervalInSeconds": wait,
                                        "CanarySize": {"Type": kind, "Value": value}},
        "TerminationWaitInSeconds": 12, "MaximumExecutionTimeoutInSeconds": 900},
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": a} for a in alarms]}}


def test_canary_linear_and_default_plans():
    plan = rollout.plan_rollout(canary(10, alarms=("a", "b")), instance_count=4)
    assert plan.steps == ((0.1, 30), (1.0, 0))
    assert (plan.termination_wait_s, plan.max_execution_s, plan.alarms) == (12, 900, ("a", "b"))
    assert rollout.plan_rollout(canary(1, "INSTANCE_COUNT"), 4).steps[0] == (0.25, 30)
    linear = {"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {
        "Type": "LINEAR", "WaitIntervalInSeconds": 5,
        "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 25}}}}
    assert rollout.plan_rollout(linear, 1).steps == ((0.25, 5), (0.5, 5), (0.75, 5), (1.0, 0))
    default = rollout.plan_rollout(None, 1)
    assert default.steps == ((1.0, 0),) and default.alarms == () and default.termination_wait_s == 0


def _datum(name, value, at, endpoint="ep"):
    return SimpleNamespace(namespace="AWS/SageMaker", name=name, value=value, timestamp=at,
                           dimensions=[SimpleNamespace(name="EndpointName", value=endpoint),
                                       SimpleNamespace(name="VariantName", value="AllTraffic")])


def test_alarm_evaluation_uses_only_this_rollouts_data():
    now = datetime(2026, 12, 1, 8, 0, 0)
    alarm = SimpleNamespace(metric_name="Invocation5XXErrors", namespace="AWS/SageMaker",
                            metric_data_queries=[], period=60, statistic="Sum",
                            extended_statistic=None, threshold=1.0,
                            comparison_operator="GreaterThanOrEqualToThreshold",
                            dimensions=[SimpleNamespace(name="EndpointName", value="ep"),
                                        SimpleNamespace(name="VariantName", value="AllTraffic")])
    began = now - timedelta(seconds=10)
    before = _datum("Invocation5XXErrors", 1.0, began - timedelta(seconds=5))
    ok = [_datum("Invocation5XXErrors", 0.0, now - timedelta(seconds=2))]
    assert rollout.breached(alarm, [before, *ok], began, now) is None
    other = _datum("Invocation5XXErrors", 1.0, now, endpoint="other")
    assert rollout.breached(alarm, [*ok, other], began, now) is None
    failed = _datum("Invocation5XXErrors", 1.0, now - timedelta(seconds=1))
    assert rollout.breached(alarm, [*ok, failed], began, now) == 1.0
    math_alarm = SimpleNamespace(**{**vars(alarm), "metric_data_queries": [{"Id": "rate"}]})
    assert rollout.breached(math_alarm, [failed], began, now) is None


def test_percentile_statistic_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert rollout._statistic(values, None, "p99") == 99.0
    assert rollout._statistic([5.0], None, "p99") == 5.0
    assert rollout._statistic([1.0, 3.0], "Average", None) == 2.0
