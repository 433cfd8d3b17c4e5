"""The whole loop on the emulator: train -> deploy -> plan is empty -> predict -> destroy.

Tests run in file order on one module-scoped stack (see conftest.py); each step builds on the
previous one, as `invoke train deploy predict destroy` would.
"""

from __future__ import annotations

import io
import json
import sys
import tarfile
from pathlib import Path

import pytest

from dogops import config, state
from dogops.errors import UserError

pytestmark = pytest.mark.integration
TINY = {"epochs": 1}


@pytest.fixture(scope="module")
def backend(workspace):
    from dogops.backend import for_target

    return for_target("local")


def require_object_writes(backend) -> None:
    """Fail with the cause, not a bare 403, when the emulator denies writes to the stack's bucket
    (moto applies a bucket policy's Deny without evaluating its aws:SecureTransport condition;
    the fix belongs in dogops/local_aws/moto_patches)."""
    from botocore.exceptions import ClientError

    bucket = str(backend.ensure_stack()["bucket_name"])
    s3 = backend.client("s3")
    try:
        s3.put_object(Bucket=bucket, Key="probe/write-check", Body=b"ok")
    except ClientError as err:
        pytest.fail(f"the emulator refuses PutObject on the Terraform-made bucket ({err}); "
                    "moto evaluates the TLS-only bucket policy's Deny without its condition")
    s3.delete_object(Bucket=bucket, Key="probe/write-check")


@pytest.fixture(scope="module")
def trained(backend, digits):
    from dogops.train import TrainRequest, train

    require_object_writes(backend)
    url = train(TrainRequest(target="local", hyperparameters=TINY, sample_data=digits), backend)
    return url


def served_answer(backend, model_data_url: str, image: Path, tmp_path: Path) -> dict:
    """What the trained model itself says about `image`, through training/inference.py."""
    bucket, _, key = model_data_url.removeprefix("s3://").partition("/")
    body = backend.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    model_dir = tmp_path / "model"
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        tar.extractall(model_dir, filter="data")
    sys.path.insert(0, str(model_dir / "code"))
    try:
        import inference

        model = inference.model_fn(str(model_dir))
        request = inference.input_fn(image.read_bytes(), "image/png")
        answer = inference.output_fn(inference.predict_fn(request, model), "application/json")
    finally:
        sys.path.remove(str(model_dir / "code"))
        sys.modules.pop("inference", None)
    return json.loads(answer)


def test_train_records_a_real_artifact_and_a_second_run_reuses_it(backend, trained, capsys):
    from dogops.train import TrainRequest, train

    bucket, _, key = trained.removeprefix("s3://").partition("/")
    assert key.startswith("training-jobs/dog-breeds-local-") and key.endswith(
        "/output/model.tar.gz")
    body = backend.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        names = set(tar.getnames())
    assert {"model.pth", "model_config.json", "code/inference.py"} <= names
    assert state.read_tfvars("local") == {"model_data_url": trained}

    job_name = key.split("/")[1]
    job = backend.client("sagemaker").describe_training_job(TrainingJobName=job_name)
    assert job["TrainingJobStatus"] == "Completed"
    assert job["ModelArtifacts"]["S3ModelArtifacts"] == trained
    reported = {m["MetricName"] for m in job["FinalMetricDataList"]}
    assert {"valid_loss", "test_accuracy"} <= reported

    jobs_before = backend.client("sagemaker").list_training_jobs()["TrainingJobSummaries"]
    again = train(TrainRequest(target="local", hyperparameters=TINY), backend)
    assert again == trained
    assert "model up to date" in capsys.readouterr().out
    jobs_after = backend.client("sagemaker").list_training_jobs()["TrainingJobSummaries"]
    assert len(jobs_after) == len(jobs_before)


def test_report_fetches_the_recorded_jobs_evaluation(backend, trained, monkeypatch, tmp_path):
    from dogops import report

    monkeypatch.setattr(report, "reports_dir", lambda target: tmp_path / target)
    fetched = report.fetch_report(backend)
    assert fetched.job_name == state.load("local")["job_name"]
    assert "# Evaluation report" in fetched.summary.read_text()
    for name in report.REPORT_FILES:
        assert (fetched.directory / name).is_file(), name
    assert str(fetched.summary) in report.describe(fetched)
    with pytest.raises(UserError, match="not found"):
        report.fetch_report(backend, "no-such-job")


def test_deploy_then_plan_is_empty_and_predict_gives_the_models_answer(
        backend, trained, digits, tmp_path):
    from dogops.deploy import deploy, plan
    from dogops.predict import predict
    from dogops.sample_data import sample_image

    outputs = deploy(backend)
    assert outputs["endpoint_name"] == "dog-breeds-endpoint"
    assert outputs["endpoint_deployed"] is True
    review = tmp_path / "plan-review.md"
    assert plan(backend, review_file=review) is False, "a second plan must be empty"
    text = review.read_text()  # the review of the emulator's real plan: nothing to change,
    assert "| 0 | 0 | 0 | 0 |" in text  # but the running endpoint and Lambda still bill
    assert "endpoint ml.m5.large x 1-3 instances" in text and "| unchanged |" in text
    assert "price snapshot of" in text and "per month" in text
    from dogops.local_aws import endpoint_host as local_endpoint

    host = local_endpoint.host_info("dog-breeds-endpoint", config.paths("local").state_dir)
    assert deploy(backend)["endpoint_name"] == "dog-breeds-endpoint"  # deploy twice: no change
    assert local_endpoint.host_info("dog-breeds-endpoint",
                                    config.paths("local").state_dir).pid == host.pid

    image, _ = sample_image(digits)
    predictions = predict(backend, image=str(image), top_k=3)
    expected = served_answer(backend, trained, image, tmp_path)["predictions"]
    assert len(predictions) == 3
    assert predictions[0].label == expected[0]["label"]
    assert predictions[0].probability == pytest.approx(expected[0]["probability"], abs=1e-4)
    assert predictions[0].label in {"zero", "one", "two", "three", "four", "five", "six",
                                    "seven", "eight", "nine"}


def test_predict_bad_image_is_a_clear_error(backend, tmp_path):
    from dogops.predict import predict

    not_an_image = tmp_path / "notes.png"
    not_an_image.write_text("this is text, not a PNG")
    with pytest.raises(UserError, match=r"prediction failed \((400|415)\)"):
        predict(backend, image=str(not_an_image))


def test_sdk_estimator_request_carries_multi_instance_and_spot(backend, trained):
    from dogops import sagemaker_jobs

    bucket = str(backend.outputs()["bucket_name"])
    role = str(backend.outputs()["training_role_arn"])
    settings = sagemaker_jobs.JobSettings(instance_type="ml.g5.xlarge", instances=2, spot=True)
    with backend.sdk_environment():
        session = sagemaker_jobs.make_session(bucket, backend.session())
        run_name = sagemaker_jobs.new_job_name("dog-breeds")
        estimator = sagemaker_jobs.build_estimator(session, role, bucket, {"epochs": 5},
                                                   settings, run_name)
        job_name, model_uri = sagemaker_jobs.fit(estimator, bucket, run_name, logs=False)
        # A retrain (here: another learning rate) gets a checkpoint location of its own.
        retrain_name = sagemaker_jobs.new_job_name("dog-breeds")
        retrain = sagemaker_jobs.build_estimator(
            session, role, bucket, {"epochs": 5, "learning-rate": 0.01}, settings, retrain_name)
        retrain_job, _ = sagemaker_jobs.fit(retrain, bucket, retrain_name, logs=False)
    job = backend.client("sagemaker").describe_training_job(TrainingJobName=job_name)
    assert job["ResourceConfig"]["InstanceCount"] == 2
    assert job["HyperParameters"]["sagemaker_torch_distributed_enabled"] == "true"
    assert job["HyperParameters"]["epochs"] == "5"
    assert job["EnableManagedSpotTraining"] is True
    assert job_name == run_name
    assert job["CheckpointConfig"]["S3Uri"] == f"s3://{bucket}/checkpoints/{job_name}"
    other = backend.client("sagemaker").describe_training_job(TrainingJobName=retrain_job)
    assert other["CheckpointConfig"]["S3Uri"] == f"s3://{bucket}/checkpoints/{retrain_job}"
    assert retrain_job != job_name
    assert job["StoppingCondition"]["MaxWaitTimeInSeconds"] >= job["StoppingCondition"][
        "MaxRuntimeInSeconds"]
    assert job["AlgorithmSpecification"]["TrainingImage"].endswith("pytorch-training:2.8.0-gpu-py312")
    assert {d["Name"] for d in job["AlgorithmSpecification"]["MetricDefinitions"]} >= {
        "valid_loss", "test_accuracy"}
    assert job["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == \
        f"s3://{bucket}/data/"
    assert model_uri == f"s3://{bucket}/training-jobs/{job_name}/output/model.tar.gz"
    state.record_model("aws", model_uri, job_name=job_name)
    assert json.loads(config.paths("aws").tfvars_file.read_text()) == {
        "model_data_url": model_uri}
    assert config.paths("aws").tfvars_file.parent == config.TERRAFORM_DIR


def test_tuning_job_best_child_artifact_goes_to_tfvars(backend, trained):
    from dogops.train import TrainRequest, tune_locally

    outputs = backend.outputs()
    request = TrainRequest(target="local", tune=True, max_jobs=2, max_parallel_jobs=1)
    hyperparameters = {**request.resolved_hyperparameters(), **TINY}
    best, url, details = tune_locally(request, backend, outputs, hyperparameters)
    client = backend.client("sagemaker")
    children = client.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=details["tuning_job"])["TrainingJobSummaries"]
    assert len(children) == 2
    losses = {c["TrainingJobName"]: c["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
              for c in children}
    assert best == min(losses, key=losses.get)
    assert {c["FinalHyperParameterTuningJobObjectiveMetric"]["MetricName"] for c in children} == {
        "best_valid_loss"}
    # What gets recorded is the winner's real settings and scores, not the defaults.
    winner = next(c for c in children if c["TrainingJobName"] == best)
    assert details["hyperparameters"]["learning-rate"] == pytest.approx(
        float(winner["TunedHyperParameters"]["learning-rate"]))
    assert details["hyperparameters"]["batch-size"] == int(
        winner["TunedHyperParameters"]["batch-size"])
    assert details["metrics"]["best_valid_loss"] == pytest.approx(losses[best])
    assert "test_accuracy" in details["metrics"]
    for child in children:  # sampled inside the requested ranges
        tuned = child["TunedHyperParameters"]
        assert 0.001 <= float(tuned["learning-rate"]) <= 0.1
        assert 32 <= int(tuned["batch-size"]) <= 512
    from dogops.train import artifact_exists

    assert artifact_exists(backend.client("s3"), url)
    assert url == client.describe_training_job(TrainingJobName=best)["ModelArtifacts"][
        "S3ModelArtifacts"]


def test_ec2_user_data_runs_here_and_uploads_a_real_artifact(backend):
    from dogops.ec2 import ec2_train

    url = ec2_train(backend, timeout_s=120, train_args="--epochs 1")
    bucket, _, key = url.removeprefix("s3://").partition("/")
    assert key.startswith("models/ec2/ec2-") and key.endswith("/model.tar.gz")
    body = backend.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert "./model.pth" in tar.getnames() or "model.pth" in tar.getnames()
    log_key = key.replace("model.tar.gz", "training.log")
    log = backend.client("s3").get_object(Bucket=bucket, Key=log_key)["Body"].read().decode()
    assert "test_accuracy=" in log
    assert not backend.outputs().get("training_host_instance_id"), "host must be off again"
    assert state.read_tfvars("local")["model_data_url"] == url


def test_destroy_leaves_nothing(backend):
    from dogops.backend import emulator_port
    from dogops.deploy import destroy
    from dogops.local_aws import emulator

    destroy(backend)
    assert not config.paths("local").state_file.exists()
    assert not config.paths("local").tfvars_file.exists()
    assert emulator.health(emulator_port()) is None, "the emulator must be stopped"
    assert not list(config.paths("local").state_dir.glob("endpoint-*.pid"))
