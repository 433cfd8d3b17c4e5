"""The evaluation report at 133 classes, from synthetic predictions with planted confusions."""

from __future__ import annotations

import json

import numpy as np
import pytest
from classifier import report
from PIL import Image

N_CLASSES = 133
# (true, predicted, count): the confusions a reader must be able to find.
PLANTED = [(10, 11, 9), (11, 10, 6), (40, 41, 5), (77, 3, 4), (120, 121, 3)]


def breed_labels(n: int = N_CLASSES) -> list[str]:
    return [f"Breed number {i:03d}" for i in range(n)]


def synthetic_confusion(seed: int = 0) -> np.ndarray:
    """6 test images per class, mostly right, a little background noise, planted confusions."""
    rng = np.random.default_rng(seed)
    matrix = np.zeros((N_CLASSES, N_CLASSES), dtype=np.int64)
    np.fill_diagonal(matrix, 6)
    for true in rng.choice(N_CLASSES, size=20, replace=False):  # single stray errors
        wrong = (true + 1 + rng.integers(N_CLASSES - 1)) % N_CLASSES
        matrix[true, true] -= 1
        matrix[true, wrong] += 1
    for true, predicted, count in PLANTED:
        matrix[true, predicted] += count  # extra images of the true class, all misread
    return matrix


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    confusion = synthetic_confusion()
    history = [
        {"epoch": e, "train_loss": 2.0 / e, "train_accuracy": 0.5 + 0.1 * e,
         "valid_loss": [1.2, 0.8, 0.9][e - 1], "valid_accuracy": [0.6, 0.75, 0.74][e - 1]}
        for e in (1, 2, 3)
    ]
    n = int(confusion.sum())
    metrics = {
        "hyperparameters": {"arch": "resnet50", "image_size": 224, "learning_rate": 0.003},
        "world_size": 2, "batch": {"global": 64}, "device": "cuda:0",
        "history": history, "best_epoch": 2, "best_valid_loss": 0.8,
        "test": {"loss": 0.7, "accuracy": int(np.trace(confusion)) / n, "samples": n,
                 "confusion_matrix": confusion.tolist()},
    }
    out = tmp_path_factory.mktemp("report")
    return report.write_report(out, metrics, breed_labels()), confusion


def test_most_confused_pairs_are_the_planted_ones_in_order(written):
    paths, confusion = written
    pairs = json.loads(paths["metrics"].read_text())["test"]["confused_pairs"]
    top = [(p["true"], p["predicted"], p["count"]) for p in pairs[: len(PLANTED)]]
    labels = breed_labels()
    assert top == [(labels[t], labels[p], c) for t, p, c in PLANTED]
    assert pairs[0]["share_of_true"] == pytest.approx(9 / confusion[10].sum())
    assert all(p["true"] != p["predicted"] for p in pairs)


def test_per_class_figures_cover_every_class(written):
    paths, confusion = written
    per_class = json.loads(paths["metrics"].read_text())["test"]["per_class"]
    assert len(per_class) == N_CLASSES
    assert per_class[10]["support"] == confusion[10].sum()
    assert per_class[10]["accuracy"] == pytest.approx(confusion[10, 10] / confusion[10].sum())
    assert per_class[11]["precision"] == pytest.approx(confusion[11, 11] / confusion[:, 11].sum())


def test_matrix_keeps_the_classes_involved_in_errors():
    confusion = synthetic_confusion()
    keep = report.focus_classes(confusion)
    assert len(keep) == report.MAX_MATRIX_CLASSES and keep == sorted(keep)
    assert {10, 11, 40, 41, 77, 3, 120, 121} <= set(keep)
    assert report.focus_classes(confusion[:5, :5]) == [0, 1, 2, 3, 4]


def test_pictures_stay_legible_at_133_classes(written):
    paths, _ = written
    for key in ("curve", "confusion", "per_class"):
        with Image.open(paths[key]) as image:
            assert image.format == "PNG"
            # The old 133-class matrix was a 4000x4000 image with no labels.
            assert max(image.size) <= 1600, (key, image.size)
            assert min(image.size) >= 300, (key, image.size)


def test_markdown_summary_names_the_confusions_and_the_weakest_classes(written):
    paths, confusion = written
    text = paths["summary"].read_text()
    labels = breed_labels()
    assert f"| {labels[10]} | {labels[11]} | 9 |" in text
    assert "Saved model: epoch 2 of 3" in text
    for picture in ("training_curve.png", "confusion_matrix.png", "per_class_accuracy.png"):
        assert f"({picture})" in text
    worst = min(range(N_CLASSES), key=lambda i: (confusion[i, i] / confusion[i].sum(),
                                                 labels[i]))
    assert f"| {labels[worst]} |" in text.split("weakest classes")[1]


def test_a_perfect_model_reports_no_confusions(tmp_path):
    confusion = np.eye(3, dtype=np.int64) * 4
    assert report.confused_pairs(confusion, ["a", "b", "c"]) == []
    metrics = {"history": [{"epoch": 1, "train_loss": 1, "train_accuracy": 1, "valid_loss": 1,
                            "valid_accuracy": 1}], "best_epoch": 1, "best_valid_loss": 1.0,
               "test": {"loss": 0.1, "accuracy": 1.0, "samples": 12,
                        "confusion_matrix": confusion.tolist()}}
    paths = report.write_report(tmp_path, metrics, ["a", "b", "c"])
    assert "(no errors)" in paths["summary"].read_text()
