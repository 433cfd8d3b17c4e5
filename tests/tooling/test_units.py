"""Pure pieces: script-mode arguments, model packing, Lambda answers, job settings."""

from __future__ import annotations

import io
import json
import sys
import tarfile

import pytest

from dogops import predict, sagemaker_jobs
from dogops.errors import UserError
from dogops.local_aws import training_job as local_training
from dogops.train import TrainRequest, sdk_hyperparameters


def test_hyperparameters_become_script_mode_arguments(tmp_path):
    args = local_training.hyperparameter_args({"epochs": 3, "arch": "resnet18",
                                               "export-onnx": False, "seed": None})
    assert args == ["--epochs", "3", "--arch", "resnet18", "--export-onnx", "false"]
    single = local_training.train_command({"epochs": 1}, 1, tmp_path / "ckpt")
    assert single[:2] == [sys.executable, str(local_training.config.TRAINING_DIR / "train.py")]
    assert single[-2:] == ["--checkpoint-dir", str(tmp_path / "ckpt")]
    multi = local_training.train_command({"epochs": 1}, 2, tmp_path / "ckpt")
    assert multi[1:3] == ["-m", "torch.distributed.run"] and "--nproc_per_node=2" in multi


def test_script_mode_environment(tmp_path):
    env = local_training.script_mode_env(tmp_path, tmp_path / "in", {"epochs": 2}, 2)
    assert env["SM_CHANNEL_TRAINING"] == str(tmp_path / "in")
    assert env["SM_MODEL_DIR"] == str(tmp_path / "model")
    assert json.loads(env["SM_HPS"]) == {"epochs": 2}
    assert json.loads(env["SM_HOSTS"]) == ["algo-1"] and env["SM_CURRENT_HOST"] == "algo-1"


def test_pack_model_puts_the_model_dir_at_the_archive_root(tmp_path):
    model = tmp_path / "model"
    (model / "code" / "__pycache__").mkdir(parents=True)
    (model / "model.pth").write_bytes(b"weights")
    (model / "model_config.json").write_text("{}")
    (model / "code" / "inference.py").write_text("x = 1\n")
    (model / "code" / "__pycache__" / "inference.cpython-311.pyc").write_bytes(b"junk")
    archive = local_training.pack_model(model, tmp_path / "model.tar.gz")
    with tarfile.open(archive) as tar:
        names = sorted(tar.getnames())
    assert names == ["code", "code/__pycache__", "code/inference.py", "model.pth",
                     "model_config.json"] or names == ["code", "code/inference.py",
                                                       "model.pth", "model_config.json"]
    assert not any(name.endswith(".pyc") for name in names)
    (model / "model.pth").unlink()
    with pytest.raises(UserError, match="no model.pth"):
        local_training.pack_model(model, tmp_path / "again.tar.gz")


def test_failed_training_script_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="local training failed \\(exit 3\\)"):
        local_training.run_script([sys.executable, "-c", ("print('epoch=1 valid_loss=0.5'); "
                                   "raise SystemExit(3)")], {}, tmp_path / "log")
    assert "valid_loss=0.5" in (tmp_path / "log").read_text()


def test_metric_lines_are_parsed_last_value_wins(tmp_path):
    script = ("print('epoch=1 train_loss=1.0 valid_loss=0.9 valid_accuracy=0.5');"
              "print('epoch=2 train_loss=0.5 valid_loss=0.4 valid_accuracy=0.8');"
              "print('test_loss=0.3 test_accuracy=0.9')")
    metrics = local_training.run_script([sys.executable, "-c", script], {}, tmp_path / "log")
    assert metrics == {"epoch": 2.0, "train_loss": 0.5, "valid_loss": 0.4,
                       "valid_accuracy": 0.8, "test_loss": 0.3, "test_accuracy": 0.9}


def test_tuner_regexes_read_the_training_script_lines():
    import re

    line = "epoch=3 train_loss=0.4123 valid_loss=0.3812 valid_accuracy=0.9120"
    found = {d["Name"]: re.search(d["Regex"], line) for d in sagemaker_jobs.METRIC_DEFINITIONS}
    assert found["valid_loss"].group(1) == "0.3812"
    assert found["train_loss"].group(1) == "0.4123"
    assert found["test_loss"] is None
    test_line = "test_loss=0.2501 test_accuracy=0.9350"
    assert re.search(sagemaker_jobs.METRIC_DEFINITIONS[3]["Regex"], test_line).group(1) == "0.2501"


@pytest.mark.parametrize(("settings", "message"), [
    (sagemaker_jobs.JobSettings(instances=0), "at least 1"),
    (sagemaker_jobs.JobSettings(instance_type="g5.xlarge"), "not a SageMaker type"),
    (sagemaker_jobs.JobSettings(instance_type="ml.m5.xlarge", instances=2), "GPU instances"),
    (sagemaker_jobs.JobSettings(spot=True, max_run_s=10, max_wait_s=5), "max wait"),
])
def test_job_settings_are_validated(settings, message):
    with pytest.raises(UserError, match=message):
        settings.validate()


def test_sdk_hyperparameters_are_decoded_for_the_script():
    raw = {"epochs": "3", "arch": '"resnet18"', "learning-rate": "0.0123",
           "sagemaker_program": '"train.py"', "_tuning_objective_metric": "valid_loss"}
    assert sdk_hyperparameters(raw) == {"epochs": 3, "arch": "resnet18", "learning-rate": 0.0123}


def test_train_request_defaults_and_fingerprint_settings():
    local = TrainRequest(target="local", hyperparameters={"epochs": 5, "arch": None})
    assert local.resolved_hyperparameters()["epochs"] == 5
    assert local.resolved_hyperparameters()["arch"] == "resnet18"
    aws = TrainRequest(target="aws", instance_type="ml.p3.2xlarge")
    assert aws.resolved_hyperparameters()["arch"] == "resnet50"
    assert aws.fingerprint_settings()["instance_type"] == "ml.p3.2xlarge"
    assert TrainRequest(target="aws", spot=True).fingerprint_settings() == \
        TrainRequest(target="aws").fingerprint_settings()  # spot changes cost, not the model


def lambda_answer(status: int, body: dict) -> bytes:
    return json.dumps({"statusCode": status, "headers": {}, "body": json.dumps(body)}).encode()


def test_lambda_answers_are_parsed():
    ok = lambda_answer(200, {"predictions": [{"label": "Carolina dog", "probability": 0.93}]})
    assert predict.parse_response(ok, None) == [predict.Prediction("Carolina dog", 0.93)]
    with pytest.raises(UserError, match=r"prediction failed \(415\): unsupported"):
        predict.parse_response(lambda_answer(415, {"error": "unsupported media type"}), None)
    with pytest.raises(UserError, match="Lambda failed \\(Unhandled\\): boom"):
        predict.parse_response(json.dumps({"errorMessage": "boom"}).encode(), "Unhandled")
    with pytest.raises(UserError, match="not JSON"):
        predict.parse_response(b"<html>", None)
    table = predict.format_predictions([predict.Prediction("seven", 0.9),
                                        predict.Prediction("one", 0.05)])
    assert table.splitlines() == ["seven   90.0%", "one      5.0%"]


def test_oversized_image_is_refused(tmp_path):
    big = tmp_path / "big.jpg"
    big.write_bytes(b"\xff\xd8\xff" + b"0" * predict.MAX_IMAGE_BYTES)
    with pytest.raises(UserError, match="the limit is"):
        predict.build_payload(str(big), None, None)
    with pytest.raises(UserError, match="between 1 and 20"):
        predict.build_payload(None, "https://example.com/dog.jpg", 50)


def test_training_code_archive_has_training_at_its_root(tmp_path):
    from dogops.ec2 import training_code_archive

    root = tmp_path / "training"
    (root / "classifier" / "__pycache__").mkdir(parents=True)
    (root / "train.py").write_text("print('train')\n")
    (root / "classifier" / "model.py").write_text("x = 1\n")
    (root / "classifier" / "__pycache__" / "model.cpython-311.pyc").write_bytes(b"junk")
    with tarfile.open(fileobj=io.BytesIO(training_code_archive(root))) as tar:
        assert sorted(tar.getnames()) == ["training/classifier/model.py", "training/train.py"]


def test_emulator_var_files_come_before_the_recorded_model(state_root):
    from dogops import config
    from dogops.backend import Backend

    local = Backend("local", endpoint_url="http://127.0.0.1:1").var_files()
    assert local == [config.TERRAFORM_DIR / "emulator" / "emulator.tfvars.json",
                     config.paths("local").tfvars_file]
    assert Backend("aws").var_files() == [config.paths("aws").tfvars_file]
