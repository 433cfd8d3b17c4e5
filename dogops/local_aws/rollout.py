"""Blue/green endpoint rollouts in the emulator, carried out for real with local endpoint hosts.

On AWS, UpdateEndpoint with a `DeploymentConfig` provisions a green fleet for the new endpoint
config, shifts traffic to it step by step (canary: one step then the rest; linear: equal steps;
all at once), bakes after each step while watching the rollback alarms, keeps all traffic on
green for `TerminationWaitInSeconds`, then terminates blue. An alarm in ALARM during any bake (or
the green fleet failing to start, or `MaximumExecutionTimeoutInSeconds` running out) sends all
traffic back to blue: the endpoint is `InService` on its old config with a `FailureReason`.

Here, inside the emulator process:
- green fleet = a second local endpoint host (`dogops.local_aws.endpoint_host`) for the new
  config's model, registered as `<endpoint>.green` ('.' cannot occur in endpoint names);
- traffic: InvokeEndpoint (moto_patches.sagemaker_runtime) asks `pick_host` which host answers
  each request, sending the current green share at random;
- metrics: every invocation is published to the emulator's CloudWatch (`AWS/SageMaker`
  Invocations, Invocation4XXErrors, Invocation5XXErrors, ModelLatency by EndpointName and
  VariantName), as SageMaker does;
- alarms: each rollback alarm is checked every `TICK_S`: one set to ALARM (by
  `set_alarm_state`, or by us) rolls back; a single-metric alarm is also evaluated here against
  the datapoints published since the rollout began (within its period) and set to ALARM when
  breached. Metric-math alarms are only honoured through their state (not evaluated here).
- success: green takes over the endpoint's name (pid file + registry) and blue is stopped.

Endpoints that no local host serves (nothing to shift traffic from) are switched at once, as
before (moto_patches.sagemaker_update_endpoint).
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dogops.local_aws.moto_patches import endpoint_registry, iam_enforcement

log = logging.getLogger("dogops.local_aws.rollout")
TICK_S = 0.5
GREEN_SUFFIX = ".green"
ENGINE_REASON = "dogops emulator: "
NAMESPACE = "AWS/SageMaker"
HOST_START_TIMEOUT_S = 180.0


@dataclass
class Route:
    green_url: str
    share: float = 0.0


_routes: dict[str, Route] = {}
_lock = threading.Lock()


# -- traffic ---------------------------------------------------------------------------------
def pick_host(endpoint_name: str, blue_url: str | None) -> str | None:
    """The host that answers this request: green for its current share, else blue."""
    with _lock:
        route = _routes.get(endpoint_name)
    if route is not None and route.share > 0 and random.random() < route.share:
        return route.green_url
    return blue_url


def in_progress(endpoint_name: str) -> bool:
    with _lock:
        return endpoint_name in _routes


# -- the plan of a rollout -------------------------------------------------------------------
@dataclass(frozen=True)
class RolloutPlan:
    steps: tuple[tuple[float, int], ...]  # (green traffic share, bake seconds after the shift)
    termination_wait_s: int
    max_execution_s: int
    alarms: tuple[str, ...]


def plan_rollout(deployment_config: dict | None, instance_count: int) -> RolloutPlan:
    """Traffic steps of a DeploymentConfig (None: AWS's default, all at once, no bake)."""
    policy = (deployment_config or {}).get("BlueGreenUpdatePolicy") or {}
    routing = policy.get("TrafficRoutingConfiguration") or {"Type": "ALL_AT_ONCE"}
    wait = int(routing.get("WaitIntervalInSeconds", 0))
    kind = routing.get("Type", "ALL_AT_ONCE")

    def share(size: dict) -> float:
        value = float(size["Value"])
        if size.get("Type") == "INSTANCE_COUNT":
            return min(1.0, value / max(1, instance_count))
        return min(1.0, value / 100.0)

    if kind == "CANARY":
        steps: list[tuple[float, int]] = [(share(routing["CanarySize"]), wait), (1.0, 0)]
    elif kind == "LINEAR":
        step, shares = share(routing["LinearStepSize"]), []
        current = step
        while current < 1.0 - 1e-9:
            shares.append(current)
            current += step
        steps = [(s, wait) for s in shares] + [(1.0, 0)]
    else:
        steps = [(1.0, 0)]
    alarms = tuple(a["AlarmName"] for a in ((deployment_config or {}).get(
        "AutoRollbackConfiguration") or {}).get("Alarms", []))
    return RolloutPlan(tuple(steps), int(policy.get("TerminationWaitInSeconds", 0)),
                       int(policy.get("MaximumExecutionTimeoutInSeconds", 3600)), alarms)


# -- metrics and alarms ----------------------------------------------------------------------
def _cloudwatch(account: str, region: str):
    from moto.cloudwatch.models import cloudwatch_backends

    return cloudwatch_backends[account][region]


def record_invocation(account: str, region: str, endpoint_name: str, status: int,
                      latency_s: float, variant: str = "AllTraffic") -> None:
    """Publish one invocation's metrics, as SageMaker does for every InvokeEndpoint."""
    dimensions = [{"Name": "EndpointName", "Value": endpoint_name},
                  {"Name": "VariantName", "Value": variant}]
    data = [
        {"MetricName": "Invocations", "Value": 1.0, "Unit": "None"},
        {"MetricName": "Invocation4XXErrors", "Value": float(400 <= status < 500), "Unit": "None"},
        {"MetricName": "Invocation5XXErrors", "Value": float(status >= 500), "Unit": "None"},
        {"MetricName": "ModelLatency", "Value": latency_s * 1e6, "Unit": "Microseconds"},
    ]
    _cloudwatch(account, region).put_metric_data(
        NAMESPACE, [{**d, "Dimensions": dimensions} for d in data])


def _dimensions(items: Any) -> dict[str, str]:
    out = {}
    for item in items or []:
        name = item.get("Name") if isinstance(item, dict) else item.name
        value = item.get("Value") if isinstance(item, dict) else item.value
        out[str(name)] = str(value)
    return out


def _statistic(values: list[float], statistic: str | None, extended: str | None) -> float:
    if extended and extended.startswith("p"):
        ordered = sorted(values)  # nearest-rank percentile
        rank = math.ceil(float(extended[1:]) / 100 * len(ordered))
        return ordered[max(0, min(len(ordered), rank) - 1)]
    return {"Sum": sum, "Maximum": max, "Minimum": min, "SampleCount": len,
            "Average": lambda v: sum(v) / len(v)}[statistic or "Average"](values)


COMPARE = {
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "GreaterThanThreshold": lambda v, t: v > t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}


def breached(alarm: Any, datapoints: list[Any], since: Any, now: Any) -> float | None:
    """The alarm statistic when the alarm's single metric breaches its threshold over the data
    published since `since` (within one period), else None."""
    if getattr(alarm, "metric_data_queries", None) or not alarm.metric_name:
        return None  # metric math: only its state counts here
    from datetime import timedelta

    start = max(since, now - timedelta(seconds=int(alarm.period or 60)))
    wanted = _dimensions(alarm.dimensions)
    values = [float(d.value) for d in datapoints
              if getattr(d, "value", None) is not None and d.namespace == alarm.namespace
              and d.name == alarm.metric_name and start <= d.timestamp <= now
              and all(_dimensions(d.dimensions).get(k) == v for k, v in wanted.items())]
    if not values:
        return None  # missing data is not breaching (treat_missing_data = notBreaching)
    value = _statistic(values, alarm.statistic, alarm.extended_statistic)
    compare = COMPARE.get(alarm.comparison_operator)
    return value if compare and compare(value, float(alarm.threshold)) else None


def firing_alarm(account: str, region: str, names: tuple[str, ...], since: Any) -> str | None:
    """The first rollback alarm in ALARM (evaluating single-metric ones first), or None."""
    from moto.core.utils import utcnow

    backend = _cloudwatch(account, region)
    now = utcnow()
    for name in names:
        alarm = backend.alarms.get(name)
        if alarm is None:
            continue
        value = breached(alarm, list(backend.metric_data), since, now)
        if value is not None and alarm.state_value != "ALARM":
            backend.set_alarm_state(
                name, f"{ENGINE_REASON}{alarm.metric_name} {alarm.extended_statistic or alarm.statistic}"
                f" = {value:g} breached {alarm.comparison_operator} {alarm.threshold:g}", None,
                "ALARM")
        elif (value is None and alarm.state_value == "ALARM"
              and str(alarm.state_reason).startswith(ENGINE_REASON)):
            # our own earlier verdict, and the data since this rollout began is fine again
            backend.set_alarm_state(name, f"{ENGINE_REASON}no breaching data", None, "OK")
        if backend.alarms[name].state_value == "ALARM":
            return name
    return None


# -- hosts -----------------------------------------------------------------------------------
def _pid_path(name: str, state_dir: Path) -> Path:
    from dogops.local_aws import endpoint_host

    return state_dir / f"{endpoint_host.PID_PREFIX}{name}{endpoint_host.PID_SUFFIX}"


def _start_green(endpoint_name: str, model: Any, state_dir: Path):
    from dogops.local_aws import endpoint_host

    container = dict(model.primary_container or {})
    port = os.environ.get("MOTO_PORT", "4566")
    # The new fleet runs with its model's execution role, assumed with the operator's key as
    # SageMaker assumes it (the rollout runs inside the emulator).
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", **iam_enforcement.operator(),
           "AWS_DEFAULT_REGION": "us-east-1", **(container.get("Environment") or {})}
    return endpoint_host.start_host(endpoint_name + GREEN_SUFFIX, container["ModelDataUrl"],
                                    state_dir=state_dir, env=env,
                                    timeout_s=HOST_START_TIMEOUT_S,
                                    role_arn=model.execution_role_arn or None)


def _promote(endpoint_name: str, state_dir: Path) -> None:
    """Green takes over the endpoint's name; blue is stopped."""
    from dogops.local_aws import endpoint_host

    green_name = endpoint_name + GREEN_SUFFIX
    green = endpoint_host.host_info(green_name, state_dir)
    blue = endpoint_host.host_info(endpoint_name, state_dir)
    _pid_path(endpoint_name, state_dir).write_text(
        json.dumps({"pid": green.pid, "url": green.url, "model": green.model}))
    _pid_path(green_name, state_dir).unlink(missing_ok=True)
    endpoint_registry.register(endpoint_name, green.url, state_dir)
    endpoint_registry.unregister(green_name, state_dir)
    if blue is not None and blue.pid != green.pid:
        try:
            os.kill(blue.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


# -- the rollout -----------------------------------------------------------------------------
def start(sagemaker_backend: Any, endpoint: Any, config_name: str,
          deployment_config: dict | None) -> bool:
    """Begin a rollout of `endpoint` onto `config_name` in the background; False when no local
    host serves the endpoint (then the caller switches it at once)."""
    state_dir = endpoint_registry.default_state_dir()
    if endpoint_registry.lookup(endpoint.endpoint_name, state_dir) is None:
        return False
    endpoint.endpoint_status = "Updating"
    endpoint.failure_reason = None
    thread = threading.Thread(target=_guarded, name=f"rollout-{endpoint.endpoint_name}", daemon=True,
                              args=(sagemaker_backend, endpoint, config_name, deployment_config,
                                    state_dir))
    thread.start()
    return True


def _guarded(backend: Any, endpoint: Any, config_name: str, deployment_config: dict | None,
             state_dir: Path) -> None:
    """Never leave the endpoint `Updating` forever: an engine fault rolls back, with the cause."""
    try:
        _run(backend, endpoint, config_name, deployment_config, state_dir)
    except Exception as err:  # reported as the endpoint's FailureReason
        log.exception("rollout of %s failed", endpoint.endpoint_name)
        _roll_back(endpoint, endpoint.endpoint_name, state_dir,
                   f"emulator rollout error: {type(err).__name__}: {err}")


def _run(backend: Any, endpoint: Any, config_name: str, deployment_config: dict | None,
         state_dir: Path) -> None:
    from moto.core.utils import utcnow

    from dogops.errors import UserError

    name = endpoint.endpoint_name
    account, region = backend.account_id, backend.region_name
    config = backend.endpoint_configs[config_name]
    variant = config.production_variants[0]
    plan = plan_rollout(deployment_config, int(variant.get("InitialInstanceCount", 1)))
    began, started = utcnow(), time.monotonic()
    log.info("rollout of %s onto %s: %s", name, config_name, plan)
    try:
        green = _start_green(name, backend._models[variant["ModelName"]], state_dir)
    except (UserError, KeyError) as err:
        _roll_back(endpoint, name, state_dir, f"the new fleet failed to start: {err}")
        return
    with _lock:
        _routes[name] = Route(green.url)
    bakes = [*plan.steps[:-1], (1.0, plan.termination_wait_s)]
    for share, bake_s in bakes:
        with _lock:
            _routes[name].share = share
        log.info("rollout of %s: %.0f%% of traffic on the new fleet, baking %d s", name,
                 share * 100, bake_s)
        deadline = time.monotonic() + bake_s
        while True:
            alarm = firing_alarm(account, region, plan.alarms, began)
            if alarm:
                _roll_back(endpoint, name, state_dir,
                           f"alarm {alarm} went to ALARM with {share:.0%} of traffic on the new "
                           "model; all traffic was shifted back")
                return
            if time.monotonic() - started > plan.max_execution_s:
                _roll_back(endpoint, name, state_dir,
                           f"the update exceeded MaximumExecutionTimeoutInSeconds "
                           f"({plan.max_execution_s})")
                return
            if time.monotonic() >= deadline:
                break
            time.sleep(TICK_S)
    _promote(name, state_dir)
    with _lock:
        _routes.pop(name, None)
    endpoint.endpoint_config_name = config_name
    endpoint.production_variants = endpoint._process_production_variants(
        config.production_variants)
    endpoint.data_capture_config = config.data_capture_config
    endpoint.last_modified_time = utcnow()
    endpoint.endpoint_status = "InService"
    log.info("rollout of %s onto %s complete", name, config_name)


def _roll_back(endpoint: Any, name: str, state_dir: Path, reason: str) -> None:
    from moto.core.utils import utcnow

    from dogops.local_aws import endpoint_host

    with _lock:
        _routes.pop(name, None)
    endpoint_host.stop_host(name + GREEN_SUFFIX, state_dir)
    endpoint.failure_reason = f"Update rolled back: {reason}"
    endpoint.last_modified_time = utcnow()
    endpoint.endpoint_status = "InService"
    log.warning("rollout of %s rolled back: %s", name, reason)
