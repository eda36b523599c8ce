"""Figures of an evaluation: ROC and precision-recall curves, learning curves, confusion matrix, montage."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from galmerge.plotting import display_rgb, new_figure, save_figure

__all__ = [
    "plot_roc",
    "plot_precision_recall",
    "plot_learning_curves",
    "plot_confusion",
    "plot_montage",
    "display_rgb",  # re-exported from galmerge.plotting
]


def plot_roc(curves: Mapping[str, tuple], path, *, title: str = "ROC curve") -> Path:
    """ROC curves, one per ``name -> (labels, p_merger)``, with their AUC in the legend."""
    from sklearn.metrics import roc_auc_score, roc_curve

    figure = new_figure()
    axes = figure.add_subplot()
    for name, (labels, p_merger) in curves.items():
        fpr, tpr, _ = roc_curve(labels, p_merger)
        axes.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(labels, p_merger):.3f})")
    axes.plot([0, 1], [0, 1], color="0.6", linestyle=":", label="chance")
    axes.set(xlabel="false-positive rate (non-mergers called mergers)", ylabel="true-positive rate (recall)", title=title, xlim=(0, 1), ylim=(0, 1.01))
    axes.legend(loc="lower right", fontsize="small")
    return save_figure(figure, path)


def plot_precision_recall(curves: Mapping[str, tuple], path, *, title: str = "Precision-recall curve") -> Path:
    """Precision-recall curves with average precision (PR-AUC) and the merger fraction as baseline."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    figure = new_figure()
    axes = figure.add_subplot()
    for name, (labels, p_merger) in curves.items():
        precision, recall, _ = precision_recall_curve(labels, p_merger)
        line = axes.step(recall, precision, where="post", label=f"{name} (AP {average_precision_score(labels, p_merger):.3f})")
        axes.axhline(np.mean(labels), color=line[0].get_color(), linestyle=":", linewidth=0.8)
    axes.set(xlabel="recall (mergers found)", ylabel="precision (mergers among those called)", title=title, xlim=(0, 1), ylim=(0, 1.01))
    axes.legend(loc="lower left", fontsize="small")
    return save_figure(figure, path)


def plot_learning_curves(history_csv, path) -> Path:
    """Training and validation loss, and validation ROC-AUC and accuracy, against epoch."""
    with open(history_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))

    def column(name):
        return np.array([float(r[name]) if r.get(name) not in (None, "") else np.nan for r in rows])

    epochs = column("epoch") + 1
    figure = new_figure(9.0, 3.8)
    loss_axes, metric_axes = figure.subplots(1, 2)
    for name in ("train_loss", "val_loss"):
        loss_axes.plot(epochs, column(name), marker="o", markersize=3, label=name.replace("_", " "))
    loss_axes.set(xlabel="epoch", ylabel="cross-entropy loss", title="Loss")
    loss_axes.legend(fontsize="small")
    for name in ("val_roc_auc", "val_accuracy"):
        metric_axes.plot(epochs, column(name), marker="o", markersize=3, label=name.replace("_", " "))
    metric_axes.set(xlabel="epoch", title="Validation metrics", ylim=(0, 1.01))
    metric_axes.legend(fontsize="small")
    return save_figure(figure, path)


def plot_confusion(confusion: Sequence[Sequence[int]], path, *, title: str = "Confusion matrix") -> Path:
    """A 2x2 confusion matrix ``[[TN, FP], [FN, TP]]`` with counts and row fractions."""
    matrix = np.asarray(confusion, dtype=float)
    rows = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    figure = new_figure(4.2, 3.8)
    axes = figure.add_subplot()
    axes.imshow(rows, cmap="Blues", vmin=0, vmax=1)
    for i in range(2):
        for j in range(2):
            axes.text(j, i, f"{int(matrix[i, j])}\n({rows[i, j]:.0%})", ha="center", va="center", color="white" if rows[i, j] > 0.5 else "black")
    axes.set(xticks=[0, 1], yticks=[0, 1], xticklabels=["non-merger", "merger"], yticklabels=["non-merger", "merger"], xlabel="predicted", ylabel="true", title=title)
    return save_figure(figure, path)


def plot_montage(images, labels, p_merger, path, *, rows=None, bands=None, per_panel: int = 6, title: str | None = None) -> Path:
    """The most confident true positives, false positives, false negatives and true negatives.

    Each row shows up to ``per_panel`` images of one kind, most confident first, with p(merger).
    ``rows`` maps the i-th scored item to ``images[rows[i]]`` (default: ``images[i]``), so a
    subset of a large set is drawn without copying it.
    """
    labels = np.asarray(labels).astype(bool)
    p_merger = np.asarray(p_merger)
    called = p_merger >= 0.5
    kinds = [
        ("true mergers, most confident", labels & called, -p_merger),
        ("false mergers (non-mergers called mergers)", ~labels & called, -p_merger),
        ("missed mergers (false negatives)", labels & ~called, p_merger),
        ("true non-mergers, most confident", ~labels & ~called, p_merger),
    ]
    image_rows = np.arange(len(labels)) if rows is None else np.asarray(rows)
    side = max(images.shape[-1], images.shape[-2])
    gap, label_px = max(2, side // 16), max(10, side // 4)  # white gutter; room for p above each tile
    cell_h, cell_w = side + label_px + gap, side + gap
    # One mosaic image drawn once: 24 separate axes under constrained layout took ~2 s per figure.
    mosaic = np.ones((4 * cell_h, per_panel * cell_w, 3))
    figure = new_figure(1.2 + per_panel * 1.35, 4 * 1.55)  # 1.2 in for the row names
    axes = figure.add_subplot()
    for row, (_, mask, key) in enumerate(kinds):
        chosen = np.flatnonzero(mask)
        chosen = chosen[np.argsort(key[chosen], kind="stable")][:per_panel]
        top = row * cell_h + label_px
        for column, index in enumerate(chosen):
            tile = display_rgb(images[image_rows[index]], bands)[::-1]  # origin at the bottom, as imshow(origin="lower")
            mosaic[top : top + tile.shape[0], column * cell_w : column * cell_w + tile.shape[1]] = tile
            axes.text(column * cell_w + side / 2, top - 1, f"p={p_merger[index]:.2f}", ha="center", va="bottom", fontsize="x-small")
        if len(chosen) == 0:
            axes.text(side / 2, top + side / 2, "none", ha="center", va="center", color="0.5")
    axes.imshow(mosaic, interpolation="nearest")
    axes.set_yticks([row * cell_h + label_px + side / 2 for row in range(4)], [name.split(" (")[0].replace(", most confident", "") for name, _, _ in kinds], fontsize="small")
    axes.set_xticks([])
    for spine in axes.spines.values():
        spine.set_visible(False)
    if title:
        axes.set_title(title)
    return save_figure(figure, path)
