"""Serving latency p50/p99 at batch 1: our handlers vs the starter's, same weights, this CPU.

The model is a ResNet-50 with a 133-class head (the production shape), written to a model dir by
the training code's artifact writer (model.pth + ONNX + the int8 attempt). No pretrained weights
offline: the backbone is random with BatchNorm statistics calibrated on real photos, and the head
is trained on random crops of the six photos (one class each), so the model has real decision
margins as a trained classifier does (a random head's top-1 is decided by noise that no reduced
precision keeps). The int8 model is calibrated on training crops and kept only if its top-1
equals float32's on the 24 served photos, exactly as training checks it on the test split.
Requests are real photos from scikit-image, JPEG-encoded, timed from bytes to JSON.

Top-1 agreement is reported for our served path vs our own eager-PyTorch path (same
preprocessing: must be 100 %), vs our float32 ONNX path, and vs the starter path (which skips
ImageNet normalisation and squashes the aspect ratio, so it feeds the network other pixels).

    .venv/bin/python -m bench.inference_latency [--requests 40]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
for path in (REPO, REPO / "training"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import inference
from classifier import artifacts
from classifier.model import build_model
from classifier.preprocess import IMAGENET_MEAN, IMAGENET_STD, prepare_image

from bench import starter

PHOTO_NAMES = ("astronaut", "chelsea", "coffee", "rocket", "coins", "camera")


def real_photos() -> list[bytes]:
    """Six shipped photos, each as is, mirrored, centre-cropped and rotated: 24 distinct JPEGs."""
    from skimage import data as skdata

    photos = []
    for name in PHOTO_NAMES:
        image = Image.fromarray(getattr(skdata, name)()).convert("RGB")
        width, height = image.size
        variants = (
            image,
            image.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
            image.crop((width // 4, height // 4, 3 * width // 4, 3 * height // 4)),
            image.transpose(Image.Transpose.ROTATE_90),
        )
        for variant in variants:
            buffer = io.BytesIO()
            variant.save(buffer, format="JPEG", quality=90)
            photos.append(buffer.getvalue())
    return photos


def _train_crops(photos: list[bytes], per_photo: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """Random resized crops (+ flips) of the six original photos, labelled by photo."""
    from torchvision.transforms import v2

    augment = v2.Compose([v2.RandomResizedCrop(224, scale=(0.3, 1.0)), v2.RandomHorizontalFlip()])
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    images, labels = [], []
    for label, photo in enumerate(photos[::4]):
        image = inference.decode_image(photo)
        for _ in range(per_photo):
            images.append((augment(image).float() / 255 - mean) / std)
            labels.append(label)
    return torch.stack(images), torch.tensor(labels)


def build_model_dir(target: Path, photos: list[bytes], num_classes: int = 133) -> Path:
    torch.manual_seed(0)
    model = build_model("resnet50", num_classes, pretrained="none", freeze="head")
    batch = torch.stack([prepare_image(inference.decode_image(p), 224) for p in photos[::4]])
    model.train()
    with torch.no_grad():  # calibrate BatchNorm running statistics on real images
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.momentum = None  # cumulative average
        for _ in range(3):
            model(batch)
    model.eval()
    crops, labels = _train_crops(photos)
    with torch.no_grad():
        features = torch.flatten(model.avgpool(nn_body(model, crops)), 1)
    optimizer = torch.optim.AdamW(model.fc.parameters(), lr=1e-2)
    for _ in range(200):  # the head only, on fixed features
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model.fc(features), labels).backward()
        optimizer.step()
    class_names = [f"{i + 1:03d}.class_{i + 1}" for i in range(num_classes)]
    config = artifacts.model_config("resnet50", class_names, 224, IMAGENET_MEAN, IMAGENET_STD)
    served = [(prepare_image(inference.decode_image(p), 224), 0) for p in photos]
    calibration = [(image, 0) for image in crops]
    artifacts.write_model_dir(
        target, model, config, export_onnx=True, int8_data=(calibration, served)
    )
    return target


def nn_body(model, images: torch.Tensor) -> torch.Tensor:
    """ResNet up to (not including) the global pool."""
    x = model.maxpool(model.relu(model.bn1(model.conv1(images))))
    return model.layer4(model.layer3(model.layer2(model.layer1(x))))


def percentile(samples: list[float], q: float) -> float:
    return float(np.percentile(np.array(samples), q))


def time_requests(handles: dict, photos: list[bytes], requests: int) -> dict:
    """Round-robin over the paths for every request, so machine noise hits all of them alike."""
    for handle in handles.values():  # warm-up: one pass over every image
        for photo in photos:
            handle(photo)
    latencies = {name: [] for name in handles}
    top1 = {name: [] for name in handles}
    for index in range(requests):
        photo = photos[index % len(photos)]
        for name, handle in handles.items():
            started = time.perf_counter()
            label = handle(photo)
            latencies[name].append((time.perf_counter() - started) * 1000)
            if index < len(photos):
                top1[name].append(label)
    return {name: (latencies[name], top1[name]) for name in handles}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args(argv)
    photos = real_photos()
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        model_dir = build_model_dir(Path(tmp) / "model", photos)
        ours = inference.model_fn(model_dir)
        eager = inference.model_fn(model_dir)
        eager.onnx_session, eager.backend = None, "torch"  # our preprocessing, PyTorch backend
        fp32 = inference.model_fn(model_dir)
        fp32.onnx_session = inference._onnx_session(model_dir / "model.onnx", fp32.torch_model, 224)
        fp32.precision = "float32"
        config = json.loads((model_dir / "model_config.json").read_text())
        starter_model = build_model("resnet50", 133, pretrained="none")
        starter_model.load_state_dict(torch.load(model_dir / "model.pth", weights_only=True))
        starter_model.eval()

    def ours_handle(model):
        def handle(photo: bytes) -> int:
            body = inference.output_fn(
                inference.predict_fn(inference.input_fn(photo, "image/jpeg"), model), "*/*"
            )
            return model.labels.index(json.loads(body)["predictions"][0]["label"])

        return handle

    def starter_handle(photo: bytes) -> int:
        prediction = starter.predict_fn(starter.input_fn(photo, "image/jpeg"), starter_model)
        body = starter.output_fn(prediction)
        return int(np.argmax(json.loads(body)[0]))

    handles = {
        "starter": starter_handle,
        "ours_torch": ours_handle(eager),
        "ours_onnx_fp32": ours_handle(fp32),
    }
    fast = "ours_onnx_fp32"
    if ours.precision == "int8":
        fast = "ours_onnx_int8"
        handles[fast] = ours_handle(ours)
    results = {}
    for name, (latencies, top1) in time_requests(handles, photos, args.requests).items():
        results[name] = {
            "p50_ms": round(percentile(latencies, 50), 2),
            "p99_ms": round(percentile(latencies, 99), 2),
            "top1": top1,
        }
    base = results["starter"]
    summary = {
        "benchmark": "inference_latency",
        "model": "resnet50, 133 classes, batch 1, CPU",
        "torch_threads": torch.get_num_threads(),
        "requests": args.requests,
        "backend": f"{ours.backend} {ours.precision}",
        "int8_check": config.get("int8"),
        "paths": {k: {"p50_ms": v["p50_ms"], "p99_ms": v["p99_ms"]} for k, v in results.items()},
        "p50_speedup": round(base["p50_ms"] / results[fast]["p50_ms"], 2),
        "p99_speedup": round(base["p99_ms"] / results[fast]["p99_ms"], 2),
        "top1_agreement_fast_vs_eager": _agreement(
            results[fast]["top1"], results["ours_torch"]["top1"]
        ),
        "top1_agreement_fast_vs_onnx_fp32": _agreement(
            results[fast]["top1"], results["ours_onnx_fp32"]["top1"]
        ),
        "top1_agreement_fast_vs_starter": _agreement(results[fast]["top1"], base["top1"]),
    }
    for name, row in results.items():
        print(f"{name:>18}: p50 {row['p50_ms']:7.1f} ms  p99 {row['p99_ms']:7.1f} ms")
    print(
        f"inference latency: ours ({summary['backend']}) vs starter -> p50 {summary['p50_speedup']:.2f}x, "
        f"p99 {summary['p99_speedup']:.2f}x faster (target >= 2x); top-1 agreement with our "
        f"eager path {summary['top1_agreement_fast_vs_eager']:.0%}, with the starter "
        f"{summary['top1_agreement_fast_vs_starter']:.0%}"
    )
    print(json.dumps(summary))
    return summary


def _agreement(a: list[int], b: list[int]) -> float:
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)


if __name__ == "__main__":
    main()
