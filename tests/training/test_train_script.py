"""End-to-end runs of training/train.py on real digits: accuracy, DDP, artifacts, kill/resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
import train
from conftest import METRIC_LINE, REPO, TEST_LINE, TINY_HPARAMS, TRAIN_PY, run_train, train_env
from PIL import Image

pytestmark = pytest.mark.slow


def test_cpu_run_reaches_90_percent_and_reports_tuner_metrics(trained, digits_dir):
    epochs = [int(m.group(1)) for m in METRIC_LINE.finditer(trained.stdout)]
    assert epochs == [1, 2, 3]
    test_line = TEST_LINE.search(trained.stdout)
    assert test_line, trained.stdout
    # Measured (bench.ddp_accuracy, seeds 0-2, warm-up + cosine schedule): 0.974-0.989 with
    # AVX-512 kernels and with AVX2 ones. 0.90 leaves margin on both.
    assert float(test_line.group(2)) >= 0.90
    assert trained.metrics["test"]["accuracy"] == pytest.approx(float(test_line.group(2)), abs=1e-4)
    # Sample-weighted over the whole split: every test image counted exactly once.
    confusion = trained.metrics["test"]["confusion_matrix"]
    n_test = len(list((digits_dir / "test").glob("*/*.png")))
    assert sum(map(sum, confusion)) == trained.metrics["test"]["samples"] == n_test


def test_model_dir_is_a_servable_sagemaker_artifact(trained):
    model_dir = trained.model_dir
    config = json.loads((model_dir / "model_config.json").read_text())
    assert config["arch"] == "resnet18" and config["num_classes"] == 10
    assert config["class_names"][0] == "001.zero" and config["labels"][9] == "nine"
    assert config["image_size"] == 16 and len(config["mean"]) == len(config["std"]) == 3
    state = torch.load(model_dir / "model.pth", weights_only=True)
    assert state["fc.weight"].shape == (10, 512)
    for relative in ("code/inference.py", "code/requirements.txt", "code/classifier/model.py"):
        assert (model_dir / relative).is_file(), relative
    assert not list((model_dir / "code").rglob("__pycache__"))
    assert config["onnx"] is True and (model_dir / "model.onnx").is_file()
    int8 = config["int8"]  # kept by accuracy (within 0.5 point) and top-1 agreement (>= 99 %)
    assert int8["check_images"] == trained.metrics["test"]["samples"]
    kept = (
        abs(int8["int8_accuracy"] - int8["fp32_accuracy"]) <= 0.005 + 1e-9
        and int8["top1_agreement"] >= 0.99
    )
    assert (int8["file"] is not None) == kept
    # float32 ONNX accuracy = the test evaluation's, up to a near-tie
    assert int8["fp32_accuracy"] == pytest.approx(
        trained.metrics["test"]["accuracy"], abs=1.5 / int8["check_images"]
    )
    assert (model_dir / "model.int8.onnx").is_file() == (int8["file"] is not None)
    requirements = (model_dir / "code/requirements.txt").read_text()
    packages = [line.split("==")[0] for line in requirements.splitlines() if line[:1].isalpha()]
    assert packages == ["onnxruntime"]  # the serving container brings torch and torchvision


def test_output_dir_has_metrics_and_the_evaluation_report(trained):
    history = trained.metrics["history"]
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert trained.metrics["best_epoch"] in (1, 2, 3)
    best = min(history, key=lambda row: row["valid_loss"])
    assert trained.metrics["best_valid_loss"] == pytest.approx(best["valid_loss"])
    assert trained.metrics["best_valid_accuracy"] == pytest.approx(best["valid_accuracy"])
    assert trained.metrics["batch"] == {
        "global": 32, "per_process": 32, "steps_per_epoch": trained.metrics["batch"][
            "steps_per_epoch"], "sync_batchnorm": False}
    per_class = trained.metrics["test"]["per_class"]
    assert [row["class"] for row in per_class][:2] == ["zero", "one"]
    assert sum(row["support"] for row in per_class) == trained.metrics["test"]["samples"]
    for name in ("training_curve.png", "confusion_matrix.png", "per_class_accuracy.png"):
        with Image.open(trained.output_dir / name) as image:
            assert image.format == "PNG" and min(image.size) > 100
    summary = (trained.output_dir / "report.md").read_text()
    assert f"Saved model: epoch {trained.metrics['best_epoch']} of 3" in summary


def test_the_tuner_objective_is_the_saved_models_validation_loss(trained, digits_dir):
    """SageMaker keeps a metric's last printed value; that value must score the saved weights."""
    import re

    from classifier import data, engine
    from classifier.distributed import DistContext
    from classifier.model import build_model

    from dogops.sagemaker_jobs import METRIC_DEFINITIONS, OBJECTIVE_METRIC

    regex = next(d["Regex"] for d in METRIC_DEFINITIONS if d["Name"] == OBJECTIVE_METRIC)
    objective = float(re.findall(regex, trained.stdout)[-1])
    model = build_model("resnet18", 10)
    model.load_state_dict(torch.load(trained.model_dir / "model.pth", weights_only=True))
    splits = data.load_splits(data.resolve_split_dirs(str(digits_dir)), 16, "none")
    loader = data.build_loader(splits.datasets["valid"], batch_size=64, train=False,
                               num_workers=0)
    saved = engine.evaluate(model, loader, DistContext(), 10)
    assert objective == pytest.approx(saved.loss, abs=1e-3)
    assert objective == pytest.approx(trained.metrics["best_valid_loss"], abs=1e-4)


def test_torchrun_two_processes_reaches_90_percent(digits_dir, tmp_path):
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    result = run_train(
        [
            "--data-dir",
            str(digits_dir),
            "--model-dir",
            str(tmp_path / "model"),
            "--output-dir",
            str(tmp_path / "output"),
            "--epochs",
            "3",
            "--export-onnx",
            "false",
            *TINY_HPARAMS,  # --batch-size 32 is the global batch: 16 per process
        ],
        launcher=launcher,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "batch: global 32 (2 processes x 16)" in result.stderr
    assert "SyncBatchNorm needs CUDA" in result.stderr  # gloo: said, not silently different
    # Rank 0 alone prints metric lines: one per epoch, not one per process.
    assert [int(m.group(1)) for m in METRIC_LINE.finditer(result.stdout)] == [1, 2, 3]
    assert len(TEST_LINE.findall(result.stdout)) == 1
    metrics = json.loads((tmp_path / "output" / "metrics.json").read_text())
    assert metrics["world_size"] == 2
    assert metrics["batch"]["global"] == 32 and metrics["batch"]["per_process"] == 16
    n_test = len(list((digits_dir / "test").glob("*/*.png")))
    assert metrics["test"]["samples"] == n_test  # sharded evaluation counts each image once
    # One seed, so a floor that holds on every CPU: measured 0.974-0.989 over seeds 0-2 with
    # AVX-512 and with AVX2 kernels (before the learning-rate schedule: 0.83 for seed 0 on AVX2).
    # Whether 2 processes match 1 is measured over seeds in bench.ddp_accuracy.
    assert metrics["test"]["accuracy"] >= 0.90


def test_killed_run_resumes_at_the_next_epoch(small_digits_dir, tmp_path):
    checkpoints = tmp_path / "checkpoints"
    args = [
        "--data-dir",
        str(small_digits_dir),
        "--model-dir",
        str(tmp_path / "model"),
        "--output-dir",
        str(tmp_path / "output"),
        "--checkpoint-dir",
        str(checkpoints),
        "--epochs",
        "4",
        "--export-onnx",
        "false",
        *TINY_HPARAMS,
    ]
    process = subprocess.Popen(
        [sys.executable, str(TRAIN_PY), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=train_env(),
        cwd=REPO,
    )
    deadline = time.monotonic() + 300
    while not list(checkpoints.glob("checkpoint-*.pt")):
        assert process.poll() is None, process.stdout.read()
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)  # a spot reclaim: no chance to clean up
    process.wait(timeout=30)
    first_output = process.stdout.read()
    assert process.returncode == -signal.SIGKILL
    [checkpoint] = checkpoints.glob("checkpoint-*.pt")
    saved_epoch = torch.load(checkpoint, weights_only=True)["epoch"]
    assert 1 <= saved_epoch < 4, first_output
    assert not (tmp_path / "model" / "model.pth").exists()

    result = run_train(args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"resuming from checkpoint of epoch {saved_epoch}; next epoch {saved_epoch + 1}" in (
        result.stderr
    )
    resumed_epochs = [int(m.group(1)) for m in METRIC_LINE.finditer(result.stdout)]
    assert resumed_epochs == list(range(saved_epoch + 1, 5))
    metrics = json.loads((tmp_path / "output" / "metrics.json").read_text())
    assert [row["epoch"] for row in metrics["history"]] == [1, 2, 3, 4]  # earlier epochs kept
    assert metrics["resumed_from_epoch"] == saved_epoch


def test_a_changed_run_never_resumes_another_runs_checkpoint(small_digits_dir, tmp_path):
    """The spot collision: every job shared one checkpoint location, so a retrain with another
    learning rate "resumed" the old run, trained 0 epochs and shipped the old weights."""
    checkpoints = tmp_path / "checkpoints"

    def run(name: str, learning_rate: str, job: str | None = None):
        args = [
            "--data-dir", str(small_digits_dir),
            "--model-dir", str(tmp_path / name / "model"),
            "--output-dir", str(tmp_path / name / "output"),
            "--checkpoint-dir", str(checkpoints),
            "--epochs", "2",
            "--export-onnx", "false",
            *TINY_HPARAMS,
            "--learning-rate", learning_rate,
        ]
        env = train_env() | ({"TRAINING_JOB_NAME": job} if job else {})
        result = subprocess.run([sys.executable, str(TRAIN_PY), *args], capture_output=True,
                                text=True, env=env, timeout=600, cwd=REPO, check=False)
        assert result.returncode == 0, result.stderr[-3000:]
        metrics = json.loads((tmp_path / name / "output" / "metrics.json").read_text())
        weights = (tmp_path / name / "model" / "model.pth").read_bytes()
        return result, metrics, weights

    _, _, first_weights = run("first", "0.002")
    retrain, second, second_weights = run("second", "0.004")  # anything changed
    assert "resuming" not in retrain.stderr
    assert "of other runs ignored): starting fresh" in retrain.stderr
    assert second["resumed_from_epoch"] == 0
    assert [row["epoch"] for row in second["history"]] == [1, 2]
    assert second["hyperparameters"]["learning_rate"] == 0.004
    assert second_weights != first_weights
    # Tuning children with identical settings but their own job names stay apart too.
    child, child_metrics, _ = run("child", "0.002", job="dog-breeds-hpo-002")
    assert child_metrics["resumed_from_epoch"] == 0 and "resuming" not in child.stderr
    assert len(list(checkpoints.glob("checkpoint-*.pt"))) == 3
    # The same run again (a spot restart after its last checkpoint) resumes its own state.
    again, again_metrics, again_weights = run("again", "0.002")
    assert "resuming from checkpoint of epoch 2" in again.stderr
    assert again_metrics["resumed_from_epoch"] == 2
    assert again_weights == first_weights


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--data-dir", "/nonexistent/data"], "train directory does not exist"),
        (["--pretrained", "/nonexistent/weights.pth"], "weights file not found"),
    ],
)
def test_bad_inputs_exit_2_with_a_clear_message(small_digits_dir, tmp_path, extra, message):
    args = [
        "--data-dir",
        str(small_digits_dir),
        "--model-dir",
        str(tmp_path / "m"),
        "--output-dir",
        str(tmp_path / "o"),
        "--epochs",
        "1",
        *TINY_HPARAMS,
        *extra,
    ]
    result = run_train(args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "extra", [["--arch", "vgg16"], ["--epochs", "0"], ["--learning-rate", "-1"], ["--freeze", "x"]]
)
def test_unknown_arch_and_bad_numbers_are_usage_errors(tmp_path, capsys, extra):
    with pytest.raises(SystemExit) as exited:
        train.parse_args(["--model-dir", str(tmp_path), "--output-dir", str(tmp_path), *extra])
    assert exited.value.code == 2 and "usage:" in capsys.readouterr().err


def test_sagemaker_environment_supplies_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("SM_CHANNEL_TRAIN", "/data/train")
    monkeypatch.setenv("SM_MODEL_DIR", "/opt/ml/model")
    monkeypatch.setenv("SM_OUTPUT_DATA_DIR", "/opt/ml/output/data")
    args = train.parse_args(["--epochs", "2", "--export-onnx", "False"])
    assert (args.train_dir, args.model_dir, args.output_dir) == (
        "/data/train",
        "/opt/ml/model",
        "/opt/ml/output/data",
    )
    assert args.epochs == 2 and args.export_onnx is False and args.arch == "resnet50"


def test_imagenet_weights_offline_is_a_clear_error(small_digits_dir, tmp_path):
    # The download goes to a closed loopback proxy port: it fails fast and never leaves the box.
    env = {k: v for k, v in train_env().items() if k.lower() != "no_proxy"} | {
        "https_proxy": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "TORCH_HOME": str(tmp_path / "torch-home"),
    }
    result = subprocess.run(
        [
            sys.executable,
            str(TRAIN_PY),
            "--data-dir",
            str(small_digits_dir),
            "--model-dir",
            str(tmp_path / "m"),
            "--output-dir",
            str(tmp_path / "o"),
            "--arch",
            "resnet18",
            "--pretrained",
            "imagenet",
            "--epochs",
            "1",
            "--num-workers",
            "0",
        ],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 2
    assert "could not download ImageNet weights" in result.stderr
    assert "--pretrained none" in result.stderr and "Traceback" not in result.stderr
