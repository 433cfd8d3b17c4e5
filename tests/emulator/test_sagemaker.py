"""SageMaker control plane on the emulator: instance types, describe shapes, training, tuning."""

from __future__ import annotations

import io
import json
import uuid

import pytest
import requests
from botocore.exceptions import ClientError

from dogops.local_aws import emulator

ROLE = "arn:aws:iam::123456789012:role/sagemaker"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6.0-gpu-py312"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_endpoint(sm, instance_type: str = "ml.g5.xlarge") -> str:
    model, config, endpoint = unique("model"), unique("config"), unique("endpoint")
    sm.create_model(
        ModelName=model,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://bucket/model.tar.gz"},
    )
    sm.create_endpoint_config(
        EndpointConfigName=config,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": model,
                "InitialInstanceCount": 1,
                "InstanceType": instance_type,
            }
        ],
    )
    sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=config)
    return endpoint


def test_update_endpoint_rolls_onto_a_new_config(aws):
    sm = aws("sagemaker")
    endpoint = make_endpoint(sm)
    sm.create_endpoint_config(
        EndpointConfigName=(new_config := unique("config")),
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": sm.describe_endpoint_config(
                    EndpointConfigName=sm.describe_endpoint(EndpointName=endpoint)[
                        "EndpointConfigName"
                    ]
                )["ProductionVariants"][0]["ModelName"],
                "InitialInstanceCount": 2,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sm.update_endpoint(EndpointName=endpoint, EndpointConfigName=new_config)
    described = sm.describe_endpoint(EndpointName=endpoint)
    assert described["EndpointConfigName"] == new_config
    assert described["EndpointStatus"] == "InService"
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 2

    with pytest.raises(sm.exceptions.ClientError, match="Could not find endpoint configuration"):
        sm.update_endpoint(EndpointName=endpoint, EndpointConfigName="no-such-config")
    with pytest.raises(sm.exceptions.ClientError, match="Could not find endpoint"):
        sm.update_endpoint(EndpointName="no-such-endpoint", EndpointConfigName=new_config)


def test_g5_endpoint_config_is_accepted_and_bogus_type_rejected(aws):
    sm = aws("sagemaker")
    endpoint = make_endpoint(sm, "ml.g5.2xlarge")
    config = sm.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    variant = sm.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"][0]
    assert variant["InstanceType"] == "ml.g5.2xlarge"
    with pytest.raises(ClientError) as err:
        sm.create_endpoint_config(
            EndpointConfigName=unique("bad"),
            ProductionVariants=[
                {
                    "VariantName": "v",
                    "ModelName": "m",
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.nonsense.large",
                }
            ],
        )
    assert "ml.nonsense.large" in err.value.response["Error"]["Message"]


def test_describes_omit_empty_vpc_and_data_capture_config(aws):
    sm = aws("sagemaker")
    endpoint = make_endpoint(sm)
    described = sm.describe_endpoint(EndpointName=endpoint)
    config = sm.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
    model = sm.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    assert "DataCaptureConfig" not in described
    assert "DataCaptureConfig" not in config
    assert "VpcConfig" not in model
    assert model["PrimaryContainer"]["Image"] == IMAGE


@pytest.mark.parametrize("isolated", [True, False])
def test_model_keeps_its_network_isolation(aws, isolated):
    """DescribeModel must echo EnableNetworkIsolation, or Terraform replaces the model on every
    plan (the attribute is ForceNew)."""
    sm = aws("sagemaker")
    name = unique("model")
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, EnableNetworkIsolation=isolated,
                    PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://bucket/model.tar.gz"})
    assert sm.describe_model(ModelName=name)["EnableNetworkIsolation"] is isolated


def training_job_request(name: str, bucket: str) -> dict:
    return {
        "TrainingJobName": name,
        "HyperParameters": {"epochs": "1"},
        "AlgorithmSpecification": {
            "TrainingImage": IMAGE,
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "valid_loss", "Regex": r"valid_loss=(\S+)"}],
        },
        "RoleArn": ROLE,
        "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/training-jobs"},
        "ResourceConfig": {
            "InstanceType": "ml.g5.xlarge",
            "InstanceCount": 1,
            "VolumeSizeInGB": 30,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }


def report(port: int, body: dict) -> requests.Response:
    url = f"{emulator.endpoint_url(port)}/moto-api/dogops/sagemaker/training-job-result"
    return requests.post(url, json=body, timeout=10)


def test_training_job_describes_honestly(aws, emulator_port):
    sm, s3 = aws("sagemaker"), aws("s3")
    bucket = unique("bucket")
    s3.create_bucket(Bucket=bucket)
    name = unique("job")
    sm.create_training_job(**training_job_request(name, bucket))
    job = sm.describe_training_job(TrainingJobName=name)
    assert job["OutputDataConfig"]["KmsKeyId"] == ""
    assert job["AlgorithmSpecification"]["MetricDefinitions"][0]["Name"] == "valid_loss"
    assert "FinalMetricDataList" not in job  # nothing was measured

    artifact = job["ModelArtifacts"]["S3ModelArtifacts"]
    metrics = {
        "TrainingJobName": name,
        "FinalMetricDataList": [{"MetricName": "valid_loss", "Value": 0.25}],
    }
    refused = report(emulator_port, metrics)
    assert refused.status_code == 409 and "does not exist" in refused.json()["error"]

    key = artifact.removeprefix(f"s3://{bucket}/")
    s3.upload_fileobj(io.BytesIO(b"real bytes"), bucket, key)
    assert report(emulator_port, metrics).status_code == 200
    job = sm.describe_training_job(TrainingJobName=name)
    assert job["FinalMetricDataList"][0]["Value"] == 0.25

    assert report(emulator_port, {"TrainingJobName": "nope"}).status_code == 404
    bad = report(emulator_port, {"TrainingJobName": name, "FinalMetricDataList": [{"x": 1}]})
    assert bad.status_code == 400


def create_tuning_job(sm, bucket: str, max_jobs: int = 3) -> str:
    name = unique("hpo")
    job = training_job_request("unused", bucket)
    sm.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name,
        HyperParameterTuningJobConfig={
            "Strategy": "Random",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "valid_loss"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": max_jobs, "MaxParallelTrainingJobs": 1},
            "ParameterRanges": {
                "ContinuousParameterRanges": [
                    {
                        "Name": "learning-rate",
                        "MinValue": "0.001",
                        "MaxValue": "0.1",
                        "ScalingType": "Logarithmic",
                    }
                ],
                "IntegerParameterRanges": [
                    {
                        "Name": "batch-size",
                        "MinValue": "32",
                        "MaxValue": "512",
                        "ScalingType": "Logarithmic",
                    }
                ],
            },
        },
        TrainingJobDefinition={
            "StaticHyperParameters": {"epochs": "1"},
            "AlgorithmSpecification": job["AlgorithmSpecification"],
            "RoleArn": ROLE,
            "OutputDataConfig": job["OutputDataConfig"],
            "ResourceConfig": job["ResourceConfig"],
            "StoppingCondition": job["StoppingCondition"],
        },
    )
    return name


def test_tuning_job_children_and_best_job_from_reported_metrics(aws, emulator_port):
    sm, s3 = aws("sagemaker"), aws("s3")
    bucket = unique("bucket")
    s3.create_bucket(Bucket=bucket)
    tuning = create_tuning_job(sm, bucket)

    summaries = sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=tuning
    )["TrainingJobSummaries"]
    assert len(summaries) == 3
    for summary in summaries:
        tuned = summary["TunedHyperParameters"]
        assert 0.001 <= float(tuned["learning-rate"]) <= 0.1
        assert 32 <= int(tuned["batch-size"]) <= 512
        assert summary["ObjectiveStatus"] == "Pending"
        child = sm.describe_training_job(TrainingJobName=summary["TrainingJobName"])
        assert child["TuningJobArn"].endswith(f"hyper-parameter-tuning-job/{tuning}")
        assert child["HyperParameters"]["epochs"] == "1"
    described = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning)
    assert "BestTrainingJob" not in described  # no objective reported: no invented winner

    for summary, loss in zip(summaries, (0.9, 0.2, 0.5), strict=True):
        child = sm.describe_training_job(TrainingJobName=summary["TrainingJobName"])
        key = child["ModelArtifacts"]["S3ModelArtifacts"].removeprefix(f"s3://{bucket}/")
        s3.upload_fileobj(io.BytesIO(b"model"), bucket, key)
        reply = report(
            emulator_port,
            {
                "TrainingJobName": summary["TrainingJobName"],
                "FinalMetricDataList": [{"MetricName": "valid_loss", "Value": loss}],
            },
        )
        assert reply.status_code == 200, reply.text

    described = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning)
    best = described["BestTrainingJob"]
    assert best["TrainingJobName"] == summaries[1]["TrainingJobName"]
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == 0.2
    assert described["ObjectiveStatusCounters"]["Succeeded"] == 3
    sm.describe_training_job(TrainingJobName=best["TrainingJobName"])  # describable

    ordered = sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=tuning,
        SortBy="FinalObjectiveMetricValue",
        SortOrder="Ascending",
    )["TrainingJobSummaries"]
    values = [s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for s in ordered]
    assert values == [0.2, 0.5, 0.9]


def test_list_for_unknown_tuning_job_is_an_error(aws):
    with pytest.raises(ClientError) as err:
        aws("sagemaker").list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName="missing"
        )
    assert err.value.response["Error"]["Code"] == "ResourceNotFound"


def test_appautoscaling_tags(aws):
    sm, aas = aws("sagemaker"), aws("application-autoscaling")
    endpoint = make_endpoint(sm)
    resource_id = f"endpoint/{endpoint}/variant/AllTraffic"
    arn = aas.register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=resource_id,
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=1,
        MaxCapacity=3,
        Tags={"project": "dog-breeds"},
    )["ScalableTargetARN"]
    assert aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"project": "dog-breeds"}
    aas.tag_resource(ResourceARN=arn, Tags={"team": "ml"})
    aas.untag_resource(ResourceARN=arn, TagKeys=["project"])
    assert aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"team": "ml"}
    with pytest.raises(ClientError) as err:
        aas.list_tags_for_resource(ResourceARN=arn + "x")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert json.dumps(aas.describe_scalable_targets(ServiceNamespace="sagemaker"), default=str)


def test_sdk_v2_attach_reads_the_job(aws, emulator_port):
    """SageMaker SDK v2 `attach()` indexes OutputDataConfig.KmsKeyId: it must work here."""
    import boto3
    import sagemaker
    from sagemaker.estimator import Estimator

    bucket = unique("bucket")
    aws("s3").create_bucket(Bucket=bucket)
    name = unique("job")
    aws("sagemaker").create_training_job(**training_job_request(name, bucket))
    boto_session = boto3.Session(region_name="us-east-1")
    session = sagemaker.Session(boto_session=boto_session, default_bucket=bucket)
    attached = Estimator.attach(name, sagemaker_session=session)
    assert attached.latest_training_job.name == name
    assert attached.output_path == f"s3://{bucket}/training-jobs"
    assert attached.model_data.endswith(f"/{name}/output/model.tar.gz")


def test_deployment_config_is_kept_and_reported(aws):
    sm = aws("sagemaker")
    endpoint = make_endpoint(sm)
    config = sm.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    assert "LastDeploymentConfig" not in sm.describe_endpoint(EndpointName=endpoint)
    guardrails = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY", "WaitIntervalInSeconds": 60,
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10}},
            "TerminationWaitInSeconds": 120, "MaximumExecutionTimeoutInSeconds": 1800},
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "errors"}]},
    }
    # nobody serves this endpoint locally: the update is immediate, the config is remembered
    sm.update_endpoint(EndpointName=endpoint, EndpointConfigName=config,
                       DeploymentConfig=guardrails)
    described = sm.describe_endpoint(EndpointName=endpoint)
    assert described["EndpointStatus"] == "InService"
    assert described["LastDeploymentConfig"] == guardrails
    assert "FailureReason" not in described

