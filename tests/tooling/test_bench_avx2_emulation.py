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
