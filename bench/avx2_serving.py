"""Serving latency and accuracy, and training throughput, on AVX2 kernels, measured on a CPU that
has AVX-512: bench.inference_latency, bench.serving_accuracy and bench.training_throughput (whose
float32 frozen stages run on ONNX Runtime) with ONNX Runtime and PyTorch held to the code an
AVX2-only CPU runs.

    .venv/bin/python -m bench.avx2_serving [--requests 300] [--check-only]

PyTorch can be told (ATEN_CPU_CAPABILITY=avx2, ONEDNN_MAX_CPU_ISA=AVX2,
MKL_ENABLE_INSTRUCTIONS=AVX2). ONNX Runtime cannot: its MLAS kernels are chosen from CPUID. So
this builds, under build/avx2-onnxruntime/<version>/, a copy of the installed onnxruntime
package whose Python extension has every ``cpuid`` instruction (found with objdump) replaced by
``int3; nop``, and bench/cpuid_mask.c, an LD_PRELOAD library that answers those traps with the
real CPUID minus AVX-512, VNNI and BF16 (needs gcc and objdump).

Before timing anything it proves the kernels changed: an 8-bit MatMulInteger whose u8 x s8 pair
sums overflow int16 gives the exact sum on this CPU's VNNI kernels and the saturated sum of the
AVX2 kernels (vpmaddubsw) under the mask; a float32 convolution's time is printed both ways.

Still an emulation: AVX2 code on this CPU's cores, caches and clocks, not an AVX2-only machine;
figures are labelled so. On a CPU without AVX-512 there is nothing to emulate: there,
bench.inference_latency's own figures are AVX2 figures, and this benchmark says so and stops.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MASK_SOURCE = REPO / "bench" / "cpuid_mask.c"
EXTENSION_GLOB = "capi/onnxruntime_pybind11_state*.so"
PAIR_TERMS = 64  # MatMulInteger depth: 32 pairs of 255 x 127 each overflow int16
EXACT_SUM = PAIR_TERMS * 255 * 127
SATURATED_SUM = PAIR_TERMS // 2 * 32767

if str(REPO / "training") not in sys.path:
    sys.path.insert(0, str(REPO / "training"))

from classifier import cpu


class EmulationError(RuntimeError):
    """The AVX2 emulation could not be built or did not change ONNX Runtime's kernels."""


def cap_dir() -> Path:
    import onnxruntime

    return REPO / "build" / "avx2-onnxruntime" / onnxruntime.__version__


def patch_cpuid(library: Path) -> int:
    """Replace every ``cpuid`` (0F A2) in ``library``'s code with ``int3; nop`` (CC 90)."""
    if shutil.which("objdump") is None:
        raise EmulationError("objdump is needed to find cpuid instructions (apt install binutils)")
    headers = subprocess.run(
        ["objdump", "-h", str(library)], capture_output=True, text=True, check=True
    ).stdout
    sections = []  # (address, size, file offset)
    for line in headers.splitlines():
        fields = line.split()
        if len(fields) >= 7 and fields[0].isdigit():
            sections.append((int(fields[3], 16), int(fields[2], 16), int(fields[5], 16)))
    listing = subprocess.run(
        ["objdump", "-d", "--no-show-raw-insn", str(library)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    addresses = [
        int(m.group(1), 16)
        for m in re.finditer(r"^\s*([0-9a-f]+):\s+cpuid\b", listing, re.MULTILINE)
    ]
    data = bytearray(library.read_bytes())
    for address in addresses:
        start, _, offset = next(s for s in sections if s[0] <= address < s[0] + s[1])
        position = address - start + offset
        if data[position : position + 2] != b"\x0f\xa2":
            raise EmulationError(f"{library.name}: no cpuid at {address:#x}; not patched")
        data[position : position + 2] = b"\xcc\x90"
    library.write_bytes(bytes(data))
    return len(addresses)


def build_cap(target: Path | None = None) -> Path:
    """The patched onnxruntime copy and the mask library in ``target`` (built once)."""
    import onnxruntime

    target = target or cap_dir()
    marker = target / "built.json"
    if marker.is_file():
        return target
    if shutil.which("gcc") is None:
        raise EmulationError("gcc is needed to build bench/cpuid_mask.c (apt install gcc)")
    if target.exists():
        shutil.rmtree(target)
    package = Path(onnxruntime.__file__).parent
    site = target / "site"
    # Symlinks to the installed files, except the extension module, which is copied and patched.
    shutil.copytree(package, site / "onnxruntime", copy_function=os.symlink)
    patched = 0
    for link in (site / "onnxruntime").glob(EXTENSION_GLOB):
        real = link.resolve()
        link.unlink()
        shutil.copy2(real, link)
        patched += patch_cpuid(link)
    if not patched:
        raise EmulationError(f"no cpuid instruction found in {package}/{EXTENSION_GLOB}")
    subprocess.run(
        ["gcc", "-O2", "-shared", "-fPIC", "-o", str(target / "cpuid_mask.so"), str(MASK_SOURCE)],
        check=True,
    )
    marker.write_text(json.dumps({"onnxruntime": onnxruntime.__version__, "cpuid_sites": patched}))
    return target


def emulated_environment(cap: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(cap / "site"), str(REPO)])),
        "LD_PRELOAD": str(cap / "cpuid_mask.so"),
        "CPUID_MASK_QUIET": "1",
        "ATEN_CPU_CAPABILITY": "avx2",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
        "MKL_ENABLE_INSTRUCTIONS": "AVX2",
        cpu.EMULATED_ISA_VARIABLE: "avx2",
    }


def probe() -> dict:
    """What ONNX Runtime computes and how fast, in this process: the kernel fingerprint."""
    import numpy as np
    import onnxruntime
    from onnx import TensorProto, helper

    def session(nodes, inputs, outputs, initializers):
        graph = helper.make_graph(nodes, "probe", inputs, outputs, initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        model.ir_version = 8
        return onnxruntime.InferenceSession(
            model.SerializeToString(), providers=["CPUExecutionProvider"]
        )

    weights = np.full((PAIR_TERMS, 8), 127, np.int8)
    matmul = session(
        [helper.make_node("MatMulInteger", ["a", "b"], ["y"])],
        [helper.make_tensor_value_info("a", TensorProto.UINT8, [4, PAIR_TERMS])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [4, 8])],
        [helper.make_tensor("b", TensorProto.INT8, weights.shape, weights.tobytes(), raw=True)],
    )
    int8_sum = int(matmul.run(None, {"a": np.full((4, PAIR_TERMS), 255, np.uint8)})[0][0, 0])
    kernel = np.random.default_rng(0).random((256, 256, 3, 3), dtype=np.float32)
    conv = session(
        [helper.make_node("Conv", ["x", "w"], ["z"], pads=[1, 1, 1, 1])],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 256, 56, 56])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)],
        [helper.make_tensor("w", TensorProto.FLOAT, kernel.shape, kernel.tobytes(), raw=True)],
    )
    feed = {"x": np.random.default_rng(1).random((1, 256, 56, 56), dtype=np.float32)}
    for _ in range(3):
        conv.run(None, feed)
    times = []
    for _ in range(10):
        started = time.perf_counter()
        conv.run(None, feed)
        times.append(time.perf_counter() - started)
    return {
        "onnxruntime": onnxruntime.__file__,
        "int8_pair_sum": int8_sum,
        "fp32_conv_ms": round(sorted(times)[len(times) // 2] * 1000, 2),
        "cpu": cpu.summary(),
    }


def run_probe(env: dict[str, str] | None) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "bench.avx2_serving", "--probe"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise EmulationError(f"probe failed ({done.returncode}): {done.stderr.strip()[-800:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def check(cap: Path) -> dict:
    """Native vs masked probe; raises unless the masked ONNX Runtime runs AVX2 int8 kernels."""
    native = run_probe(None)
    masked = run_probe(emulated_environment(cap))
    if not masked["onnxruntime"].startswith(str(cap)):
        raise EmulationError(f"the masked run imported {masked['onnxruntime']}, not the copy")
    if masked["int8_pair_sum"] != SATURATED_SUM:
        raise EmulationError(
            f"masked ONNX Runtime summed {masked['int8_pair_sum']}, not the AVX2 kernels' "
            f"saturated {SATURATED_SUM}: the mask did not change its kernels"
        )
    print(f"native: {native['cpu']}")
    print(
        f"  int8 pair sum {native['int8_pair_sum']} (exact {EXACT_SUM}), "
        f"float32 conv {native['fp32_conv_ms']} ms"
    )
    print(f"masked: {masked['cpu']}")
    print(
        f"  int8 pair sum {masked['int8_pair_sum']} (AVX2 vpmaddubsw saturation), "
        f"float32 conv {masked['fp32_conv_ms']} ms"
    )
    return {"native": native, "masked": masked}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, help="default: bench.inference_latency's")
    parser.add_argument("--check-only", action="store_true", help="build and verify, no timing")
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe:
        print(json.dumps(probe()))
        return {}
    if "avx512f" not in cpu.cpu_flags():
        message = (
            f"nothing to emulate on {cpu.summary()}: bench.inference_latency's figures are "
            "this CPU's own"
        )
        print(message)
        return {"benchmark": "avx2_serving", "cpu": cpu.describe(), "not_run": message}
    try:
        cap = build_cap()
        fingerprint = check(cap)
    except (EmulationError, subprocess.CalledProcessError) as error:
        raise SystemExit(f"AVX2 emulation unavailable: {error}") from None
    result = {"benchmark": "avx2_serving", "check": fingerprint}
    if args.check_only:
        return result
    for name, extra in (
        ("inference_latency", [] if args.requests is None else ["--requests", str(args.requests)]),
        ("serving_accuracy", []),  # trains, exports and checks int8 under the mask as well
        ("training_throughput", []),  # float32 frozen stages run on ONNX Runtime too
    ):
        result[name] = run_masked(cap, name, extra)
    return result


def run_masked(cap: Path, name: str, extra: list[str]) -> dict:
    """Run ``bench.<name>`` under the emulation; echo its lines, return its final JSON."""
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", *extra],
        cwd=REPO,
        env=emulated_environment(cap),
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    for line in lines[:-1]:
        print(f"[avx2 emulated] {line}", flush=True)
    if done.returncode != 0 or not lines:
        raise SystemExit(f"bench.{name} failed under the AVX2 emulation ({done.returncode})")
    return json.loads(lines[-1])


if __name__ == "__main__":
    main()
