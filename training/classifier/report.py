"""The evaluation report a person can read at 133 classes.

Written next to ``metrics.json`` in the job's output dir (``output.tar.gz`` on SageMaker):
``report.md`` (summary, worst classes, most-confused pairs with counts), ``training_curve.png``
(best epoch and test score marked), ``confusion_matrix.png`` (row-normalised, labelled, limited
to the classes involved in the most confusion when there are many) and
``per_class_accuracy.png`` (the weakest classes).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

MAX_MATRIX_CLASSES = 20  # beyond this a labelled matrix is unreadable: show the confused ones
TOP_PAIRS = 15
WORST_CLASSES = 20


def per_class_stats(confusion, labels: list[str]) -> list[dict]:
    """Support, correct, accuracy (recall) and precision per class, in class order."""
    matrix = np.asarray(confusion, dtype=np.int64)
    support = matrix.sum(axis=1)
    predicted = matrix.sum(axis=0)
    correct = np.diag(matrix)
    rows = []
    for index, label in enumerate(labels):
        rows.append(
            {
                "class": label,
                "support": int(support[index]),
                "correct": int(correct[index]),
                "accuracy": float(correct[index] / support[index]) if support[index] else None,
                "precision": float(correct[index] / predicted[index]) if predicted[index] else None,
            }
        )
    return rows


def confused_pairs(confusion, labels: list[str], top: int = TOP_PAIRS) -> list[dict]:
    """The largest off-diagonal cells: (true class, predicted as, count, share of the true class)."""
    matrix = np.asarray(confusion, dtype=np.int64)
    support = matrix.sum(axis=1)
    off = matrix.copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(-off, axis=None, kind="stable")
    pairs = []
    for flat in order[:top]:
        true, predicted = divmod(int(flat), matrix.shape[1])
        count = int(off[true, predicted])
        if count == 0:
            break
        pairs.append(
            {
                "true": labels[true],
                "predicted": labels[predicted],
                "count": count,
                "share_of_true": count / int(support[true]),
            }
        )
    return pairs


def focus_classes(confusion, limit: int = MAX_MATRIX_CLASSES) -> list[int]:
    """All classes when few; else those with the most confusion in or out, in class order."""
    matrix = np.asarray(confusion, dtype=np.int64)
    n = matrix.shape[0]
    if n <= limit:
        return list(range(n))
    off = matrix - np.diag(np.diag(matrix))
    involvement = off.sum(axis=0) + off.sum(axis=1)
    chosen = np.argsort(-involvement, kind="stable")[:limit]
    return sorted(int(i) for i in chosen)


def write_report(output_dir: Path, metrics: dict, labels: list[str]) -> dict[str, Path]:
    """metrics.json (with per-class figures and confused pairs added), the pictures, report.md."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    confusion = metrics["test"]["confusion_matrix"]
    metrics["test"]["per_class"] = per_class_stats(confusion, labels)
    metrics["test"]["confused_pairs"] = confused_pairs(confusion, labels)
    paths = {
        "metrics": output_dir / "metrics.json",
        "curve": output_dir / "training_curve.png",
        "confusion": output_dir / "confusion_matrix.png",
        "per_class": output_dir / "per_class_accuracy.png",
        "summary": output_dir / "report.md",
    }
    paths["metrics"].write_text(json.dumps(metrics, indent=2))
    plot_curves(paths["curve"], metrics)
    plot_confusion(paths["confusion"], confusion, labels)
    plot_per_class(paths["per_class"], metrics["test"]["per_class"])
    paths["summary"].write_text(markdown_summary(metrics, labels))
    return paths


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(path: Path, metrics: dict) -> None:
    plt = _pyplot()
    history = metrics["history"]
    epochs = [row["epoch"] for row in history]
    best = metrics.get("best_epoch")
    test_accuracy = metrics["test"]["accuracy"]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    ax_loss.plot(epochs, [r["train_loss"] for r in history], marker="o", label="train")
    ax_loss.plot(epochs, [r["valid_loss"] for r in history], marker="o", label="valid")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="Loss")
    ax_acc.plot(epochs, [r["train_accuracy"] for r in history], marker="o", label="train")
    ax_acc.plot(epochs, [r["valid_accuracy"] for r in history], marker="o", label="valid")
    if best:
        ax_acc.scatter(
            [best],
            [test_accuracy],
            marker="*",
            s=220,
            color="crimson",
            zorder=5,
            label=f"test {test_accuracy:.1%} (saved model)",
        )
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="Accuracy", ylim=(0, 1.02))
    for ax in (ax_loss, ax_acc):
        if best:
            ax.axvline(best, color="grey", linestyle="--", linewidth=1, label=f"best epoch {best}")
        ax.set_xticks(epochs)
        ax.legend(loc="best", fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_confusion(path: Path, confusion, labels: list[str]) -> None:
    """Row-normalised (share of each true class), cells annotated with counts."""
    plt = _pyplot()
    matrix = np.asarray(confusion, dtype=np.int64)
    keep = focus_classes(matrix)
    sub = matrix[np.ix_(keep, keep)]
    support = matrix.sum(axis=1)[keep]
    shares = sub / np.maximum(support, 1)[:, None]
    names = [labels[i] for i in keep]
    n = len(keep)
    size = 3 + n * 0.45
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046, label="share of the true class")
    for row in range(n):
        for col in range(n):
            if sub[row, col]:
                ax.text(
                    col,
                    row,
                    str(sub[row, col]),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if shares[row, col] > 0.5 else "black",
                )
    ax.set_xticks(range(n), names, rotation=90, fontsize=8)
    ax.set_yticks(range(n), names, fontsize=8)
    title = "Test confusion matrix (row-normalised; numbers are counts)"
    if n < matrix.shape[0]:
        title = (
            f"Test confusion: the {n} of {matrix.shape[0]} classes most involved in "
            "errors\n(row-normalised over each class's test images; numbers are counts)"
        )
    ax.set(xlabel="predicted", ylabel="true", title=title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_per_class(path: Path, per_class: list[dict], worst: int = WORST_CLASSES) -> None:
    plt = _pyplot()
    scored = sorted(
        (r for r in per_class if r["accuracy"] is not None),
        key=lambda r: (r["accuracy"], r["class"]),
    )[:worst]
    fig, ax = plt.subplots(figsize=(8, 1.5 + 0.3 * len(scored)))
    ax.barh([r["class"] for r in scored], [r["accuracy"] for r in scored], color="steelblue")
    for y, row in enumerate(scored):
        ax.text(
            row["accuracy"] + 0.01, y, f"{row['correct']}/{row['support']}", va="center", fontsize=8
        )
    ax.invert_yaxis()
    ax.set(
        xlim=(0, 1.12),
        xlabel="test accuracy",
        title=f"The {len(scored)} weakest classes of {len(per_class)}",
    )
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def markdown_summary(metrics: dict, labels: list[str]) -> str:
    test = metrics["test"]
    per_class = test["per_class"]
    scored = sorted(
        (r for r in per_class if r["accuracy"] is not None),
        key=lambda r: (r["accuracy"], r["class"]),
    )
    hp = metrics.get("hyperparameters", {})
    batch = metrics.get("batch", {})
    lines = [
        "# Evaluation report",
        "",
        (
            f"- Test accuracy **{test['accuracy']:.2%}** ({test['samples']} images, "
            f"{len(labels)} classes), test loss {test['loss']:.4f}"
        ),
        (
            f"- Saved model: epoch {metrics.get('best_epoch')} of {len(metrics.get('history', []))}"
            f" (lowest validation loss {metrics.get('best_valid_loss', float('nan')):.4f})"
        ),
        (
            f"- {hp.get('arch', '?')}, {hp.get('image_size', '?')} px, learning rate "
            f"{hp.get('learning_rate', '?')}, global batch {batch.get('global', '?')} over "
            f"{metrics.get('world_size', 1)} process(es), device {metrics.get('device', '?')}"
        ),
        "",
        "![training curve](training_curve.png)",
        "",
        "## Most-confused pairs",
        "",
        "| true class | predicted as | count | share of the true class |",
        "|---|---|---:|---:|",
    ]
    pairs = test["confused_pairs"]
    lines += [
        f"| {p['true']} | {p['predicted']} | {p['count']} | {p['share_of_true']:.0%} |"
        for p in pairs
    ] or ["| (no errors) | | | |"]
    lines += [
        "",
        "![confusion matrix](confusion_matrix.png)",
        "",
        f"## The {min(WORST_CLASSES, len(scored))} weakest classes",
        "",
        "| class | accuracy | correct / images | precision |",
        "|---|---:|---:|---:|",
    ]
    for row in scored[:WORST_CLASSES]:
        precision = "-" if row["precision"] is None else f"{row['precision']:.0%}"
        lines.append(
            f"| {row['class']} | {row['accuracy']:.0%} | {row['correct']} / "
            f"{row['support']} | {precision} |"
        )
    lines += [
        "",
        "![per-class accuracy](per_class_accuracy.png)",
        "",
        "Per-class figures for every class are in `metrics.json` (`test.per_class`).",
        "",
    ]
    return "\n".join(lines)
