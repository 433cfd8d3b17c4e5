"""classifier.frozen_runtime: frozen stages of CPU float32 training on ONNX Runtime compute what
PyTorch computes, train the same live tail, and fall back to PyTorch when the copy fails."""

from __future__ import annotations

import logging

import pytest
import torch
from classifier import frozen_runtime
from classifier.model import build_model, set_train_mode, training_view
from conftest import TEST_LINE, TINY_HPARAMS, run_train


def _views(policy: str):
    torch.manual_seed(0)
    model = build_model("resnet18", 5, freeze=policy)
    views = {runtime: training_view(model, True, runtime) for runtime in frozen_runtime.RUNTIMES}
    for view in views.values():
        view.bf16 = False  # the float32 path is the one ONNX Runtime takes
        set_train_mode(view)
    return model, views


@pytest.mark.parametrize("policy", ["head", "last-block"])
def test_onnxruntime_frozen_stages_match_pytorch_and_train_the_tail(policy):
    model, views = _views(policy)
    images = torch.randn(4, 3, 48, 48).contiguous(memory_format=torch.channels_last)
    on_ort = views["onnxruntime"](images)
    assert views["onnxruntime"].runtime_used == "onnxruntime"
    assert torch.allclose(on_ort, views["torch"](images), atol=1e-4)
    assert views["torch"].runtime_used == "torch"
    other_batch = torch.randn(3, 3, 48, 48)  # dynamic batch: the last batch of an epoch
    assert torch.allclose(views["onnxruntime"](other_batch), views["torch"](other_batch), atol=1e-4)
    on_ort.sum().backward()
    assert model.fc.weight.grad is not None
    assert model.conv1.weight.grad is None


def test_a_failed_export_leaves_the_frozen_stages_on_pytorch(monkeypatch, caplog):
    _, views = _views("head")

    def broken_export(*args, **kwargs):
        raise RuntimeError("exporter unavailable")

    monkeypatch.setattr(frozen_runtime.torch.onnx, "export", broken_export)
    images = torch.randn(2, 3, 32, 32)
    with caplog.at_level(logging.WARNING, logger=frozen_runtime.__name__):
        got = views["onnxruntime"](images)
    assert views["onnxruntime"].runtime_used == "torch"
    assert "frozen stages stay on PyTorch (RuntimeError: exporter unavailable)" in caplog.text
    assert torch.equal(got, views["torch"](images))


def test_a_copy_that_disagrees_with_pytorch_is_not_used(monkeypatch, caplog):
    _, views = _views("head")
    monkeypatch.setattr(
        frozen_runtime.OnnxFrozenStages,
        "__call__",
        lambda self, images: torch.zeros(images.shape[0], 512),
    )
    with caplog.at_level(logging.WARNING, logger=frozen_runtime.__name__):
        views["onnxruntime"](torch.randn(2, 3, 32, 32))
    assert views["onnxruntime"].runtime_used == "torch"
    assert "disagree" in caplog.text


def test_the_runtime_setting_is_checked(monkeypatch):
    monkeypatch.setenv("DOGOPS_FROZEN_RUNTIME", "torch")
    assert frozen_runtime.requested_runtime() == "torch"
    monkeypatch.setenv("DOGOPS_FROZEN_RUNTIME", "tensorrt")
    with pytest.raises(ValueError, match="choose one of onnxruntime, torch"):
        training_view(build_model("resnet18", 5, freeze="head"))


def test_train_script_runs_its_frozen_stages_on_onnxruntime(small_digits_dir, tmp_path, monkeypatch):
    """The real entry point, a frozen prefix with a trainable convolutional stage after it
    (4-D features back into the channels-last tail). PyTorch is held to AVX2 kernels, so a CPU
    with native bf16 takes the float32 path too."""
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx2")
    hparams = list(TINY_HPARAMS)
    hparams[hparams.index("--freeze") + 1] = "last-block"
    hparams[hparams.index("--image-size") + 1] = "32"
    result = run_train(
        [
            "--data-dir", str(small_digits_dir),
            "--model-dir", str(tmp_path / "model"),
            "--output-dir", str(tmp_path / "output"),
            "--epochs", "1",
            *hparams,
        ]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "frozen stages ran on onnxruntime" in result.stdout + result.stderr
    assert TEST_LINE.search(result.stdout)
