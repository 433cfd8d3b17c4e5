"""What a finished run leaves behind.

Model dir (becomes model.tar.gz): ``model.pth``, ``model_config.json``, optional ``model.onnx``
and ``code/`` (inference.py, requirements.txt, classifier/), so the archive is directly servable
by a SageMaker model created outside the SDK. Output dir: metrics JSON and two PNG plots.
"""

from __future__ import annotations

import json
import logging
import shutil
import warnings
from pathlib import Path

import torch
from torch import nn

from classifier.checkpoint import atomic_torch_save
from classifier.data import human_label

log = logging.getLogger("classifier")

TRAINING_ROOT = Path(__file__).resolve().parent.parent  # the source_dir: train.py, inference.py
CODE_FILES = ("inference.py", "requirements.txt")
ONNX_NAME = "model.onnx"


def model_config(arch, class_names, image_size, mean, std, **extra) -> dict:
    return {
        "arch": arch,
        "num_classes": len(class_names),
        "image_size": image_size,
        "class_names": list(class_names),
        "labels": [human_label(name) for name in class_names],
        "mean": list(mean),
        "std": list(std),
        "format_version": 1,
        **extra,
    }


def write_model_dir(model_dir: Path, model: nn.Module, config: dict, export_onnx: bool) -> dict:
    """Write weights, config, serving code and (if possible) ONNX; returns the config written."""
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    cpu_model = model.to("cpu", memory_format=torch.contiguous_format).eval()
    atomic_torch_save(cpu_model.state_dict(), model_dir / "model.pth")
    config = dict(config)
    config["onnx"] = export_onnx and export_onnx_model(cpu_model, config, model_dir / ONNX_NAME)
    (model_dir / "model_config.json").write_text(json.dumps(config, indent=2))
    copy_serving_code(model_dir / "code")
    return config


def copy_serving_code(code_dir: Path) -> None:
    if code_dir.exists():
        shutil.rmtree(code_dir)
    code_dir.mkdir(parents=True)
    for name in CODE_FILES:
        shutil.copy2(TRAINING_ROOT / name, code_dir / name)
    shutil.copytree(
        TRAINING_ROOT / "classifier",
        code_dir / "classifier",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )


def export_onnx_model(model: nn.Module, config: dict, path: Path) -> bool:
    """Export for ONNX Runtime serving, verified against eager outputs; False when impossible
    (e.g. a training container without the exporter's dependencies): serving then uses torch."""
    size = config["image_size"]
    example = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    try:
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.WARNING)  # the exporter logs every pass at INFO
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # exporter deprecation chatter
                _export(model, example, path)
        finally:
            root.setLevel(level)
        if not _matches_eager(model, path, example):
            raise RuntimeError("ONNX Runtime output differs from eager PyTorch")
    except Exception as error:  # noqa: BLE001  (any exporter failure only costs the fast path)
        path.unlink(missing_ok=True)
        log.warning(
            "ONNX export skipped (%s: %s); serving will use PyTorch",
            type(error).__name__,
            str(error).splitlines()[0][:200] if str(error) else "",
        )
        return False
    return True


def _export(model: nn.Module, example: torch.Tensor, path: Path) -> None:
    try:
        import onnxscript  # noqa: F401  (the dynamo exporter's dependency)
    except ImportError:
        torch.onnx.export(
            model,
            (example,),
            str(path),
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
            dynamo=False,
        )
        return
    batch = torch.export.Dim("batch", min=1, max=256)
    program = torch.onnx.export(
        model,
        (example,),
        dynamo=True,
        input_names=["input"],
        output_names=["logits"],
        dynamic_shapes=({0: batch},),
        verbose=False,
    )
    program.save(str(path))


def _matches_eager(model: nn.Module, path: Path, example: torch.Tensor) -> bool:
    try:
        import onnxruntime
    except ImportError:
        return True  # cannot check here; the endpoint re-checks at load time
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.inference_mode():
        expected = model(example).numpy()
    got = session.run(None, {session.get_inputs()[0].name: example.numpy()})[0]
    return got.shape == expected.shape and bool(
        abs(got - expected).max() < 1e-3 * (1 + abs(expected).max())
    )


def write_metrics(output_dir: Path, metrics: dict, class_labels: list[str]) -> None:
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    _plot_curves(output_dir / "training_curve.png", metrics["history"])
    _plot_confusion(
        output_dir / "confusion_matrix.png", metrics["test"]["confusion_matrix"], class_labels
    )


def _plot_curves(path: Path, history: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, [r["train_loss"] for r in history], marker="o", label="train")
    ax_loss.plot(epochs, [r["valid_loss"] for r in history], marker="o", label="valid")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="Loss")
    ax_acc.plot(epochs, [r["train_accuracy"] for r in history], marker="o", label="train")
    ax_acc.plot(epochs, [r["valid_accuracy"] for r in history], marker="o", label="valid")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="Accuracy", ylim=(0, 1))
    for ax in (ax_loss, ax_acc):
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_confusion(path: Path, confusion: list[list[int]], labels: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(labels)
    size = min(4 + n * 0.35, 40)
    fig, ax = plt.subplots(figsize=(size, size))
    image = ax.imshow(confusion, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046)
    if n <= 40:  # 133 breed names are unreadable as ticks; the JSON holds the numbers
        ax.set_xticks(range(n), labels, rotation=90)
        ax.set_yticks(range(n), labels)
    ax.set(xlabel="predicted", ylabel="true", title="Test confusion matrix")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
