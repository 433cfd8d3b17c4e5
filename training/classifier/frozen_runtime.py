"""The frozen stages of a CPU float32 training run, on ONNX Runtime.

Frozen stages are pure inference: the same function on every step, no gradients. On CPU,
ONNX Runtime's float32 convolutions (prepacked weights, blocked layouts) compute a folded
ResNet-50 prefix in less time than PyTorch's eager oneDNN calls (measured at batch 32 on the
same cores: 1.5x with AVX-512 kernels, 1.4x with AVX2; bench.training_throughput prints both).
onnxruntime is already a training dependency (training checks the int8 model it exports).

The copy is exported from the folded frozen modules once, checked against them on a probe, and
used only if it agrees; anything that fails leaves the run on PyTorch, with a warning.
DOGOPS_FROZEN_RUNTIME=torch keeps the frozen stages on PyTorch.
"""

from __future__ import annotations

import io
import logging
import os

import torch
from torch import nn

from classifier.onnx_export import quiet_exporter

log = logging.getLogger(__name__)

RUNTIMES = ("onnxruntime", "torch")
# Float32 through two different kernel libraries: features agree to rounding, not bit for bit.
PROBE_RTOL, PROBE_ATOL = 1e-3, 1e-3


def requested_runtime() -> str:
    runtime = os.environ.get("DOGOPS_FROZEN_RUNTIME", "onnxruntime").strip().lower()
    if runtime not in RUNTIMES:
        raise ValueError(f"DOGOPS_FROZEN_RUNTIME={runtime!r}: choose one of {', '.join(RUNTIMES)}")
    return runtime


class OnnxFrozenStages:
    """``frozen`` (a gradient-free module, float32 NCHW images in) as an ONNX Runtime session;
    callable like the module. Threads follow PyTorch's, so DDP processes keep to their share."""

    def __init__(self, frozen: nn.Module, example: torch.Tensor):
        import onnxruntime

        buffer = io.BytesIO()
        with quiet_exporter():
            # The TorchScript exporter: seconds for a ResNet-50, and it needs no onnxscript.
            torch.onnx.export(
                frozen,
                (example,),
                buffer,
                input_names=["images"],
                output_names=["features"],
                dynamic_axes={"images": {0: "batch", 2: "height", 3: "width"}},
                dynamo=False,
            )
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.inter_op_num_threads = 1
        # Idle ORT threads would spin on the cores the trainable tail and data loading need.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(
            buffer.getvalue(), options, providers=["CPUExecutionProvider"]
        )
        with torch.no_grad():
            expected = frozen(example)
        got = self(example)
        if got.shape != expected.shape or not torch.allclose(
            got, expected, rtol=PROBE_RTOL, atol=PROBE_ATOL
        ):
            raise RuntimeError("ONNX Runtime's frozen stages disagree with PyTorch's")

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        array = images.detach().contiguous().numpy()  # NCHW, whatever layout came in
        return torch.from_numpy(self.session.run(None, {"images": array})[0])


def build_onnx_stages(frozen: nn.Module, images: torch.Tensor) -> OnnxFrozenStages | None:
    """An ONNX Runtime copy of ``frozen`` for inputs like ``images``, or None (with a warning)
    when it cannot be made or does not agree with PyTorch."""
    try:
        example = torch.randn(
            2, *images.shape[1:], generator=torch.Generator().manual_seed(0)
        )
        return OnnxFrozenStages(frozen, example)
    except Exception as error:  # noqa: BLE001  (any failure only costs the faster path)
        log.warning(
            "frozen stages stay on PyTorch (%s: %s)",
            type(error).__name__,
            str(error).splitlines()[0][:200] if str(error) else "",
        )
        return None
