"""Dataset discovery, transforms and loaders for the ImageFolder layout train/ valid/ test/."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler
from torchvision import datasets, transforms

from classifier.preprocess import IMAGENET_MEAN, IMAGENET_STD, EvalTransform

SPLITS = ("train", "valid", "test")
AUGMENTATIONS = ("standard", "crop", "none")


class DataError(ValueError):
    """The dataset is missing or inconsistent; the message says what to fix."""


def human_label(class_name: str) -> str:
    """``046.Carolina_dog`` -> ``Carolina dog``."""
    prefix, dot, rest = class_name.partition(".")
    name = rest if dot and prefix.isdigit() else class_name
    return name.replace("_", " ")


def resolve_split_dirs(
    data_dir: str | None = None,
    train_dir: str | None = None,
    valid_dir: str | None = None,
    test_dir: str | None = None,
) -> dict[str, Path]:
    """Directories of the three splits: explicit ones win, else ``data_dir/<split>``."""
    explicit = {"train": train_dir, "valid": valid_dir, "test": test_dir}
    resolved = {}
    for split in SPLITS:
        if explicit[split]:
            resolved[split] = Path(explicit[split])
        elif data_dir:
            resolved[split] = Path(data_dir) / split
        else:
            raise DataError(
                f"no directory for the {split!r} split: pass --data-dir (holding train/ valid/ "
                f"test/) or --{split}-dir, or set SM_CHANNEL_{split.upper()}"
            )
        if not resolved[split].is_dir():
            raise DataError(f"{split} directory does not exist: {resolved[split]}")
    return resolved


def train_transform(image_size: int, augment: str = "standard"):
    if augment not in AUGMENTATIONS:
        raise DataError(f"unknown augmentation {augment!r}; choose from {AUGMENTATIONS}")
    steps = []
    if augment == "none":
        return EvalTransform(image_size)
    steps.append(transforms.RandomResizedCrop(image_size, scale=(0.6, 1.0), antialias=True))
    if augment == "standard":
        steps.append(transforms.RandomHorizontalFlip())
    steps += [
        transforms.Lambda(_to_rgb),
        transforms.ToTensor(),
        transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ]
    return transforms.Compose(steps)


def _to_rgb(image):
    return image.convert("RGB")


@dataclass
class SplitData:
    datasets: dict[str, Dataset]
    class_names: list[str]


def load_splits(split_dirs: dict[str, Path], image_size: int, augment: str) -> SplitData:
    built = {}
    for split in SPLITS:
        transform = train_transform(image_size, augment) if split == "train" else None
        try:
            built[split] = datasets.ImageFolder(
                str(split_dirs[split]), transform=transform or EvalTransform(image_size)
            )
        except (FileNotFoundError, RuntimeError) as error:  # empty dir / no images
            raise DataError(f"{split} split at {split_dirs[split]}: {error}") from None
    class_names = built["train"].classes
    for split in ("valid", "test"):
        if built[split].classes != class_names:
            missing = sorted(set(class_names) ^ set(built[split].classes))
            raise DataError(
                f"{split} classes differ from train classes (mismatch: {missing[:5]}...)"
            )
    return SplitData(datasets=built, class_names=list(class_names))


class ShardSampler(Sampler[int]):
    """Evaluation sampler: rank r gets indices r, r+W, ... with no padding, so sums over ranks
    count every sample exactly once (DistributedSampler pads with duplicates)."""

    def __init__(self, length: int, rank: int, world_size: int):
        self.indices = list(range(rank, length, world_size))

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def build_loader(
    dataset: Dataset,
    *,
    batch_size: int,
    train: bool,
    num_workers: int,
    rank: int = 0,
    world_size: int = 1,
    seed: int = 0,
    pin_memory: bool = False,
) -> DataLoader:
    if train:
        sampler: Sampler = DistributedSampler(
            dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed
        )
        # A last batch of one sample breaks BatchNorm in train mode; drop the ragged tail.
        drop_last = len(sampler) > batch_size
    else:
        sampler = ShardSampler(len(dataset), rank, world_size)
        drop_last = False
    generator = torch.Generator()
    generator.manual_seed(seed + rank)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        pin_memory=pin_memory,
        drop_last=drop_last,
        persistent_workers=num_workers > 0,
        generator=generator,
    )


def default_num_workers() -> int:
    return max(0, min(8, (os.cpu_count() or 1) - 1))
