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
    validation and test splits: also try a static int8 model, kept only when its top-1 equals the
    float model's on every check image (see :func:`quantize_int8`)."""
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


def _spread(dataset, count: int) -> list[torch.Tensor]:
    """``count`` images spread evenly over the dataset (ImageFolder is sorted by class)."""
    step = max(1, len(dataset) // count) if count else 1
    return [dataset[i][0] for i in range(0, len(dataset), step)][:count]


def _top1(session, images: list[torch.Tensor], batch_size: int = 16) -> list[int]:
    name = session.get_inputs()[0].name
    top1 = []
    for start in range(0, len(images), batch_size):
        batch = torch.stack(images[start : start + batch_size]).numpy()
        top1 += session.run(None, {name: batch})[0].argmax(1).tolist()
    return top1


def quantize_int8(fp32_path: Path, int8_path: Path, calibration, check) -> dict:
    """Static int8 ONNX model (QDQ, per-channel weights, activation ranges calibrated on
    ``calibration``): about 3x faster than float32 at batch 1 on CPUs with AVX512-VNNI/AVX2.
    Kept only when its top-1 equals the float32 model's on every image of ``check`` (the test
    split); otherwise deleted, and serving uses the float32 model. Returns what the config
    records: the file (or None), the agreement and the image counts."""
    record = {"file": None, "top1_agreement": None, "check_images": 0}
    try:
        import onnx
        import onnxruntime
        from onnxruntime.quantization import (
            CalibrationDataReader,
            QuantFormat,
            QuantType,
            quantize_static,
        )
        from onnxruntime.quantization.shape_inference import quant_pre_process

        class _Reader(CalibrationDataReader):
            def __init__(self, images):
                self.batches = iter(
                    torch.stack(images[i : i + 8]) for i in range(0, len(images), 8)
                )

            def get_next(self):
                batch = next(self.batches, None)
                return None if batch is None else {"input": batch.numpy()}

        calibration_images = _spread(calibration, CALIBRATION_IMAGES)
        check_images = _spread(check, MAX_CHECK_IMAGES)
        prepared = int8_path.with_suffix(".pre.onnx")
        quant_pre_process(str(fp32_path), str(prepared))  # shapes + folding, as ORT advises
        # The first convolution (raw pixels) and the classifier layer are the most sensitive to
        # int8 and cost little: they stay float32 (measured: top-1 kept on more images).
        nodes = onnx.load(str(prepared)).graph.node
        convs = [node.name for node in nodes if node.op_type == "Conv"]
        keep_float = convs[:1] + [n.name for n in nodes if n.op_type in ("Gemm", "MatMul")]
        try:
            quantize_static(
                str(prepared),
                str(int8_path),
                _Reader(calibration_images),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                nodes_to_exclude=keep_float,
            )
        finally:
            prepared.unlink(missing_ok=True)
        providers = ["CPUExecutionProvider"]
        expected = _top1(
            onnxruntime.InferenceSession(str(fp32_path), providers=providers), check_images
        )
        got = _top1(onnxruntime.InferenceSession(str(int8_path), providers=providers), check_images)
        agreement = sum(a == b for a, b in zip(got, expected)) / max(len(expected), 1)
        record.update(
            top1_agreement=round(agreement, 6),
            check_images=len(expected),
            calibration_images=len(calibration_images),
        )
        if expected and agreement == 1.0:
            record["file"] = int8_path.name
        else:
            log.info(
                "int8 model kept float32 top-1 on %.1f %% of the check images: not used",
                agreement * 100,
            )
    except Exception as error:  # noqa: BLE001  (quantization is an optional speed-up)
        log.warning("int8 quantization skipped (%s: %s)", type(error).__name__, str(error)[:200])
    if record["file"] is None:
        int8_path.unlink(missing_ok=True)
    return record
