"""Accuracy of the fast serving path vs the float32 reference, on a really trained model.

Trains a ResNet-18 on the digits sample with training/train.py (train/valid/test split, held-out
test split of 270 real digits, int8 on: the same accuracy gate production uses), then sends the
test split through the serving handlers as large JPEGs (the digits scaled up to 512 px, so JPEG
draft-mode decoding takes effect: 1/8 scale) and compares:

- reference: float32 ONNX Runtime, full JPEG decode (the pixels training evaluated on);
- served: what model_fn picks on this CPU (int8 when the gate kept it and the CPU rule allows),
  with draft-mode decoding.

The target is equal test accuracy within 0.5 point. Prints the CPU's instruction sets.

    .venv/bin/python -m bench.serving_accuracy [--epochs 4] [--side 512]
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[1]
for path in (REPO, REPO / "training"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import inference
from classifier import cpu

from dogops.sample_data import make_digits_imagefolder


def train_digits_model(root: Path, epochs: int, image_size: int) -> Path:
    data_dir = make_digits_imagefolder(root / "digits", image_size=32, seed=0)
    command = [sys.executable, str(REPO / "training" / "train.py")]
    command += ["--data-dir", str(data_dir), "--model-dir", str(root / "model")]
    command += ["--output-dir", str(root / "output"), "--checkpoint-dir", str(root / "ck")]
    command += ["--arch", "resnet18", "--pretrained", "none", "--freeze", "none"]
    command += ["--image-size", str(image_size), "--epochs", str(epochs), "--batch-size", "32"]
    command += ["--learning-rate", "0.002", "--augment", "none", "--num-workers", "0"]
    command += ["--export-onnx", "true", "--quantize-int8", "true", "--seed", "0"]
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=REPO)
    if result.returncode != 0:
        raise RuntimeError(f"training failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return data_dir


def test_jpegs(data_dir: Path, side: int) -> list[tuple[bytes, int]]:
    items = []
    for label, class_dir in enumerate(sorted((data_dir / "test").iterdir())):
        for png in sorted(class_dir.glob("*.png")):
            with Image.open(png) as image:
                large = image.convert("RGB").resize((side, side), Image.Resampling.BICUBIC)
            buffer = io.BytesIO()
            large.save(buffer, format="JPEG", quality=90)
            items.append((buffer.getvalue(), label))
    return items


def top1(model, body: bytes, draft_side: int) -> int:
    request = inference.ImageRequest(inference.decode_image(body, draft_side=draft_side))
    label = inference.predict_fn(request, model)["predictions"][0]["label"]
    return model.labels.index(label)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--side", type=int, default=512, help="JPEG side the digits are sent at")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    print(f"CPU: {cpu.summary()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-acc-") as tmp:
        root = Path(tmp)
        data_dir = train_digits_model(root, args.epochs, args.image_size)
        config = json.loads((root / "model" / "model_config.json").read_text())
        metrics = json.loads((root / "output" / "metrics.json").read_text())
        served = inference.model_fn(root / "model")
        reference = inference.model_fn(root / "model")
        reference.onnx_session = inference._onnx_session(
            root / "model" / "model.onnx", reference.torch_model, reference.image_size
        )
        reference.precision = "float32"
        draft_side = inference.resize_size_for(served.image_size)
        items = test_jpegs(data_dir, args.side)
        labels = [label for _, label in items]
        ref = [top1(reference, body, 0) for body, _ in items]
        fast = [top1(served, body, draft_side) for body, _ in items]
        fast_full = [top1(served, body, 0) for body, _ in items]
    count = len(items)

    def accuracy(predicted):
        return round(sum(p == y for p, y in zip(predicted, labels, strict=True)) / count, 6)

    result = {
        "benchmark": "serving_accuracy",
        "cpu": cpu.describe(),
        "model": f"resnet18 trained {args.epochs} epochs on the digits sample, {args.image_size} px",
        "test_images": count,
        "training_test_accuracy": round(metrics["test"]["accuracy"], 6),
        "int8_gate": {k: v for k, v in config["int8"].items() if k != "checked_on"},
        "served_precision": served.precision,
        "int8_refused": served.int8_refused,
        "jpeg_side": args.side,
        "draft_side": draft_side,
        "accuracy_reference_fp32_full_decode": accuracy(ref),
        "accuracy_served_full_decode": accuracy(fast_full),
        "accuracy_served_draft_decode": accuracy(fast),
        "top1_agreement_served_vs_reference": round(
            sum(a == b for a, b in zip(fast, ref, strict=True)) / count, 6
        ),
        "seconds": round(time.perf_counter() - started, 1),
    }
    gap = (
        result["accuracy_served_draft_decode"] - result["accuracy_reference_fp32_full_decode"]
    ) * 100
    print(
        f"serving accuracy on {count} held-out digits as {args.side}px JPEGs: reference float32 "
        f"{result['accuracy_reference_fp32_full_decode']:.2%}, served ({served.precision}, "
        f"draft decode) {result['accuracy_served_draft_decode']:.2%} ({gap:+.2f} points; target "
        f"within +-0.5); int8 gate: {config['int8'].get('decision')}"
    )
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
