"""`invoke preflight`: will this account and region take the stack, before anything is created?

Checks (each prints one line; a failure says what to change or which quota to request):
credentials and account; Lambda concurrency room for reserved + provisioned concurrency
(Service Quotas L-B99A9384; AWS keeps 100 unreserved); SageMaker training instances
(instances x parallel tuning jobs) and endpoint instances (max capacity), found by quota name
per instance type; EC2 "Running On-Demand G and VT instances" vCPUs (L-DB2E81BA, spot:
L-3819A6DF) and the type's offering for the training host; the PyTorch DLC image URIs and the
Deep Learning AMI's public SSM parameter in the region. Defaults that cannot work on this
account (reserved/provisioned concurrency on a small-limit account) are switched off in the
target's tfvars with a printed warning instead of failing half-way through an apply.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from dogops import config, state
from dogops.errors import UserError
from dogops.tfvars import Variables

LAMBDA_CONCURRENCY = ("lambda", "L-B99A9384", "Concurrent executions")
EC2_G_ON_DEMAND = ("ec2", "L-DB2E81BA", "Running On-Demand G and VT instances")
EC2_G_SPOT = ("ec2", "L-3819A6DF", "All G and VT Spot Instance Requests")
UNRESERVED_MINIMUM = 100  # AWS keeps this much of the account's concurrency unreserved
DLAMI_PARAMETER = ("/aws/service/deeplearning/ami/x86_64/"
                   "oss-nvidia-driver-gpu-pytorch-2.10-ubuntu-24.04/latest/ami-id")
TRAINING_IMAGE = ("2.8.0", "py312")   # dogops.sagemaker_jobs.FRAMEWORK_VERSION / PY_VERSION
INFERENCE_IMAGE = ("2.6.0", "py312")  # terraform/main.tf's default inference_image_uri
QUOTA_ERRORS = {"AccessDeniedException", "AccessDenied", "UnauthorizedOperation",
                "ServiceException", "TooManyRequestsException"}


@dataclass(frozen=True)
class Training:
    instance_type: str = "ml.g5.xlarge"
    instances: int = 1
    parallel_jobs: int = 1  # tuning: --max-parallel-jobs
    spot: bool = False

    @property
    def needed(self) -> int:
        return self.instances * self.parallel_jobs


@dataclass(frozen=True)
class Scope:
    """What the coming step will create; `full` adds the slower image/AMI resolution."""

    stack: bool = True
    endpoint: bool = False
    training: Training | None = None
    host: bool = False
    full: bool = False


EVERYTHING = Scope(stack=True, endpoint=True, training=Training(), host=True, full=True)


@dataclass
class Finding:
    check: str
    status: str  # "ok", "warn" or "FAIL"
    message: str

    def line(self) -> str:
        return f"  {self.status:<4}  {self.check}: {self.message}"


@dataclass
class Result:
    region: str
    account: str = ""
    findings: list[Finding] = field(default_factory=list)
    adjustments: dict[str, object] = field(default_factory=dict)

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "FAIL"]

    def add(self, check: str, status: str, message: str) -> None:
        self.findings.append(Finding(check, status, message))


class Quotas:
    """Service Quotas reads: the applied value, else AWS's default; codes found by name."""

    def __init__(self, client, region: str):
        self.client = client
        self.region = region
        self._catalog: dict[str, dict[str, dict]] = {}

    def _call(self, method: str, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

        try:
            return getattr(self.client, method)(**kwargs)
        except EndpointConnectionError:
            raise UserError(f"the Service Quotas API is not reachable in {self.region}: check "
                            "the network or region, then re-run `invoke preflight`", 1) from None
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            if code == "NoSuchResourceException":
                raise
            raise UserError(f"cannot read Service Quotas in {self.region} ({code}): allow "
                            "servicequotas:GetServiceQuota and servicequotas:"
                            "ListAWSDefaultServiceQuotas for this identity", 1) from None
        except BotoCoreError as err:
            raise UserError(f"the Service Quotas API failed in {self.region}: {err}", 1) from None

    def by_name(self, service: str, name: str) -> dict | None:
        if service not in self._catalog:
            quotas: dict[str, dict] = {}
            token = None
            while True:
                kwargs = {"ServiceCode": service, "MaxResults": 100}
                if token:
                    kwargs["NextToken"] = token
                page = self._call("list_aws_default_service_quotas", **kwargs)
                quotas.update({q["QuotaName"]: q for q in page.get("Quotas", [])})
                token = page.get("NextToken")
                if not token:
                    break
            self._catalog[service] = quotas
        return self._catalog[service].get(name)

    def value(self, service: str, code: str, default: float | None = None) -> float | None:
        from botocore.exceptions import ClientError

        try:
            return float(self._call("get_service_quota", ServiceCode=service,
                                    QuotaCode=code)["Quota"]["Value"])
        except ClientError:  # NoSuchResource: never adjusted, so AWS's default applies
            return default

    def named_value(self, service: str, name: str) -> tuple[str, float] | None:
        quota = self.by_name(service, name)
        if quota is None:
            return None
        return quota["QuotaCode"], self.value(service, quota["QuotaCode"], quota.get("Value"))


def _fmt(value: float) -> str:
    return f"{value:g}"


# -- the checks ----------------------------------------------------------------------------------
def lambda_room(lam, function_name: str) -> int | None:
    """Concurrency this function may reserve or provision: what is unreserved in the account
    (other functions' reservations already taken off) plus what it holds itself, minus the 100
    AWS keeps unreserved. None when GetAccountSettings is not answered."""
    from botocore.exceptions import ClientError

    try:
        unreserved = int(lam.get_account_settings()["AccountLimit"]
                         ["UnreservedConcurrentExecutions"])
    except (ClientError, KeyError):
        return None
    own = 0
    try:
        own = int(lam.get_function_concurrency(FunctionName=function_name)
                  .get("ReservedConcurrentExecutions") or 0)
        if not own:
            configs = lam.list_provisioned_concurrency_configs(FunctionName=function_name)
            own = sum(int(c.get("RequestedProvisionedConcurrentExecutions", 0))
                      for c in configs.get("ProvisionedConcurrencyConfigs", []))
    except ClientError:  # the function does not exist yet: it holds nothing
        pass
    return unreserved + own - UNRESERVED_MINIMUM


def check_lambda(result: Result, quotas: Quotas, variables: Variables, lam=None) -> None:
    service, code, name = LAMBDA_CONCURRENCY
    limit = quotas.value(service, code)
    if limit is None:
        quota = quotas.by_name(service, name)
        limit = float(quota["Value"]) if quota else None
    if limit is None:
        result.add("lambda concurrency", "FAIL", f"quota {code} ({name}) not found in "
                   f"{result.region}")
        return
    function_name = f"{variables['project_name'] or 'dog-breeds'}-predict"
    room = lambda_room(lam, function_name) if lam is not None else None
    room = int(limit) - UNRESERVED_MINIMUM if room is None else room
    reserved = int(variables["reserved_concurrency"] if variables["reserved_concurrency"]
                   is not None else -1)
    provisioned = int(variables["provisioned_concurrency"] or 0)
    request = f"request a Service Quotas increase of Lambda '{name}' ({code})"
    if reserved != -1 and reserved > room:
        need = int(limit) + reserved - room
        if "reserved_concurrency" in variables.user_set:
            result.add("lambda concurrency", "FAIL", f"account limit {_fmt(limit)} ({code}) "
                       f"leaves {max(room, 0)} reservable (AWS keeps {UNRESERVED_MINIMUM} "
                       f"unreserved) but reserved_concurrency = {reserved}: set "
                       f"reserved_concurrency = -1, or {request} to {need}")
            return
        result.adjustments["reserved_concurrency"] = -1
        result.add("lambda concurrency", "warn", f"account limit {_fmt(limit)} ({code}) leaves "
                   f"{max(room, 0)} reservable: the default reserved_concurrency = {reserved} "
                   f"cannot work here and is switched off (-1); {request} to {need} to keep it")
        reserved = -1
    if reserved == -1 and provisioned > 0 and provisioned > room:
        if "provisioned_concurrency" in variables.user_set:
            result.add("lambda provisioned concurrency", "FAIL", f"account limit "
                       f"{_fmt(limit)} ({code}) leaves {max(room, 0)} for provisioned "
                       f"concurrency but provisioned_concurrency = {provisioned}: set "
                       f"provisioned_concurrency = 0, or {request} to "
                       f"{int(limit) + provisioned - room}")
            return
        result.adjustments["provisioned_concurrency"] = 0
        result.add("lambda provisioned concurrency", "warn", f"account limit {_fmt(limit)} "
                   f"({code}) leaves {max(room, 0)}: the default provisioned_concurrency = "
                   f"{provisioned} is switched off (0; cold starts instead); {request} to "
                   f"{int(limit) + provisioned - room} to keep it")
        provisioned = 0
    result.add("lambda concurrency", "ok", f"limit {_fmt(limit)} ({code}); reserved "
               f"{'none' if reserved == -1 else reserved}, provisioned {provisioned}")


def _instance_quota(result: Result, quotas: Quotas, check: str, quota_name: str, needed: int,
                    fix: str) -> None:
    found = quotas.named_value("sagemaker", quota_name)
    if found is None:
        result.add(check, "FAIL", f"no SageMaker quota '{quota_name}' in {result.region}: the "
                   f"instance type is not offered there for this use; {fix}")
        return
    code, value = found
    if value is None or value < needed:
        result.add(check, "FAIL", f"quota '{quota_name}' ({code}) is {_fmt(value or 0)} in "
                   f"{result.region}, {needed} needed: request an increase of {code} to "
                   f"{needed} in Service Quotas, or {fix}")
    else:
        result.add(check, "ok", f"'{quota_name}' ({code}) = {_fmt(value)}, {needed} needed")


def check_training(result: Result, quotas: Quotas, training: Training) -> None:
    usage = "spot training job usage" if training.spot else "training job usage"
    needed = training.needed
    how = (f"{training.instances} instance(s) x {training.parallel_jobs} parallel job(s)"
           if training.parallel_jobs > 1 else f"{training.instances} instance(s)")
    _instance_quota(result, quotas, "sagemaker training", f"{training.instance_type} for {usage}",
                    needed, f"run with fewer --instances/--max-parallel-jobs ({how} now) or "
                            "another --instance-type")


def check_endpoint(result: Result, quotas: Quotas, variables: Variables) -> None:
    instance_type = str(variables["endpoint_instance_type"])
    maximum = int(variables["max_capacity"] or 1)
    _instance_quota(result, quotas, "sagemaker endpoint", f"{instance_type} for endpoint usage",
                    maximum, f"lower max_capacity (now {maximum}) or set another "
                             "endpoint_instance_type")


def check_host(result: Result, quotas: Quotas, ec2, variables: Variables) -> None:
    instance_type = str(variables["training_host_instance_type"])
    offered = ec2.describe_instance_type_offerings(
        LocationType="region", Filters=[{"Name": "instance-type", "Values": [instance_type]}]
    ).get("InstanceTypeOfferings", [])
    if not offered:
        result.add("ec2 training host", "FAIL", f"{instance_type} is not offered in "
                   f"{result.region}: set training_host_instance_type or pick another region")
        return
    info = ec2.describe_instance_types(InstanceTypes=[instance_type])["InstanceTypes"][0]
    vcpus = int(info["VCpuInfo"]["DefaultVCpus"])
    service, code, name = EC2_G_SPOT if variables["training_host_use_spot"] else EC2_G_ON_DEMAND
    value = quotas.value(service, code)
    if value is None:
        quota = quotas.by_name(service, name)
        value = float(quota["Value"]) if quota else 0.0
    if value < vcpus:
        result.add("ec2 training host", "FAIL", f"EC2 quota '{name}' ({code}) is {_fmt(value)} "
                   f"vCPUs in {result.region}; {instance_type} needs {vcpus}: request an "
                   f"increase of {code} to {vcpus} in Service Quotas")
    else:
        result.add("ec2 training host", "ok", f"'{name}' ({code}) = {_fmt(value)} vCPUs, "
                   f"{instance_type} needs {vcpus}")


def check_dlami(result: Result, ssm, variables: Variables) -> None:
    if variables["training_host_ami_id"]:
        result.add("deep learning ami", "ok", f"training_host_ami_id = "
                   f"{variables['training_host_ami_id']} (no lookup)")
        return
    from botocore.exceptions import ClientError

    name = str(variables["training_host_ami_ssm_parameter"] or DLAMI_PARAMETER)
    try:
        ami = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code", "")
        result.add("deep learning ami", "FAIL", f"SSM parameter {name} does not resolve in "
                   f"{result.region} ({code}): set training_host_ami_id to a PyTorch Deep "
                   "Learning AMI id, or training_host_ami_ssm_parameter to a published one")
        return
    result.add("deep learning ami", "ok", f"{ami} from {name}")


def check_images(result: Result, variables: Variables) -> None:
    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")  # one line per check, no banner
    from sagemaker import image_uris

    wanted = [("training", TRAINING_IMAGE, "ml.g5.xlarge"),
              ("inference", INFERENCE_IMAGE, "ml.m5.large")]
    for scope, (version, py), instance_type in wanted:
        if scope == "inference" and variables["inference_image_uri"]:
            uri = str(variables["inference_image_uri"])
            if f".{result.region}." not in uri:
                result.add("dlc images", "FAIL", f"inference_image_uri {uri} is not in "
                           f"{result.region}: SageMaker pulls images from the endpoint's region")
                return
            continue
        try:
            image_uris.retrieve("pytorch", result.region, version=version, py_version=py,
                                instance_type=instance_type, image_scope=scope)
        except ValueError:
            result.add("dlc images", "FAIL", f"no PyTorch {version} {scope} container in "
                       f"{result.region}: pick a region with SageMaker PyTorch DLCs")
            return
    result.add("dlc images", "ok", f"pytorch-training:{TRAINING_IMAGE[0]}, "
               f"pytorch-inference:{INFERENCE_IMAGE[0]} published in {result.region}")


# -- running ---------------------------------------------------------------------------------
def run(backend, scope: Scope, variables: Variables) -> Result:
    """Run the checks of `scope` against `backend` (AWS, or the emulator for tests/local)."""
    from dogops.aws_session import caller_identity

    result = Result(region=backend.region)
    identity = caller_identity(backend.session(), backend.endpoint_url)
    result.account = str(identity.get("Account", ""))
    result.add("credentials", "ok", f"account {result.account} as {identity.get('Arn', '?')}")
    quotas = Quotas(backend.client("service-quotas"), backend.region)
    if scope.stack:
        check_lambda(result, quotas, variables, backend.client("lambda"))
    if scope.endpoint:
        check_endpoint(result, quotas, variables)
    if scope.training is not None:
        check_training(result, quotas, scope.training)
    if scope.host:
        check_host(result, quotas, backend.client("ec2"), variables)
        check_dlami(result, backend.client("ssm"), variables)
    if scope.full:
        check_images(result, variables)
    return result


def report(result: Result, out=print) -> None:
    out(f"preflight for account {result.account or '?'} in {result.region}:")
    for finding in result.findings:
        out(finding.line())


def record_path(target: str):
    return config.paths(target).state_dir / "preflight.json"


def passed_before(target: str, account: str, region: str) -> bool:
    try:
        data = json.loads(record_path(target).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return False
    return data.get("account") == account and data.get("region") == region


def settle(target: str, result: Result, out=print) -> None:
    """Write the adjustments, record a pass, or raise one line naming the failed checks."""
    if result.adjustments:
        tfvars = state.read_tfvars(target)
        tfvars.update(result.adjustments)
        state.write_json_atomic(config.paths(target).tfvars_file, tfvars)
        out(f"  saved {', '.join(f'{k} = {v}' for k, v in result.adjustments.items())} in "
            f"{config.paths(target).tfvars_file}")
    failed = result.failures
    if failed:
        raise UserError(f"preflight: {len(failed)} check(s) failed in {result.region} "
                        f"({', '.join(sorted({f.check for f in failed}))}): make the changes "
                        "above, then re-run; nothing was created", 1)
    state.write_json_atomic(record_path(target), {
        "account": result.account, "region": result.region,
        "passed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})


def scope_for(extra: dict | None, first: bool) -> Scope:
    """What an apply with these tooling variables creates (checked before it runs)."""
    extra = extra or {}
    return Scope(stack=True, endpoint=bool(extra.get("model_data_url")),
                 host=bool(extra.get("enable_training_host")), full=first)


def names(findings: Iterable[Finding]) -> list[str]:
    return [f.check for f in findings]


def run_for_task(backend, instance_type: str = "ml.g5.xlarge", instances: int = 1,
                 parallel_jobs: int = 1, spot: bool = False, out=print) -> Result:
    """`invoke preflight`: every check, for the settings Terraform would use."""
    extra = {"training_host_use_spot": True} if spot else None
    scope = Scope(stack=True, endpoint=True, host=True, full=True,
                  training=Training(instance_type, instances, parallel_jobs, spot))
    result = run(backend, scope, backend.variables(extra))
    report(result, out)
    settle(backend.target, result, out)
    out(f"preflight passed for {result.region}")
    return result


def before_training(backend, instance_type: str, instances: int, parallel_jobs: int,
                    spot: bool, out=print) -> None:
    """`invoke train --target aws`: the training quota, before any job is started."""
    result = Result(region=backend.region)
    check_training(result, Quotas(backend.client("service-quotas"), backend.region),
                   Training(instance_type, instances, parallel_jobs, spot))
    for finding in result.findings:
        out(finding.line())
    if result.failures:
        raise UserError(f"preflight: the SageMaker training quota in {backend.region} is too "
                        "small for this run (see above); nothing was started", 1)
