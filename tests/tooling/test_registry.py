"""Model versions on a model package group (moto in-process, with the emulator's patch)."""

from __future__ import annotations

import io
import tarfile

import boto3
import pytest
from moto import mock_aws

from dogops import registry
from dogops.errors import UserError
from dogops.local_aws.moto_patches import sagemaker_model_packages
from dogops.release import check_artifact

IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6.0-cpu-py312"


@pytest.fixture
def sm(fake_aws_credentials):
    sagemaker_model_packages.apply()
    with mock_aws():
        yield boto3.client("sagemaker", region_name="us-east-1")


def test_patch_defaults_pending_and_refuses_a_duplicate_group(sm):
    sm.create_model_package_group(ModelPackageGroupName="g")
    with pytest.raises(sm.exceptions.ClientError, match="already exists"):
        sm.create_model_package_group(ModelPackageGroupName="g")
    arn = sm.create_model_package(ModelPackageGroupName="g", InferenceSpecification={
        "Containers": [{"Image": IMAGE, "ModelDataUrl": "s3://b/m.tar.gz"}],
        "SupportedContentTypes": ["image/png"], "SupportedResponseMIMETypes": ["application/json"],
    })["ModelPackageArn"]
    assert sm.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"] == \
        "PendingManualApproval"


def test_versions_carry_metrics_fingerprint_and_approval(sm):
    reg = registry.Registry(sm, registry.group_name("dog-breeds-endpoint"))
    assert reg.group == "dog-breeds-models" and reg.versions() == []
    first = reg.register("s3://b/1/model.tar.gz", IMAGE, {"test_accuracy": 0.9},
                         {"fingerprint": "f" * 64, "hyperparameters": {"epochs": 3}}, True, "first")
    second = reg.register("s3://b/2/model.tar.gz", IMAGE, {"test_accuracy": 0.8}, {}, False,
                          "worse")
    assert (first.number, second.number) == (1, 2)
    assert first.approved and first.metrics == {"test_accuracy": 0.9}
    assert first.properties["fingerprint"] == "f" * 64
    assert first.properties["hyperparameters"] == '{"epochs":3}'
    assert second.status == registry.PENDING and not second.approved
    assert reg.find("s3://b/2/model.tar.gz").number == 2 and reg.find("s3://nope") is None
    reg.set_status(second, registry.REJECTED, "rolled back")
    assert reg.get(2).status == registry.REJECTED
    assert reg.previous_approved(reg.get(2)).number == 1
    with pytest.raises(UserError, match="no approved version older than live v1"):
        reg.previous_approved(first)
    with pytest.raises(UserError, match="model version 7 does not exist"):
        reg.get(7)
    table = registry.format_versions(reg.versions(), first)
    assert "*    1  Approved" in table and "     2  Rejected" in table


def test_quality_verdict_only_refuses_a_worse_model():
    live = registry.ModelVersion(3, "arn", registry.APPROVED, "s3://b/3.tar.gz",
                                 properties={"metrics": '{"test_accuracy":0.9}'})
    assert registry.quality_verdict({"test_accuracy": 0.95}, live)[0] is True
    assert registry.quality_verdict({"test_accuracy": 0.9}, live)[0] is True
    ok, why = registry.quality_verdict({"test_accuracy": 0.85}, live)
    assert ok is False and "worse than live v3" in why
    assert registry.quality_verdict({"test_accuracy": 0.1}, None)[0] is True
    assert registry.quality_verdict({}, live)[0] is True  # nothing to compare: not held back


def _archive(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_archive_is_checked_before_apply(s3_bucket):
    s3, bucket = s3_bucket
    good = {"code/inference.py": b"", "model_config.json": b"{}", "./model.pth": b"w"}
    s3.put_object(Bucket=bucket, Key="ok/model.tar.gz", Body=_archive(good))
    check_artifact(s3, f"s3://{bucket}/ok/model.tar.gz")
    with pytest.raises(UserError, match="does not exist"):
        check_artifact(s3, f"s3://{bucket}/missing/model.tar.gz")
    s3.put_object(Bucket=bucket, Key="bad/model.tar.gz", Body=b"\x1f\x8b not really gzip")
    with pytest.raises(UserError, match="not a readable .tar.gz"):
        check_artifact(s3, f"s3://{bucket}/bad/model.tar.gz")
    s3.put_object(Bucket=bucket, Key="cut/model.tar.gz", Body=_archive(good)[:40])
    with pytest.raises(UserError, match="not a readable .tar.gz"):
        check_artifact(s3, f"s3://{bucket}/cut/model.tar.gz")
    s3.put_object(Bucket=bucket, Key="nocode/model.tar.gz",
                  Body=_archive({"model.pth": b"w", "model_config.json": b"{}"}))
    with pytest.raises(UserError, match="lacks code/inference.py"):
        check_artifact(s3, f"s3://{bucket}/nocode/model.tar.gz")


def test_deploy_resolves_approved_versions_and_needs_force_for_others(sm, state_root, capsys):
    from dogops import state
    from dogops.backend import Backend
    from dogops.release import resolve_version

    reg = registry.Registry(sm, "dog-breeds-models")
    good = reg.register("s3://b/1/model.tar.gz", IMAGE, {"test_accuracy": 0.9}, {}, True, "ok")
    worse = reg.register("s3://b/2/model.tar.gz", IMAGE, {"test_accuracy": 0.8}, {}, False,
                         "test_accuracy 0.8000 is worse than live v1's 0.9000")
    backend = Backend("local")
    state.record_model("local", worse.model_data_url)  # what `train` recorded last
    assert resolve_version(backend, reg, None, False, IMAGE).number == good.number
    assert "v2 is PendingManualApproval" in capsys.readouterr().out
    with pytest.raises(UserError, match="v2 is PendingManualApproval .*add --force"):
        resolve_version(backend, reg, 2, False, IMAGE)
    assert resolve_version(backend, reg, 2, True, IMAGE).number == 2
    assert reg.get(2).approved and "approved by hand" in reg.get(2).description
    reg.set_status(reg.get(2), registry.REJECTED, "rolled back by SageMaker")
    with pytest.raises(UserError, match="v2 was rejected"):
        resolve_version(backend, reg, 2, False, IMAGE)
    state.record_model("local", "s3://b/ec2/model.tar.gz")  # e.g. ec2-train: not a version yet
    fresh = resolve_version(backend, reg, None, False, IMAGE)
    assert fresh.number == 3 and fresh.approved and fresh.model_data_url == "s3://b/ec2/model.tar.gz"


def image_wheels(abi: str = "cp312") -> list[str]:
    """One wheel name per locked project, tagged for the given CPython."""
    from dogops import serving_wheels

    return [f"{project}-1.0-{abi}-{abi}-manylinux_2_28_x86_64.whl"
            for project in sorted(serving_wheels.locked_hashes())]


def test_an_aws_deploy_needs_the_image_wheels_in_the_archive(s3_bucket):
    """Under network isolation the endpoint installs code/requirements.txt from code/wheels/
    only: an archive without them (or with wheels for another Python) must not be deployed."""
    s3, bucket = s3_bucket
    base = {"code/inference.py": b"", "model_config.json": b"{}", "model.pth": b"w"}
    complete = {**base, **{f"code/wheels/{name}": b"" for name in image_wheels()}}
    s3.put_object(Bucket=bucket, Key="sealed/model.tar.gz", Body=_archive(complete))
    check_artifact(s3, f"s3://{bucket}/sealed/model.tar.gz", needs_wheels=True)

    s3.put_object(Bucket=bucket, Key="bare/model.tar.gz", Body=_archive(base))
    check_artifact(s3, f"s3://{bucket}/bare/model.tar.gz")  # the emulator installs nothing
    with pytest.raises(UserError, match="no code/wheels/ wheel for CPython 3.12.*onnxruntime"):
        check_artifact(s3, f"s3://{bucket}/bare/model.tar.gz", needs_wheels=True)

    local_python = {**base, **{f"code/wheels/{name}": b"" for name in image_wheels("cp311")}}
    s3.put_object(Bucket=bucket, Key="py311/model.tar.gz", Body=_archive(local_python))
    with pytest.raises(UserError, match=r"CPython 3.12 .* of flatbuffers, numpy, onnxruntime"):
        check_artifact(s3, f"s3://{bucket}/py311/model.tar.gz", needs_wheels=True)
