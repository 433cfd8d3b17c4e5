"""Model versions: every trained model is a version in a SageMaker Model Package Group.

A version carries the artifact URI and serving image (InferenceSpecification), its approval
status, and as CustomerMetadataProperties the job, test metrics, data/code fingerprint and
hyperparameters. The same calls run against AWS and the emulator (moto implements model
packages; `moto_patches.sagemaker_model_packages` closes its gaps).

Approval: a new version is `Approved` unless it scores worse than the live one on the test split
(`test_accuracy`); then it is registered `PendingManualApproval` and `deploy` does not ship it
unless asked to (`invoke deploy --model N --force`). A version SageMaker rolled back is
`Rejected`. Which version is live is read from the endpoint itself (endpoint -> config -> model
-> ModelDataUrl), so it is right whoever deployed last.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from dogops.errors import UserError

APPROVED, PENDING, REJECTED = "Approved", "PendingManualApproval", "Rejected"
QUALITY_METRIC = "test_accuracy"  # higher is better; measured on the held-out test split
CONTENT_TYPES = ["image/jpeg", "image/png", "application/x-image", "application/json"]
MAX_PROPERTY_CHARS = 256  # CustomerMetadataProperties value limit


@dataclass
class ModelVersion:
    number: int
    arn: str
    status: str
    model_data_url: str
    image: str = ""
    created: str = ""
    description: str = ""
    properties: dict[str, str] = field(default_factory=dict)

    @property
    def metrics(self) -> dict[str, float]:
        try:
            return {k: float(v) for k, v in json.loads(self.properties.get("metrics", "{}")).items()}
        except (ValueError, TypeError, AttributeError):
            return {}

    @property
    def approved(self) -> bool:
        return self.status == APPROVED


def group_name(endpoint_name: str) -> str:
    """`dog-breeds-endpoint` -> `dog-breeds-models` (one group per project)."""
    return f"{endpoint_name.removesuffix('-endpoint')}-models"


def _property(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str,
                                                           separators=(",", ":"))
    return text[:MAX_PROPERTY_CHARS]


def quality_verdict(candidate: Mapping[str, float], live: ModelVersion | None) -> tuple[bool, str]:
    """(approve?, why). Worse than the live version on the test split -> not approved."""
    if live is None:
        return True, "first version (nothing live to compare with)"
    ours, theirs = candidate.get(QUALITY_METRIC), live.metrics.get(QUALITY_METRIC)
    if ours is None or theirs is None:
        return True, f"no {QUALITY_METRIC} to compare with live v{live.number}"
    if ours < theirs:
        return False, (f"{QUALITY_METRIC} {ours:.4f} is worse than live v{live.number}'s "
                       f"{theirs:.4f}")
    return True, f"{QUALITY_METRIC} {ours:.4f} >= live v{live.number}'s {theirs:.4f}"


class Registry:
    """One model package group, through a boto3 SageMaker client (AWS or the emulator)."""

    def __init__(self, sagemaker, group: str):
        self.sm = sagemaker
        self.group = group

    def ensure_group(self) -> None:
        from botocore.exceptions import ClientError

        try:
            self.sm.describe_model_package_group(ModelPackageGroupName=self.group)
        except ClientError as err:
            if "does not exist" not in str(err) and "not found" not in str(err).lower():
                raise
            self.sm.create_model_package_group(
                ModelPackageGroupName=self.group,
                ModelPackageGroupDescription="dog-breed classifier versions (invoke models)")

    def versions(self) -> list[ModelVersion]:
        """Every version, oldest first; [] when the group does not exist yet."""
        from botocore.exceptions import ClientError

        arns: list[str] = []
        kwargs: dict[str, object] = {"ModelPackageGroupName": self.group, "MaxResults": 100}
        try:
            while True:
                page = self.sm.list_model_packages(**kwargs)
                arns += [s["ModelPackageArn"] for s in page["ModelPackageSummaryList"]]
                if not page.get("NextToken"):
                    break
                kwargs["NextToken"] = page["NextToken"]
        except ClientError as err:
            if "does not exist" in str(err):
                return []
            raise
        found = [self._describe(arn) for arn in arns]
        return sorted(found, key=lambda v: v.number)

    def _describe(self, arn: str) -> ModelVersion:
        d = self.sm.describe_model_package(ModelPackageName=arn)
        container = (d.get("InferenceSpecification", {}).get("Containers") or [{}])[0]
        return ModelVersion(
            number=int(d["ModelPackageVersion"]), arn=d["ModelPackageArn"],
            status=d.get("ModelApprovalStatus", PENDING),
            model_data_url=container.get("ModelDataUrl", ""), image=container.get("Image", ""),
            created=str(d.get("CreationTime", ""))[:19],
            description=d.get("ApprovalDescription") or d.get("ModelPackageDescription", ""),
            properties=dict(d.get("CustomerMetadataProperties") or {}))

    def get(self, number: int) -> ModelVersion:
        for version in self.versions():
            if version.number == number:
                return version
        raise UserError(f"model version {number} does not exist in {self.group}: see "
                        "`invoke models`")

    def find(self, model_data_url: str) -> ModelVersion | None:
        matches = [v for v in self.versions() if v.model_data_url == model_data_url]
        return matches[-1] if matches else None

    def register(self, model_data_url: str, image: str, metrics: Mapping[str, float],
                 details: Mapping[str, object], approved: bool, why: str) -> ModelVersion:
        self.ensure_group()
        properties = {"metrics": _property({k: round(float(v), 6) for k, v in metrics.items()})}
        properties.update({k: _property(v) for k, v in details.items() if v not in (None, "")})
        arn = self.sm.create_model_package(
            ModelPackageGroupName=self.group,
            ModelPackageDescription=why[:1000],
            InferenceSpecification={
                "Containers": [{"Image": image, "ModelDataUrl": model_data_url}],
                "SupportedContentTypes": CONTENT_TYPES,
                "SupportedResponseMIMETypes": ["application/json"],
            },
            ModelApprovalStatus=APPROVED if approved else PENDING,
            CustomerMetadataProperties=properties,
        )["ModelPackageArn"]
        return self._describe(arn)

    def set_status(self, version: ModelVersion, status: str, why: str) -> None:
        self.sm.update_model_package(ModelPackageArn=version.arn, ModelApprovalStatus=status,
                                     ApprovalDescription=why[:1000])

    def previous_approved(self, live: ModelVersion) -> ModelVersion:
        older = [v for v in self.versions() if v.approved and v.number < live.number]
        if not older:
            raise UserError(f"no approved version older than live v{live.number} to roll back "
                            "to (see `invoke models`)")
        return older[-1]


def live_model_url(sagemaker, endpoint_name: str) -> str | None:
    """The ModelDataUrl the endpoint serves now (endpoint -> config -> model), or None."""
    from botocore.exceptions import ClientError

    try:
        endpoint = sagemaker.describe_endpoint(EndpointName=endpoint_name)
        config = sagemaker.describe_endpoint_config(
            EndpointConfigName=endpoint["EndpointConfigName"])
        model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    except ClientError:
        return None
    return (model.get("PrimaryContainer") or {}).get("ModelDataUrl")


def live_version(registry: Registry, sagemaker, endpoint_name: str) -> ModelVersion | None:
    url = live_model_url(sagemaker, endpoint_name)
    return registry.find(url) if url else None


def format_versions(versions: list[ModelVersion], live: ModelVersion | None) -> str:
    """The `invoke models` table; the live version marked with '*'."""
    if not versions:
        return "no model versions yet: run `invoke train`"
    lines = [f"  {'ver':>4}  {'status':<21} {QUALITY_METRIC:>13}  {'created':<19}  artifact"]
    for v in versions:
        mark = "*" if live is not None and v.number == live.number else " "
        accuracy = v.metrics.get(QUALITY_METRIC)
        shown = f"{accuracy:.4f}" if accuracy is not None else "-"
        lines.append(f"{mark} {v.number:>4}  {v.status:<21} {shown:>13}  {v.created:<19}  "
                     f"{v.model_data_url}")
        if v.description:
            lines.append(f"{'':8}{v.description}")
    lines.append("(* live on the endpoint)" if live else "(nothing deployed)")
    return "\n".join(lines)


def training_job_metrics(sagemaker, job_name: str | None) -> dict[str, float]:
    """Final metrics SageMaker recorded for a training job ({} when unknown)."""
    from botocore.exceptions import ClientError

    if not job_name:
        return {}
    try:
        job = sagemaker.describe_training_job(TrainingJobName=job_name)
    except ClientError:
        return {}
    return {m["MetricName"]: float(m["Value"]) for m in job.get("FinalMetricDataList", [])}


def register_trained(backend, target: str) -> ModelVersion:
    """Make the model `train` just recorded a version (idempotent per artifact URI).

    Approved unless it scores worse on the test split than the version live on the endpoint.
    """
    from dogops import state

    recorded = state.load(target)
    url = str(recorded["model_data_url"])
    outputs = backend.outputs()
    endpoint = str(outputs.get("endpoint_name") or "dog-breeds-endpoint")
    sm = backend.client("sagemaker")
    registry = Registry(sm, group_name(endpoint))
    version = registry.find(url)
    if version is None:
        metrics = recorded.get("metrics") or training_job_metrics(sm, recorded.get("job_name"))
        live = live_version(registry, sm, endpoint)
        approved, why = quality_verdict(metrics, live)
        inputs = recorded.get("inputs") or {}
        details = {"job": recorded.get("job_name"), "fingerprint": recorded.get("fingerprint"),
                   "data_digest": inputs.get("data"), "code_digest": inputs.get("code"),
                   "hyperparameters": recorded.get("hyperparameters"),
                   "trained_at": recorded.get("trained_at")}
        version = registry.register(url, str(outputs.get("inference_image_uri") or ""), metrics,
                                    details, approved, why)
        verdict = "approved" if approved else "registered, NOT approved"
        print(f"model version v{version.number} {verdict}: {why}")
        if not approved:
            print(f"`invoke deploy` keeps the approved version; ship this one anyway with "
                  f"`invoke deploy --model {version.number} --force`")
    state.save(target, {**state.load(target), "model_version": version.number})
    return version
