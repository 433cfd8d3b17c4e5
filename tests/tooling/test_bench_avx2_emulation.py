"""bench.avx2_serving's emulation: ONNX Runtime with its CPUID answers masked really switches to
its AVX2 kernels (the int8 pair sums saturate as only vpmaddubsw does), on a copy, leaving the
installed package alone."""

from __future__ import annotations

import platform

import onnxruntime
import pytest

from bench import avx2_serving


@pytest.mark.skipif(platform.machine() != "x86_64", reason="CPUID masking is x86-64 only")
def test_masked_onnxruntime_runs_avx2_int8_kernels(tmp_path):
    cap = avx2_serving.build_cap(tmp_path / "cap")
    masked = avx2_serving.run_probe(avx2_serving.emulated_environment(cap))
    assert masked["onnxruntime"].startswith(str(cap))
    assert masked["int8_pair_sum"] == avx2_serving.SATURATED_SUM
    assert "EMULATED" in masked["cpu"]
    native = avx2_serving.run_probe(None)
    assert not native["onnxruntime"].startswith(str(cap))
    if "avx512_vnni" in native["cpu"] or "avx_vnni" in native["cpu"]:
        assert native["int8_pair_sum"] == avx2_serving.EXACT_SUM  # VNNI sums exactly
    assert onnxruntime.__file__ == native["onnxruntime"]  # the installed package is untouched


def test_patch_refuses_bytes_that_are_not_cpuid(tmp_path, monkeypatch):
    library = tmp_path / "lib.so"
    library.write_bytes(b"\x00" * 64)
    monkeypatch.setattr(
        avx2_serving.subprocess,
        "run",
        lambda args, **_: type("Done", (), {
            "stdout": " 0 .text 00000040 0000000000001000 0000000000001000 00000000 2**4"
            if args[1] == "-h" else "    1010:\tcpuid\n"
        })(),
    )
    with pytest.raises(avx2_serving.EmulationError, match="no cpuid at 0x1010"):
        avx2_serving.patch_cpuid(library)
    assert library.read_bytes() == b"\x00" * 64


INT8_LOGITS = """
import json, sys
import numpy as np
sys.path.insert(0, "training")
from classifier import artifacts
images = np.random.default_rng(0).standard_normal((16, 3, 32, 32), np.float32)
print(json.dumps({
    name: artifacts.int8_session(path).run(None, {"input": images})[0].tolist()
    for name, path in zip(("7-bit", "8-bit"), sys.argv[1:])
}))
"""


@pytest.mark.skipif(platform.machine() != "x86_64", reason="CPUID masking is x86-64 only")
def test_seven_bit_int8_weights_compute_the_same_on_avx2_kernels(tmp_path):
    """Why training quantizes weights to 7 bits: the accuracy checked where the model was
    exported then holds on AVX2 kernels too (no int16 saturation). Here: the same logits,
    to the bit, natively and with ONNX Runtime held to its AVX2 kernels."""
    import json
    import subprocess
    import sys

    import torch
    from classifier import artifacts
    from classifier.model import build_model

    torch.manual_seed(0)
    model = build_model("resnet18", 10, pretrained="none").eval()
    from onnxruntime.quantization.shape_inference import quant_pre_process

    exported, fp32 = tmp_path / "model.onnx", tmp_path / "prepared.onnx"
    assert artifacts.export_onnx_model(model, {"image_size": 32}, exported)
    quant_pre_process(str(exported), str(fp32))  # as training does before quantizing
    calibration = list(torch.randn(16, 3, 32, 32, generator=torch.Generator().manual_seed(1)))
    paths = []
    for bits, reduce_range in ((7, True), (8, False)):
        paths.append(tmp_path / f"model.{bits}bit.onnx")
        artifacts._quantize(fp32, paths[-1], calibration, reduce_range)
    cap = avx2_serving.build_cap(tmp_path / "cap")

    def logits(env):
        done = subprocess.run(
            [sys.executable, "-c", INT8_LOGITS, *map(str, paths)],
            cwd=avx2_serving.REPO, env=env, capture_output=True, text=True, check=True,
        )
        return json.loads(done.stdout.strip().splitlines()[-1])

    native, masked = logits(None), logits(avx2_serving.emulated_environment(cap))
    assert native["7-bit"] == masked["7-bit"]
    assert native["8-bit"] != masked["8-bit"]  # full 8-bit weights saturate there: not vacuous
