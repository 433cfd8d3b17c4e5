"""torchvision ResNet with a head sized to the classes, pretrained weights and freeze policies."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torchvision import models

from classifier.frozen_runtime import build_onnx_stages, requested_runtime

ARCHITECTURES = {
    "resnet18": (models.resnet18, models.ResNet18_Weights),
    "resnet34": (models.resnet34, models.ResNet34_Weights),
    "resnet50": (models.resnet50, models.ResNet50_Weights),
}
FREEZE_POLICIES = ("head", "last-block", "none")
# Parameter-name prefixes that stay trainable under each policy.
_TRAINABLE = {"head": ("fc.",), "last-block": ("layer4.", "fc."), "none": ("",)}


class ModelError(ValueError):
    """Bad architecture, weights or policy; the message says what to fix."""


def build_model(
    arch: str, num_classes: int, pretrained: str = "none", freeze: str = "none"
) -> nn.Module:
    """Architecture with ``weights=None``, optional backbone weights, then a new ``fc`` head."""
    if arch not in ARCHITECTURES:
        raise ModelError(f"unknown --arch {arch!r}; choose from {sorted(ARCHITECTURES)}")
    if num_classes < 2:
        raise ModelError(f"need at least 2 classes, got {num_classes}")
    constructor, weights_enum = ARCHITECTURES[arch]
    model = constructor(weights=None)
    if pretrained == "imagenet":
        model.load_state_dict(_imagenet_state(arch, weights_enum))
    elif pretrained not in ("none", "", None):
        _load_backbone_file(model, Path(pretrained))
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    apply_freeze(model, freeze)
    return model


def _imagenet_state(arch: str, weights_enum) -> dict:
    weights = weights_enum.IMAGENET1K_V1
    try:
        return weights.get_state_dict(progress=False, check_hash=True)
    except Exception as error:  # noqa: BLE001  (URLError, socket, hash mismatch: "no weights")
        raise ModelError(
            f"could not download ImageNet weights for {arch} ({type(error).__name__}: {error}). "
            "Offline, pass --pretrained none or --pretrained /path/to/weights.pth"
        ) from None


def _load_backbone_file(model: nn.Module, path: Path) -> None:
    if not path.is_file():
        raise ModelError(f"--pretrained: weights file not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001  (torch.load raises many kinds)
        raise ModelError(f"--pretrained: cannot read {path}: {error}") from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ModelError(f"--pretrained: {path} does not hold a state_dict")
    state = {k.removeprefix("module."): v for k, v in state.items()}  # DDP-saved files
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}  # the head is new
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.startswith("fc.")]
    if missing or result.unexpected_keys:
        raise ModelError(
            f"--pretrained: {path} does not match the architecture "
            f"(missing {missing[:3]}, unexpected {result.unexpected_keys[:3]})"
        )


def apply_freeze(model: nn.Module, policy: str) -> None:
    if policy not in FREEZE_POLICIES:
        raise ModelError(f"unknown --freeze {policy!r}; choose from {FREEZE_POLICIES}")
    prefixes = _TRAINABLE[policy]
    for name, parameter in model.named_parameters():
        parameter.requires_grad = name.startswith(prefixes)


def set_train_mode(model: nn.Module) -> None:
    """Train mode for trainable parts; frozen modules stay in eval so their BatchNorm statistics
    stay frozen too (and the frozen backbone runs as cheap inference)."""
    model.train()
    for module in model.modules():
        own = list(module.parameters(recurse=False))
        if own and not any(p.requires_grad for p in own):
            module.eval()


def trainable_parameters(model: nn.Module) -> list[nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]


def native_bf16_cpu() -> bool:
    """True where the CPU computes bfloat16 natively (AVX512-BF16 or AMX); elsewhere bf16 is
    emulated and slower than float32."""
    if torch.backends.cpu.get_cpu_capability() != "AVX512":
        return False  # kernels limited below AVX-512 (ATEN_CPU_CAPABILITY=avx2): no native bf16
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


class FrozenPrefixModel(nn.Module):
    """Training view of a ResNet whose leading stages are frozen (``--freeze head/last-block``).

    The frozen stages never change during training and run in eval mode anyway, so they run as
    a conv+BatchNorm-folded copy under ``no_grad`` (bfloat16 on CPUs with native bf16, as CUDA
    AMP does with float16; float32 on ONNX Runtime on other CPUs: classifier.frozen_runtime);
    only the trainable tail is built from the live modules and runs under autograd. The live
    model keeps every weight, so checkpoints and exports are unchanged.
    Build it after any weights are loaded: the folded copy is a snapshot of the frozen stages.
    """

    def __init__(
        self, model: nn.Module, channels_last: bool = True, frozen_runtime: str | None = None
    ):
        super().__init__()
        from torch.fx.experimental.optimization import fuse

        stages = []
        for name, module in model.named_children():  # torchvision ResNet: in forward order
            if name == "fc":
                stages.append(nn.Flatten(1))
            stages.append(module)
        cut = 0
        while cut < len(stages) and not any(p.requires_grad for p in stages[cut].parameters()):
            cut += 1
        frozen = fuse(nn.Sequential(*stages[:cut]).eval())  # a folded copy, not the live modules
        frozen.requires_grad_(False)
        if channels_last:
            frozen.to(memory_format=torch.channels_last)
        self.frozen = frozen
        self.tail = nn.Sequential(*stages[cut:])
        self.bf16 = native_bf16_cpu()
        self.channels_last = channels_last
        self.frozen_runtime = frozen_runtime or requested_runtime()
        self._onnx_stages = None  # built on the first CPU float32 batch (it needs its shape)
        self._onnx_tried = False

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():  # not inference_mode: the tail's autograd saves these features
            if images.device.type == "cpu" and self.bf16:
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    features = self.frozen(images)
                features = features.float()
            elif images.device.type == "cpu" and self._onnx(images) is not None:
                features = self._onnx_stages(images)
                if self.channels_last and features.dim() == 4:
                    features = features.contiguous(memory_format=torch.channels_last)
            else:
                features = self.frozen(images)
        return self.tail(features)

    def _onnx(self, images: torch.Tensor):
        if self.frozen_runtime == "onnxruntime" and not self._onnx_tried:
            self._onnx_tried = True
            self._onnx_stages = build_onnx_stages(self.frozen, images)
        return self._onnx_stages

    def prepare_runtime(self, images: torch.Tensor) -> None:
        """Build the frozen stages' ONNX Runtime copy (for batches shaped like ``images``) now
        rather than on the first CPU float32 batch; a once-per-run cost (seconds)."""
        if images.device.type == "cpu" and not self.bf16:
            self._onnx(images)

    @property
    def runtime_used(self) -> str:
        """What ran the frozen stages on CPU: "torch-bf16", "onnxruntime" or "torch"."""
        if self.bf16:
            return "torch-bf16"
        return "onnxruntime" if self._onnx_stages is not None else "torch"

    def train(self, mode: bool = True):
        super().train(mode)
        self.frozen.eval()  # always inference
        return self


def training_view(
    model: nn.Module, channels_last: bool = True, frozen_runtime: str | None = None
) -> nn.Module:
    """:class:`FrozenPrefixModel` when a ResNet starts with frozen stages, else the model.
    ``frozen_runtime`` ("onnxruntime" or "torch"; default: DOGOPS_FROZEN_RUNTIME, else
    onnxruntime) runs the frozen stages of CPU float32 training."""
    if not isinstance(model, models.ResNet) or next(model.parameters()).requires_grad:
        return model
    if not any(p.requires_grad for p in model.parameters()):
        return model
    return FrozenPrefixModel(model, channels_last, frozen_runtime)


def revert_sync_batchnorm(module: nn.Module) -> nn.Module:
    """Swap ``SyncBatchNorm`` layers back to ``BatchNorm2d``, sharing parameters and buffers,
    so the saved and exported model is the plain architecture the serving side rebuilds."""
    for name, child in module.named_children():
        if isinstance(child, nn.SyncBatchNorm):
            plain = nn.BatchNorm2d(
                child.num_features,
                child.eps,
                child.momentum,
                child.affine,
                child.track_running_stats,
            )
            if child.affine:
                plain.weight, plain.bias = child.weight, child.bias
            if child.track_running_stats:
                plain.running_mean = child.running_mean
                plain.running_var = child.running_var
                plain.num_batches_tracked = child.num_batches_tracked
            plain.train(child.training)
            setattr(module, name, plain)
        else:
            revert_sync_batchnorm(child)
    return module
