"""bench.kernel_ceiling: the multiply-accumulate count agrees with torchvision's own figures, and
the GEMM rate comes from a product that was checked."""

from __future__ import annotations

import numpy as np
import pytest
import torchvision

from bench import kernel_ceiling


@pytest.mark.parametrize(
    ("builder", "weights"),
    [
        (torchvision.models.resnet18, torchvision.models.ResNet18_Weights.IMAGENET1K_V1),
        (torchvision.models.resnet50, torchvision.models.ResNet50_Weights.IMAGENET1K_V2),
    ],
)
def test_macs_match_torchvision_metadata(builder, weights):
    macs = kernel_ceiling.model_macs(builder(weights=None).eval(), 224)
    assert macs / 1e9 == pytest.approx(weights.meta["_ops"], rel=0.005)


def test_macs_scale_with_pixels():
    model = torchvision.models.resnet18(weights=None).eval()
    small, large = kernel_ceiling.model_macs(model, 224), kernel_ceiling.model_macs(model, 448)
    head = 512 * 1000  # the linear layer does not grow with the image
    assert (large - head) == pytest.approx(4 * (small - head), rel=1e-6)


@pytest.mark.parametrize("precision", ["int8", "fp32"])
def test_gemm_rate_is_positive_on_a_checked_product(precision):
    assert kernel_ceiling.gemm_rate(precision, threads=1, side=96, repeats=2) > 0


def test_gemm_rate_refuses_a_wrong_product(monkeypatch):
    class Lazy:  # answers at once, with a product it never computed
        def run(self, _outputs, feeds):
            return [np.zeros_like(feeds["a"], dtype=np.int32)]

    monkeypatch.setattr(kernel_ceiling, "_gemm_session", lambda *args: Lazy())
    with pytest.raises(RuntimeError, match="wrong product"):
        kernel_ceiling.gemm_rate("int8", side=32, repeats=1)
