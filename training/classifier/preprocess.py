"""Evaluation preprocessing on tensors, shared by validation/test and the endpoint.

Training evaluation and serving call the same function, so a served prediction is computed on
exactly the pixels the reported test accuracy was measured on.
"""

from __future__ import annotations

import math

import torch
from torchvision.transforms.v2 import functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def resize_size_for(image_size: int) -> int:
    """Shorter side before the centre crop (the usual 256 -> 224 ratio)."""
    return round(image_size * 256 / 224)


def prepare_image(
    image: torch.Tensor,
    image_size: int,
    mean: tuple[float, ...] = IMAGENET_MEAN,
    std: tuple[float, ...] = IMAGENET_STD,
) -> torch.Tensor:
    """uint8 CHW RGB image -> normalised float CHW tensor: resize shorter side, centre crop."""
    if image.dtype != torch.uint8 or image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"expected a uint8 3xHxW tensor, got {image.dtype} {tuple(image.shape)}")
    image = _central_band(image, image_size)
    # torchvision v2 resizes uint8 pixels in torch's native uint8 kernel when they lie channels
    # last (HWC, as images decode; a no-op view then): 0.4 ms vs 3.2 ms for v1's float path on
    # one core at serving sizes, whose rounding differs by at most one level (bench.serving_accuracy).
    image = image.permute(1, 2, 0).contiguous().permute(2, 0, 1)
    image = F.resize(image, [resize_size_for(image_size)], antialias=True)
    image = F.center_crop(image, [image_size, image_size]).contiguous()
    tensor = image.to(torch.float32).div_(255.0)
    mean_t = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)
    return tensor.sub_(mean_t).div_(std_t)


# Beyond this aspect ratio only a thin centre band survives the crop: cut it out first.
_BAND_ASPECT = 4


def _central_band(image: torch.Tensor, image_size: int) -> torch.Tensor:
    """The centre of a very long image, with margin for the resize filter; others unchanged.

    Resizing the shorter side first would scale the long side with it: a 100-byte 1x365171 PNG
    became a 13-million-pixel-long tensor at 32 px (44 s) and 72 GB at 224 px. The crop keeps
    `image_size` output pixels, i.e. `image_size * short / resize` source pixels of the long
    side; the band keeps those plus the antialias filter's reach on each side, so the crop sees
    the same neighbourhood (up to one pixel of rounding in where the centre falls)."""
    _, height, width = image.shape
    short, long = min(height, width), max(height, width)
    if long <= _BAND_ASPECT * short:
        return image  # ordinary photos: exactly the plain resize + crop
    scale = short / resize_size_for(image_size)  # source pixels per output pixel
    band = math.ceil(image_size * scale) + 2 * (4 * math.ceil(scale) + 4)
    if band >= long:
        return image
    start = (long - band) // 2
    if height > width:
        return image[:, start:start + band, :]
    return image[:, :, start:start + band]


class EvalTransform:
    """PIL image -> normalised tensor through :func:`prepare_image` (picklable for workers)."""

    def __init__(self, image_size: int, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        self.image_size = image_size
        self.mean = tuple(mean)
        self.std = tuple(std)

    def __call__(self, pil_image) -> torch.Tensor:
        return prepare_image(
            F.pil_to_tensor(pil_image.convert("RGB")), self.image_size, self.mean, self.std
        )
