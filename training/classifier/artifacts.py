"""What a finished run leaves behind.

Model dir (becomes model.tar.gz): ``model.pth``, ``model_config.json``, optional ``model.onnx``
and ``code/`` (inference.py, requirements.txt, classifier/, wheels/), so the archive is directly
servable by a SageMaker model created outside the SDK, with no package index (requirements.txt
installs from code/wheels/ only: the endpoint runs with network isolation). Output dir: metrics
JSON and two PNG plots.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import torch
from torch import nn

from classifier.checkpoint import atomic_torch_save
from classifier.data import human_label
from classifier.onnx_export import quiet_exporter

log = logging.getLogger("classifier")

TRAINING_ROOT = Path(__file__).resolve().parent.parent  # the source_dir: train.py, inference.py
CODE_FILES = ("inference.py", "requirements.txt")
# Staged beside train.py by dogops.serving_wheels (build output, not in git); shipped with the
# source_dir, so a SageMaker or EC2 job has them too.
WHEELS_DIR = "wheels"
ONNX_NAME = "model.onnx"
INT8_NAME = "model.int8.onnx"
CALIBRATION_IMAGES = 64  # enough for stable activation ranges; calibration is a few seconds
MAX_CHECK_IMAGES = 2000


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


def write_model_dir(
    model_dir: Path, model: nn.Module, config: dict, export_onnx: bool, int8_data=None
) -> dict:
    """Write weights, config, serving code and (if possible) ONNX; returns the config written.

    ``int8_data`` = (calibration dataset, check dataset) of (image tensor, label) items, e.g. the
    validation and test splits: also try a static int8 model, kept only when it is as accurate as
    the float model on the check images and agrees with it (see :func:`int8_gate`)."""
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    cpu_model = model.to("cpu", memory_format=torch.contiguous_format).eval()
    atomic_torch_save(cpu_model.state_dict(), model_dir / "model.pth")
    config = dict(config)
    config["onnx"] = export_onnx and export_onnx_model(cpu_model, config, model_dir / ONNX_NAME)
    if config["onnx"] and int8_data is not None:
        config["int8"] = quantize_int8(model_dir / ONNX_NAME, model_dir / INT8_NAME, *int8_data)
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
    wheels = TRAINING_ROOT / WHEELS_DIR
    if wheels.is_dir() and any(wheels.glob("*.whl")):
        shutil.copytree(wheels, code_dir / WHEELS_DIR)
    else:
        # A bare train.py run (tests, a notebook) still yields a model dir the local endpoint
        # host serves; SageMaker could not install its requirements from it.
        log.warning(
            "no %s/ beside train.py: this archive's requirements cannot be installed by an "
            "isolated endpoint (`python -m dogops.serving_wheels` stages them)",
            WHEELS_DIR,
        )


def export_onnx_model(model: nn.Module, config: dict, path: Path) -> bool:
    """Export for ONNX Runtime serving, verified against eager outputs; False when impossible
    (e.g. a training container without the exporter's dependencies): serving then uses torch."""
    size = config["image_size"]
    example = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    try:
        with quiet_exporter():
            _export(model, example, path)
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


def _spread_items(dataset, count: int) -> list:
    """``count`` (image, label) items spread evenly over the dataset (ImageFolder is sorted by
    class); all of them when it has no more than ``count``."""
    total = len(dataset)
    indices = range(total) if total <= count else (i * total // count for i in range(count))
    return [dataset[i] for i in indices]


def _spread(dataset, count: int) -> list[torch.Tensor]:
    return [image for image, _ in _spread_items(dataset, count)]


def _top1(session, images: list[torch.Tensor], batch_size: int = 16) -> list[int]:
    name = session.get_inputs()[0].name
    top1 = []
    for start in range(0, len(images), batch_size):
        batch = torch.stack(images[start : start + batch_size]).numpy()
        top1 += session.run(None, {name: batch})[0].argmax(1).tolist()
    return top1


# The int8 gate: equal accuracy within half a point on the test split, and the same top-1 as the
# float32 model on at least 99 % of its images (so it is the same classifier, not one that is
# right as often on other images). Unanimity is not asked for: on a test split of hundreds of
# images a near-tie or two always flips, without any change in accuracy.
MAX_ACCURACY_GAP = 0.005
MIN_TOP1_AGREEMENT = 0.99


def int8_gate(fp32_accuracy: float, int8_accuracy: float, agreement: float) -> tuple[bool, str]:
    """Whether the int8 model may be served instead of float32, and why (for logs and reports)."""
    gap = int8_accuracy - fp32_accuracy
    if abs(gap) > MAX_ACCURACY_GAP + 1e-9:
        return False, (
            f"test accuracy {int8_accuracy:.2%} vs float32 {fp32_accuracy:.2%} "
            f"({gap * 100:+.2f} points, limit +-{MAX_ACCURACY_GAP * 100:.1f})"
        )
    if agreement < MIN_TOP1_AGREEMENT - 1e-9:
        return False, f"top-1 agrees with float32 on {agreement:.2%} of test images (needs >= 99 %)"
    return True, (
        f"test accuracy {int8_accuracy:.2%} vs float32 {fp32_accuracy:.2%}, "
        f"top-1 agreement {agreement:.2%}"
    )


# ONNX Runtime optimizers to turn off for the int8 model, in training's check and in serving
# alike. QDQPropagationTransformer moves the QuantizeLinear after the stem's float MaxPool in
# front of it, so the MaxPool runs on uint8 in ONNX Runtime's generic, unvectorised kernel
# instead of fused into the float convolution's blocked layout: 1.7 of 8.5 ms of a ResNet-50's
# forward pass on 2 cores. Max commutes with quantization, so the outputs are bit-identical
# (tests/training/test_int8_and_batching.py).
INT8_DISABLED_OPTIMIZERS = ("QDQPropagationTransformer",)


def int8_session(path: Path, options=None):
    """An ONNX Runtime CPU session for an int8 model written by :func:`quantize_int8`."""
    import onnxruntime

    return onnxruntime.InferenceSession(
        str(path),
        options,
        providers=["CPUExecutionProvider"],
        disabled_optimizers=list(INT8_DISABLED_OPTIMIZERS),
    )


def _quantize(prepared: Path, int8_path: Path, calibration_images, reduce_range: bool) -> None:
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class _Reader(CalibrationDataReader):
        def __init__(self, images):
            self.batches = iter(torch.stack(images[i : i + 8]) for i in range(0, len(images), 8))

        def get_next(self):
            batch = next(self.batches, None)
            return None if batch is None else {"input": batch.numpy()}

    # The first convolution (raw pixels) and the classifier layer are the most sensitive to
    # int8 and cost little: they stay float32 (measured: top-1 kept on more images).
    nodes = onnx.load(str(prepared)).graph.node
    convs = [node.name for node in nodes if node.op_type == "Conv"]
    keep_float = convs[:1] + [n.name for n in nodes if n.op_type in ("Gemm", "MatMul")]
    quantize_static(
        str(prepared),
        str(int8_path),
        _Reader(calibration_images),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        # 7-bit weights cannot saturate the int16 pair sums of the AVX2 kernels, so the model
        # computes the same on AVX2 and VNNI CPUs and the accuracy checked here holds on both.
        reduce_range=reduce_range,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=keep_float,
    )


def quantize_int8(
    fp32_path: Path, int8_path: Path, calibration, check, reduce_range: bool = True
) -> dict:
    """Static int8 ONNX model (QDQ, per-channel 7-bit weights, activation ranges calibrated on
    ``calibration``), kept when :func:`int8_gate` passes on ``check`` (the labelled test split:
    (image, label) items); otherwise deleted, and serving uses float32. Returns what the config
    records: the file (or None), both accuracies, the agreement, the counts, the decision's
    reason and the CPU the check ran on (int8 numerics depend on its kernels: classifier.cpu)."""
    from classifier import cpu

    record = {
        "file": None,
        "fp32_accuracy": None,
        "int8_accuracy": None,
        "top1_agreement": None,
        "check_images": 0,
        "max_accuracy_gap": MAX_ACCURACY_GAP,
        "min_top1_agreement": MIN_TOP1_AGREEMENT,
        "reduce_range": reduce_range,
        "checked_on": cpu.describe(),
    }
    try:
        import onnxruntime
        from onnxruntime.quantization.shape_inference import quant_pre_process

        calibration_images = _spread(calibration, CALIBRATION_IMAGES)
        check_items = _spread_items(check, MAX_CHECK_IMAGES)
        check_images = [image for image, _ in check_items]
        labels = [int(label) for _, label in check_items]
        prepared = int8_path.with_suffix(".pre.onnx")
        quant_pre_process(str(fp32_path), str(prepared))  # shapes + folding, as ORT advises
        try:
            _quantize(prepared, int8_path, calibration_images, reduce_range)
        finally:
            prepared.unlink(missing_ok=True)
        providers = ["CPUExecutionProvider"]
        expected = _top1(
            onnxruntime.InferenceSession(str(fp32_path), providers=providers), check_images
        )
        got = _top1(int8_session(int8_path), check_images)
        count = max(len(expected), 1)
        agreement = sum(a == b for a, b in zip(got, expected)) / count
        fp32_accuracy = sum(a == y for a, y in zip(expected, labels)) / count
        int8_accuracy = sum(a == y for a, y in zip(got, labels)) / count
        keep, reason = int8_gate(fp32_accuracy, int8_accuracy, agreement)
        keep = keep and bool(expected)
        record.update(
            fp32_accuracy=round(fp32_accuracy, 6),
            int8_accuracy=round(int8_accuracy, 6),
            top1_agreement=round(agreement, 6),
            check_images=len(expected),
            calibration_images=len(calibration_images),
            decision=("kept: " if keep else "not used: ") + reason,
        )
        if keep:
            record["file"] = int8_path.name
        log.info("int8 model %s", record["decision"])
    except Exception as error:  # noqa: BLE001  (quantization is an optional speed-up)
        log.warning("int8 quantization skipped (%s: %s)", type(error).__name__, str(error)[:200])
        record["decision"] = f"not used: quantization failed ({type(error).__name__})"
    if record["file"] is None:
        int8_path.unlink(missing_ok=True)
    return record
