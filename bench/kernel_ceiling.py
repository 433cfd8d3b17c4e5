"""How close a forward pass already runs to what ONNX Runtime's kernels can do on this CPU.

Batching raises throughput only where a batch-1 forward pass leaves the cores idle or the
kernels short of their rate. This measures both ends in the same process: the model's
multiply-accumulates (counted on its PyTorch modules) per second of forward pass, and the rate
ONNX Runtime's own GEMM reaches on large matrices (int8: MatMulInteger, u8 x s8, the same MLAS
GEMM family QLinearConv runs on; float32: MatMul), with the same threading as serving. A forward
pass near the GEMM rate at batch 1 leaves the kernels little a batch can add.

A ceiling of ONNX Runtime's GEMM, not of the silicon: a kernel the convolutions do not use (AMX,
for one) can put it far above them. Not a benchmark by itself (no ``main``): used by
bench.inference_latency.
"""

from __future__ import annotations

import time

import numpy as np
import torch

GEMM_SIDE = 1024  # M = K = N: about 1.07 G multiply-accumulates, far from cache-bound edges
GEMM_REPEATS = 40  # best of: the machine may be shared (about 0.4 s of AVX2 int8 GEMM)


def model_macs(model: torch.nn.Module, image_size: int) -> int:
    """Multiply-accumulates of one image through ``model``'s convolutions and linear layers
    (what torchvision's weight metadata calls GFLOPS)."""
    total = 0

    def count(module, _inputs, output):
        nonlocal total
        if isinstance(module, torch.nn.Conv2d):
            kernel = module.kernel_size[0] * module.kernel_size[1]
            total += output.numel() * (module.in_channels // module.groups) * kernel
        else:
            total += output.numel() * module.in_features

    hooks = [
        module.register_forward_hook(count)
        for module in model.modules()
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear))
    ]
    try:
        with torch.inference_mode():
            model(torch.zeros(1, 3, image_size, image_size))
    finally:
        for hook in hooks:
            hook.remove()
    return total


def _gemm_session(precision: str, weights: np.ndarray, threads: int):
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper

    op, input_type, output_type = {
        "int8": ("MatMulInteger", TensorProto.UINT8, TensorProto.INT32),
        "fp32": ("MatMul", TensorProto.FLOAT, TensorProto.FLOAT),
    }[precision]
    side = weights.shape[0]
    graph = helper.make_graph(
        [helper.make_node(op, ["a", "b"], ["y"])],
        f"{precision}_gemm",
        [helper.make_tensor_value_info("a", input_type, [None, side])],
        [helper.make_tensor_value_info("y", output_type, [None, weights.shape[1]])],
        [numpy_helper.from_array(weights, "b")],
    )
    # IR 9 / opset 13: what every onnxruntime this project pins can load.
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=9)
    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # as serving
    if threads > 0:
        options.intra_op_num_threads = threads
    return onnxruntime.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def gemm_rate(precision: str, threads: int = 0, side: int = GEMM_SIDE,
              repeats: int = GEMM_REPEATS) -> float:
    """Multiply-accumulates per second of ONNX Runtime's ``precision`` GEMM ("int8" or "fp32")
    on ``side``-square matrices, best of ``repeats``; the product is checked against numpy so a
    kernel that skipped work cannot pass for a fast one."""
    rng = np.random.default_rng(0)
    # 7-bit weights, as training's int8 model has (reduce_range): no int16 saturation on AVX2.
    weights = rng.integers(-63, 64, (side, side), dtype=np.int8)
    left = rng.integers(0, 256, (side, side), dtype=np.uint8)
    if precision == "fp32":
        weights, left = weights.astype(np.float32), left.astype(np.float32)
    session = _gemm_session(precision, weights, threads)
    best = float("inf")
    for _ in range(repeats + 1):  # the first run warms up (weights packing, thread pool)
        started = time.perf_counter()
        product = session.run(None, {"a": left})[0]
        best = min(best, time.perf_counter() - started)
    expected = left.astype(np.int64) @ weights.astype(np.int64)
    if not np.array_equal(product.astype(np.int64), expected):
        raise RuntimeError(f"ONNX Runtime's {precision} GEMM gave a wrong product")
    return side**3 / best
