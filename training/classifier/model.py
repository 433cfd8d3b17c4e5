"""torchvision ResNet with a head sized to the classes, pretrained weights and freeze policies."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torchvision import models

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
