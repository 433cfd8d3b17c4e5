"""Which instruction sets this CPU has, as far as int8 and bf16 speed and numerics depend on them.

ONNX Runtime picks its int8 kernels from CPUID at run time and has no setting to pretend to be a
smaller CPU, so the same int8 model runs different code on different machines:

- ``vnni``: AVX512-VNNI, AVX-VNNI or AMX-INT8. u8 x s8 products are summed straight into int32:
  exact, and the fastest.
- ``avx2``: AVX2 or AVX-512 without VNNI. Pairs of u8 x s8 products are first added into int16
  with saturation (vpmaddubsw), so full-range 8-bit weights can give other results than on
  ``vnni``; weights quantized to 7 bits ("reduce_range") cannot saturate, and then both agree.
- ``none``: no AVX2 (or not x86): int8 falls back to slow generic code.

Everything here is read once from /proc/cpuinfo (Linux, which is where SageMaker runs); elsewhere
the flags are unknown and int8 is treated as ``none``. ``DOGOPS_EMULATED_ISA=avx2`` hides the
AVX-512, VNNI, BF16 and AMX flags: bench.avx2_serving sets it when it runs a benchmark with ONNX
Runtime's CPUID and PyTorch's kernels held to AVX2, so reports name the kernels that really ran.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
from pathlib import Path

INT8_FAST = ("vnni", "avx2")  # kernel classes with fast int8 paths in ONNX Runtime's MLAS
_VNNI_FLAGS = {"avx512_vnni", "avx_vnni", "amx_int8"}
_REPORTED = (
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512_vnni",
    "avx_vnni",
    "avx512_bf16",
    "amx_bf16",
    "amx_int8",
)


EMULATED_ISA_VARIABLE = "DOGOPS_EMULATED_ISA"
_ABSENT_ON_AVX2 = ("avx512", "avx_vnni", "amx")  # flag prefixes an AVX2-only CPU lacks


def emulated_isa() -> str | None:
    """``avx2`` when a benchmark holds this process to AVX2 kernels, else None."""
    return "avx2" if os.environ.get(EMULATED_ISA_VARIABLE, "").lower() == "avx2" else None


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = frozenset(line.split(":", 1)[1].split())
            if emulated_isa():
                flags = frozenset(f for f in flags if not f.startswith(_ABSENT_ON_AVX2))
            return flags
    return frozenset()


def int8_kernels(flags: frozenset[str] | set[str] | None = None) -> str:
    """``vnni``, ``avx2`` or ``none``: see the module docstring."""
    flags = cpu_flags() if flags is None else flags
    if _VNNI_FLAGS & set(flags):
        return "vnni"
    if "avx2" in flags:
        return "avx2"
    return "none"


def describe() -> dict:
    """What a benchmark or a training report records about the CPU it ran on."""
    flags = cpu_flags()
    info = {
        "machine": platform.machine(),
        "model": _model_name(),
        "flags": [flag for flag in _REPORTED if flag in flags],
        "int8_kernels": int8_kernels(flags),
    }
    if emulated_isa():
        info["emulated"] = "avx2 kernels on a CPU with more (bench.avx2_serving)"
    with contextlib.suppress(ImportError):  # torch is optional for this report
        import torch

        # What PyTorch dispatches to (ATEN_CPU_CAPABILITY=avx2 lowers it, for emulation).
        info["torch_capability"] = torch.backends.cpu.get_cpu_capability()
    return info


def summary(info: dict | None = None) -> str:
    """One line for logs and benchmark output."""
    info = info or describe()
    flags = ",".join(info["flags"]) or "no AVX2"
    torch_part = f", torch kernels {info['torch_capability']}" if "torch_capability" in info else ""
    emulated = " (AVX2 EMULATED: AVX-512/VNNI/BF16/AMX hidden)" if info.get("emulated") else ""
    return (
        f"{info['model'] or info['machine']}{emulated} [{flags}]; "
        f"int8 kernels {info['int8_kernels']}{torch_part}"
    )


def _model_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""
