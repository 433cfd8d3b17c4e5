"""Offline sample dataset: scikit-learn's real handwritten digits as an ImageFolder tree.

The layout mirrors the Udacity dogImages set (``train/ valid/ test/`` with ``NNN.Class_name``
folders) so every tool that handles the dog data handles this too, with no download.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

CLASS_NAMES = tuple(
    f"{index + 1:03d}.{name}"
    for index, name in enumerate(
        ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
    )
)
SPLITS = ("train", "valid", "test")
_MANIFEST = "digits-manifest.json"


def _split_indices(
    targets: np.ndarray, fractions: tuple[float, float, float], seed: int
) -> dict[str, list[int]]:
    """Stratified, seeded split: every class appears in every split in the same proportions."""
    rng = np.random.default_rng(seed)
    splits: dict[str, list[int]] = {split: [] for split in SPLITS}
    for label in np.unique(targets):
        members = np.flatnonzero(targets == label)
        rng.shuffle(members)
        n_train = round(len(members) * fractions[0])
        n_valid = round(len(members) * fractions[1])
        splits["train"].extend(members[:n_train].tolist())
        splits["valid"].extend(members[n_train : n_train + n_valid].tolist())
        splits["test"].extend(members[n_train + n_valid :].tolist())
    return {split: sorted(indices) for split, indices in splits.items()}


def _expected_manifest(image_size: int, seed: int, fractions, counts: dict[str, int]) -> dict:
    return {
        "source": "sklearn.datasets.load_digits",
        "image_size": image_size,
        "seed": seed,
        "fractions": list(fractions),
        "classes": list(CLASS_NAMES),
        "counts": counts,
    }


def make_digits_imagefolder(
    root: Path,
    *,
    image_size: int = 32,
    seed: int = 0,
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
) -> Path:
    """Write the digits as PNGs into ``root/{train,valid,test}/{001.zero..010.nine}/``.

    Deterministic: the same arguments give byte-identical files. A tree already written with the
    same arguments (recorded in a manifest written last) is left as it is. Returns ``root``.
    """
    from sklearn.datasets import load_digits  # heavy import, only needed here

    if image_size < 8:
        raise ValueError(f"image_size must be >= 8, got {image_size}")
    if len(fractions) != 3 or abs(sum(fractions) - 1.0) > 1e-6 or min(fractions) <= 0:
        raise ValueError(f"fractions must be three positive numbers summing to 1, got {fractions}")
    root = Path(root)
    digits = load_digits()
    splits = _split_indices(digits.target, tuple(fractions), seed)
    counts = {split: len(indices) for split, indices in splits.items()}
    manifest = _expected_manifest(image_size, seed, fractions, counts)
    manifest_path = root / _MANIFEST
    if manifest_path.is_file():
        try:
            if json.loads(manifest_path.read_text()) == manifest and _complete(root, counts):
                return root
        except (OSError, ValueError):
            pass  # unreadable manifest: rebuild below
    for split in SPLITS:  # stale or partial tree from other arguments: start clean
        shutil.rmtree(root / split, ignore_errors=True)
    manifest_path.unlink(missing_ok=True)

    for split, indices in splits.items():
        for class_name in CLASS_NAMES:
            (root / split / class_name).mkdir(parents=True, exist_ok=True)
        for index in indices:
            # 0..16 intensities -> 0..255, dark digit on light paper like a scanned page
            pixels = (255 - digits.images[index] * (255.0 / 16.0)).round().astype(np.uint8)
            image = Image.fromarray(pixels).resize(
                (image_size, image_size), Image.Resampling.BICUBIC
            )
            label = int(digits.target[index])
            image.save(root / split / CLASS_NAMES[label] / f"digit_{index:04d}.png", optimize=False)
    manifest_path.write_text(json.dumps(manifest, indent=2))
    return root


def _complete(root: Path, counts: dict[str, int]) -> bool:
    return all(len(list((root / split).glob("*/*.png"))) == n for split, n in counts.items())


def human_label(class_name: str) -> str:
    """``046.Carolina_dog`` -> ``Carolina dog`` (the label the endpoint returns)."""
    prefix, dot, rest = class_name.partition(".")
    name = rest if dot and prefix.isdigit() else class_name
    return name.replace("_", " ")


def sample_image(root: Path, class_name: str = "008.seven") -> tuple[Path, str]:
    """A known test image and its expected human label, for the demo's final prediction."""
    folder = Path(root) / "test" / class_name
    images = sorted(folder.glob("*.png"))
    if not images:
        raise FileNotFoundError(f"no test images under {folder}; run make_digits_imagefolder first")
    return images[0], human_label(class_name)
