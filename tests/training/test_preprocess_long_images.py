"""prepare_image on extreme aspect ratios: only the centre band is resized (no memory bomb)."""

import torch
from classifier.preprocess import prepare_image, resize_size_for
from torchvision.transforms.v2 import functional as F


def reference(image: torch.Tensor, size: int) -> torch.Tensor:
    """The plain resize-shorter-side + centre crop, without the band shortcut."""
    resized = F.resize(image, [resize_size_for(size)], antialias=True)
    cropped = F.center_crop(resized, [size, size]).to(torch.float32).div_(255.0)
    mean = torch.tensor((0.485, 0.456, 0.406)).view(3, 1, 1)
    std = torch.tensor((0.229, 0.224, 0.225)).view(3, 1, 1)
    return cropped.sub_(mean).div_(std)


def test_ordinary_photos_are_unchanged():
    torch.manual_seed(0)
    for shape in ((3, 100, 150), (3, 150, 100), (3, 60, 240), (3, 224, 224)):
        image = torch.randint(0, 256, shape, dtype=torch.uint8)
        assert torch.equal(prepare_image(image, 32), reference(image, 32))


def smooth(height: int, width: int) -> torch.Tensor:
    """A photo-like smooth image (a one-pixel shift changes it little, unlike noise)."""
    ys = torch.linspace(0, 6.28, height).view(height, 1)
    xs = torch.linspace(0, 6.28, width).view(1, width)
    channels = [127 + 120 * torch.sin(ys * k + xs * (4 - k)) for k in (1, 2, 3)]
    return torch.stack(channels).round().to(torch.uint8)


def test_long_images_match_the_plain_path_closely():
    for height, width in ((7, 900), (900, 7), (40, 1000), (2, 333)):
        image = smooth(height, width)
        fast, slow = prepare_image(image, 32), reference(image, 32)
        assert fast.shape == slow.shape == (3, 32, 32)
        # the same centre up to one pixel of rounding: normalised values agree closely
        assert (fast - slow).abs().mean() < 0.05, ((height, width), (fast - slow).abs().mean())


def test_a_one_pixel_wide_giant_is_cheap():
    """1 x 365171 (a 100-byte PNG): the plain path allocated a 13-million-pixel-long tensor."""
    image = torch.full((3, 365_171, 1), 128, dtype=torch.uint8)
    out = prepare_image(image, 224)
    assert out.shape == (3, 224, 224)
    assert torch.allclose(out, reference(image[:, :1000, :], 224))  # uniform: same pixels


def test_pixels_do_not_depend_on_memory_layout():
    """Decoding yields HWC memory seen as CHW; PIL's tensors are CHW: the same prepared image."""
    torch.manual_seed(1)
    for height, width in ((300, 451), (451, 300), (257, 255), (40, 1000)):
        hwc = torch.randint(0, 256, (height, width, 3), dtype=torch.uint8)
        view, packed = hwc.permute(2, 0, 1), hwc.permute(2, 0, 1).contiguous()
        assert torch.equal(prepare_image(view, 224), prepare_image(packed, 224))
        assert prepare_image(view, 224).is_contiguous()
