"""Serving latency p50/p99 at batch 1: our handlers vs the starter's, same weights, this CPU.

The model is a ResNet-50 (the production shape) written to a model dir by the training code's
artifact writer (model.pth + ONNX). No pretrained weights offline: the backbone is random with
BatchNorm statistics calibrated on real photos and the head is trained on crops of six photos.
A random backbone is no stand-in for a trained network's int8 accuracy (its features have no
margins), so this benchmark only TIMES the int8 model (7-bit weights, as training writes it);
whether int8 keeps the accuracy is decided by training's gate on a trained model's held-out test
split and measured, with the same serving path, by ``bench.serving_accuracy``. The int8 row is
what serving runs when that gate kept int8 and this CPU may run it (inference.int8_refusal).

Requests are real photos from scikit-image, JPEG-encoded, timed from bytes to JSON, all paths
interleaved request by request (the machine may be shared). Prints the CPU's instruction sets:
ONNX Runtime picks its kernels from CPUID and cannot be told to use a smaller ISA, so figures
from one CPU never stand for another.

    .venv/bin/python -m bench.inference_latency [--requests 300]
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
from classifier import artifacts, cpu
from classifier.model import build_model
from classifier.preprocess import IMAGENET_MEAN, IMAGENET_STD, prepare_image

from bench import kernel_ceiling, starter

REQUESTS = 300
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
    artifacts.write_model_dir(target, model, config, export_onnx=True)
    # The int8 model as training writes it (same quantizer and settings), for timing only.
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = target / "prepared.onnx"
    quant_pre_process(str(target / artifacts.ONNX_NAME), str(prepared))
    artifacts._quantize(prepared, target / artifacts.INT8_NAME, list(crops[:64]), True)
    prepared.unlink()
    return target


def nn_body(model, images: torch.Tensor) -> torch.Tensor:
    """ResNet up to (not including) the global pool."""
    x = model.maxpool(model.relu(model.bn1(model.conv1(images))))
    return model.layer4(model.layer3(model.layer2(model.layer1(x))))


def percentile(samples: list[float], q: float) -> float:
    return float(np.percentile(np.array(samples), q))


NOISE_PROBE = "noise_probe"
_NOISE_OPERAND = torch.ones(256, 256)


def noise_probe() -> None:
    """The same few milliseconds of one-thread work every time: its spread is the machine's."""
    with inference.preprocessing_threads(1):
        for _ in range(20):
            _NOISE_OPERAND @ _NOISE_OPERAND


def time_requests(handles: dict, photos: list[bytes], requests: int) -> dict:
    """Round-robin over the paths for every request, so machine noise hits all of them alike;
    :func:`noise_probe` runs in the round too, to show how much of a p99 is the machine's."""
    handles = {**handles, NOISE_PROBE: lambda photo: noise_probe()}
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
    # p99 of 300 requests lies among the 3 slowest, of 100 on the single slowest: one stall of a
    # shared machine would decide it.
    parser.add_argument("--requests", type=int, default=REQUESTS)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--throughput-rounds", type=int, default=2)
    args = parser.parse_args(argv)
    photos = real_photos()
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        model_dir = build_model_dir(Path(tmp) / "model", photos)
        eager = inference.model_fn(model_dir)
        eager.onnx_session, eager.backend = None, "torch"  # our preprocessing, PyTorch backend
        fp32 = inference.model_fn(model_dir)
        int8 = inference.model_fn(model_dir)
        int8.onnx_session = inference._onnx_session(
            model_dir / artifacts.INT8_NAME, int8.torch_model, 224, int8=True
        )
        int8.precision = "int8"
        refused = inference.int8_refusal(
            {"file": artifacts.INT8_NAME, "reduce_range": True, "checked_on": cpu.describe()}
        )
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
        "ours_onnx_int8": ours_handle(int8),
    }
    results = {}
    for name, (latencies, top1) in time_requests(handles, photos, args.requests).items():
        results[name] = {
            "p50_ms": round(percentile(latencies, 50), 2),
            "p99_ms": round(percentile(latencies, 99), 2),
            "top1": top1,
        }
    noise = results.pop(NOISE_PROBE)
    base = results["starter"]

    def speedups(name):
        return {
            "p50": round(base["p50_ms"] / results[name]["p50_ms"], 2),
            "p99": round(base["p99_ms"] / results[name]["p99_ms"], 2),
        }

    summary = {
        "benchmark": "inference_latency",
        "cpu": cpu.describe(),
        "model": "resnet50, 133 classes, batch 1, CPU",
        "torch_threads": torch.get_num_threads(),
        "requests": args.requests,
        "int8_on_this_cpu": refused or "allowed (when training's accuracy gate kept it)",
        "paths": {k: {"p50_ms": v["p50_ms"], "p99_ms": v["p99_ms"]} for k, v in results.items()},
        "machine_noise": {
            "p50_ms": noise["p50_ms"],
            "p99_ms": noise["p99_ms"],
            "p99_over_p50": round(noise["p99_ms"] / noise["p50_ms"], 2),
        },
        "speedup_fp32": speedups("ours_onnx_fp32"),
        "speedup_int8": speedups("ours_onnx_int8"),
        "top1_agreement_fp32_vs_eager": _agreement(
            results["ours_onnx_fp32"]["top1"], results["ours_torch"]["top1"]
        ),
    }
    print(f"CPU: {cpu.summary()}")
    for name, row in results.items():
        print(f"{name:>18}: p50 {row['p50_ms']:7.1f} ms  p99 {row['p99_ms']:7.1f} ms")
    for name in ("fp32", "int8"):
        gain = summary[f"speedup_{name}"]
        print(
            f"inference latency, ours ONNX Runtime {name} vs starter: p50 {gain['p50']:.2f}x, "
            f"p99 {gain['p99']:.2f}x faster (target >= 2.5x)"
        )
    print(f"int8 on this CPU: {summary['int8_on_this_cpu']}; its accuracy: bench.serving_accuracy")
    print(
        f"machine noise: a fixed one-thread workload in the same rounds took p50 "
        f"{noise['p50_ms']:.1f} ms, p99 {noise['p99_ms']:.1f} ms "
        f"({summary['machine_noise']['p99_over_p50']:.2f}x): the p99s above include the "
        "machine's stalls, which weigh more on a shorter request"
    )
    summary["batching"] = batching(
        {"fp32": fp32, "int8": int8}, photos, args.batch_size, args.throughput_rounds
    )
    print(json.dumps(summary))
    return summary


def batching(models: dict, photos: list[bytes], batch_size: int, rounds: int) -> dict:
    """Images/s at saturation (a full queue: every forward pass gets a full batch) through
    input_fn -> predict_batch -> output_fn, batch ``batch_size`` vs 1, rounds interleaved."""
    images = photos * max(1, (2 * batch_size) // len(photos) + 1)
    images = images[: max(len(photos), 2 * batch_size)]
    rates = {(name, size): [] for name in models for size in (1, batch_size)}
    batch_ms = {key: [] for key in rates}
    for _ in range(rounds):
        for name, model in models.items():
            for size in (1, batch_size):
                started = time.perf_counter()
                for start in range(0, len(images), size):
                    tick = time.perf_counter()
                    chunk = [
                        inference.input_fn(p, "image/jpeg") for p in images[start : start + size]
                    ]
                    for answer in inference.predict_batch(chunk, model):
                        inference.output_fn(answer, "*/*")
                    batch_ms[(name, size)].append((time.perf_counter() - tick) * 1000)
                rates[(name, size)].append(len(images) / (time.perf_counter() - started))
    result = {}
    for name, model in models.items():
        one, many = max(rates[(name, 1)]), max(rates[(name, batch_size)])
        forward = forward_pass_rates(model, images, batch_size, rounds)
        macs = kernel_ceiling.model_macs(model.torch_model, model.image_size)
        gemm = kernel_ceiling.gemm_rate(name, threads=inference.ort_threads())
        result[name] = {
            "images_per_s_batch_1": round(one, 2),
            f"images_per_s_batch_{batch_size}": round(many, 2),
            "gain": round(many / one, 2),
            "forward_pass_only_gain": round(forward[batch_size] / forward[1], 2),
            "forward_gmac_per_s_batch_1": round(forward[1] * macs / 1e9, 1),
            f"forward_gmac_per_s_batch_{batch_size}": round(forward[batch_size] * macs / 1e9, 1),
            "onnxruntime_gemm_gmac_per_s": round(gemm / 1e9, 1),
            "batch_1_share_of_gemm_rate": round(forward[1] * macs / gemm, 2),
            "p50_ms_per_request_batch_1": round(percentile(batch_ms[(name, 1)], 50), 1),
            f"p50_ms_per_request_batch_{batch_size}": round(
                percentile(batch_ms[(name, batch_size)], 50), 1
            ),
        }
        row = result[name]
        print(
            f"batched serving ({name}): {row['images_per_s_batch_1']:.1f} img/s at batch 1, "
            f"{many:.1f} img/s at batch {batch_size} -> {row['gain']:.2f}x (target >= 1.5x); "
            f"a request waits {row[f'p50_ms_per_request_batch_{batch_size}']:.0f} ms for its "
            f"batch vs {row['p50_ms_per_request_batch_1']:.0f} ms alone (p50, queueing excluded); "
            f"the forward pass alone gains {row['forward_pass_only_gain']:.2f}x from the batch"
        )
        print(
            f"kernels ({name}): the forward pass runs {row['forward_gmac_per_s_batch_1']:.0f} "
            f"GMAC/s at batch 1 and {row[f'forward_gmac_per_s_batch_{batch_size}']:.0f} at batch "
            f"{batch_size}; ONNX Runtime's {name} GEMM reaches "
            f"{row['onnxruntime_gemm_gmac_per_s']:.0f} on {kernel_ceiling.GEMM_SIDE}-square "
            f"matrices here: batch 1 already runs at {row['batch_1_share_of_gemm_rate']:.0%} of it"
        )
    return result


def forward_pass_rates(model, images: list[bytes], batch_size: int, rounds: int) -> dict:
    """Images/s of the model's forward pass alone (preprocessed tensors in, logits out) at
    batch 1 and ``batch_size``: their ratio is the part of the batching gain that the kernels
    give on this CPU; the rest of it is per-request work done once per batch."""
    tensors = [
        prepare_image(inference.input_fn(p, "image/jpeg").image, model.image_size)
        for p in images[:batch_size]
    ]
    batch = torch.stack(tensors)
    singles = [t.unsqueeze(0) for t in tensors]
    best = {1: float("inf"), batch_size: float("inf")}
    for round_index in range(rounds + 1):  # round 0 warms up; then the best of the rest
        started = time.perf_counter()
        for single in singles:
            model.logits(single)
        one = time.perf_counter() - started
        started = time.perf_counter()
        model.logits(batch)
        many = time.perf_counter() - started
        if round_index > 0:
            best[1], best[batch_size] = min(best[1], one), min(best[batch_size], many)
    return {size: batch_size / seconds for size, seconds in best.items()}


def _agreement(a: list[int], b: list[int]) -> float:
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)


if __name__ == "__main__":
    main()
