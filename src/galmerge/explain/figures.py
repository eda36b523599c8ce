"""Figures of interpretation: attribution montages, feature maps, dead filters, mask scores, sanity checks, TCAV."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from galmerge.data.masks import MASK_BITS
from galmerge.explain.methods import METHOD_TITLES
from galmerge.plotting import new_figure, save_figure

__all__ = [
    "plot_attribution_montage",
    "plot_band_saliency",
    "plot_activations",
    "plot_dead_filters",
    "plot_mask_scores",
    "plot_randomisation",
    "plot_tcav",
]

MASK_COLOURS = {MASK_BITS["tidal"]: "tab:orange", MASK_BITS["companion"]: "tab:cyan"}


def _bare(axes):
    axes.set_xticks([])
    axes.set_yticks([])


def _show_map(axes, values, *, signed: bool):
    if signed:
        limit = float(np.abs(values).max()) or 1.0
        axes.imshow(values, origin="lower", cmap="RdBu_r", vmin=-limit, vmax=limit)
    else:
        axes.imshow(np.abs(values), origin="lower", cmap="inferno")


def _contours(axes, mask):
    if mask is None:
        return
    for bit, colour in MASK_COLOURS.items():
        region = (mask & bit) > 0
        if region.any() and not region.all():
            axes.contour(region.astype(float), levels=[0.5], colors=[colour], linewidths=0.7, origin="lower")


def plot_attribution_montage(displays, maps: dict, path, *, row_titles=None, masks=None, title: str | None = None) -> Path:
    """Rows of images, each followed by its map from every method; ground-truth masks as contours.

    Parameters
    ----------
    displays : ndarray (N, H, W, 3)
        The images as shown (``galmerge.evaluation.figures.display_rgb``), in the network's geometry.
    maps : dict
        ``method -> ndarray (N, H, W)``; Integrated Gradients (``ig``) is drawn signed (red:
        evidence for the output, blue: against), the others as magnitudes.
    masks : ndarray (N, H, W) of uint8, optional
        Orange: tidal features; cyan: companion.
    """
    n = len(displays)
    columns = 1 + len(maps)
    figure = new_figure(1.7 * columns + 0.4, 1.75 * n + 0.6)
    grid = figure.subplots(n, columns, squeeze=False)
    for row in range(n):
        mask = None if masks is None else masks[row]
        axes = grid[row, 0]
        axes.imshow(displays[row], origin="lower")
        _contours(axes, mask)
        _bare(axes)
        if row_titles is not None:
            axes.set_ylabel(row_titles[row], fontsize="x-small")
        for column, (method, values) in enumerate(maps.items(), start=1):
            axes = grid[row, column]
            _show_map(axes, values[row], signed=method.startswith("ig"))
            _contours(axes, mask)
            _bare(axes)
            if row == 0:
                axes.set_title(METHOD_TITLES.get(method, method), fontsize="small")
    if n:
        grid[0, 0].set_title("image", fontsize="small")
    if title:
        figure.suptitle(title)
    return save_figure(figure, path)


def plot_band_saliency(displays, per_band, bands, path, *, row_titles=None, title: str = "Saliency per band") -> Path:
    """For each image, the |gradient| in each band (one colour scale per image, so bands compare)."""
    n, n_bands = per_band.shape[:2]
    figure = new_figure(1.7 * (n_bands + 1) + 0.4, 1.75 * n + 0.6)
    grid = figure.subplots(n, n_bands + 1, squeeze=False)
    for row in range(n):
        grid[row, 0].imshow(displays[row], origin="lower")
        _bare(grid[row, 0])
        if row_titles is not None:
            grid[row, 0].set_ylabel(row_titles[row], fontsize="x-small")
        limit = float(np.abs(per_band[row]).max()) or 1.0
        for band in range(n_bands):
            axes = grid[row, band + 1]
            axes.imshow(np.abs(per_band[row, band]), origin="lower", cmap="inferno", vmin=0, vmax=limit)
            _bare(axes)
            if row == 0:
                axes.set_title(str(bands[band]), fontsize="small")
    figure.suptitle(title)
    return save_figure(figure, path)


def plot_activations(display, activations: dict, path, *, dead: dict | None = None, max_filters: int = 32, per_row: int = 16, title: str | None = None) -> Path:
    """The feature maps of every layer for one image: the image first, then one block of rows per layer.

    Parameters
    ----------
    activations : dict
        ``layer -> ndarray (filters, h, w)``.
    dead : dict, optional
        ``layer -> collection of filter indices`` that never activate on the data set: framed
        in blue and labelled.
    max_filters : int
        Filters shown per layer (the first ones).
    """
    dead = dead or {}
    blocks = [(layer, maps[:max_filters]) for layer, maps in activations.items()]
    rows = 1 + sum(math.ceil(len(maps) / per_row) for _, maps in blocks)
    figure = new_figure(0.75 * per_row + 0.8, 0.8 * rows + 0.6)
    grid = figure.subplots(rows, per_row, squeeze=False)
    for axes in grid.ravel():
        _bare(axes)
        axes.set_frame_on(False)
    grid[0, 0].imshow(display, origin="lower")
    grid[0, 0].set_title("image", fontsize="x-small")
    row = 1
    for layer, maps in blocks:
        for index, feature_map in enumerate(maps):
            axes = grid[row + index // per_row, index % per_row]
            axes.imshow(feature_map, origin="lower", cmap="viridis")
            if index in dead.get(layer, ()):
                axes.set_frame_on(True)
                for spine in axes.spines.values():
                    spine.set_color("tab:blue")
                    spine.set_linewidth(1.5)
                axes.set_title("dead", fontsize="xx-small", color="tab:blue")
        grid[row, 0].set_ylabel(layer, fontsize="small")
        grid[row, 0].yaxis.set_visible(True)
        row += math.ceil(len(maps) / per_row)
    if title:
        figure.suptitle(title)
    return save_figure(figure, path)


def plot_dead_filters(reports, path, *, title: str = "Filters that never activate") -> Path:
    """Bar chart of the dead-filter fraction per layer, with counts."""
    figure = new_figure(max(4.0, 1.0 * len(reports) + 1.5), 3.4)
    axes = figure.add_subplot()
    fractions = [r.dead_fraction for r in reports]
    bars = axes.bar([r.layer for r in reports], fractions, color="tab:blue")
    for bar, report in zip(bars, reports):
        axes.text(bar.get_x() + bar.get_width() / 2, bar.get_height() + 0.01, f"{len(report.dead)}/{report.n_filters}", ha="center", va="bottom", fontsize="small")
    n_images = reports[0].n_images if reports else 0
    axes.set(ylabel="fraction of filters dead", ylim=(0, max(0.1, max(fractions, default=0) * 1.25 + 0.05)), title=f"{title} ({n_images} images)")
    return save_figure(figure, path)


def plot_mask_scores(summaries: dict, path, *, title: str = "Attribution on the ground-truth features") -> Path:
    """In-mask attribution share and pointing-game accuracy per method, against the shuffled-mask baseline.

    Parameters
    ----------
    summaries : dict
        ``feature -> method -> MaskScores.summary()``.
    """
    features = list(summaries)
    figure = new_figure(4.2 * max(1, len(features)), 6.4)
    grid = figure.subplots(2, max(1, len(features)), squeeze=False)
    for column, feature in enumerate(features):
        methods = list(summaries[feature])
        x = np.arange(len(methods))
        for row, (key, label) in enumerate((("share_in_mask", "share of |attribution| in mask"), ("pointing_game", "pointing-game accuracy"))):
            axes = grid[row, column]
            own = [summaries[feature][m][key] for m in methods]
            shuffled = [summaries[feature][m][f"shuffled_{key}"] for m in methods]
            axes.bar(x - 0.2, own, 0.4, label="own mask", color="tab:orange" if feature.startswith("tidal") else "tab:cyan")
            axes.bar(x + 0.2, shuffled, 0.4, label="shuffled masks", color="0.7")
            if key == "share_in_mask":
                area = np.mean([summaries[feature][m]["mask_area"] for m in methods])
                axes.axhline(area, color="0.3", linestyle=":", linewidth=1, label="mask area (uniform map)")
            n_images = summaries[feature][methods[0]]["n_images"] if methods else 0
            top = np.nanmax([*own, *shuffled, 0.05])
            axes.set(xticks=x, ylim=(0, min(1.0, 1.3 * top + 0.02)), ylabel=label, title=f"{feature} ({n_images} mergers)" if row == 0 else None)
            axes.set_xticklabels([m.replace("gradcam:", "Grad-CAM ") for m in methods], rotation=30, ha="right", fontsize="small")
            if column == 0:
                axes.legend(fontsize="x-small", loc="upper right")
    figure.suptitle(title)
    return save_figure(figure, path)


def plot_randomisation(check, path, *, display=None) -> Path:
    """Adebayo et al.'s figure: similarity against randomised depth per method, and one image's maps along the way."""
    methods = list(check.similarity)
    steps = ["trained"] + list(check.steps)
    figure = new_figure(max(8.0, 1.25 * len(steps) + 4.5), 1.45 * len(methods) + 3.2)
    top, bottom = figure.subfigures(2, 1, height_ratios=[1.0, 0.45 * len(methods)])
    axes = top.add_subplot()
    x = np.arange(len(steps))
    for method in methods:
        line = axes.plot(x, [1.0] + list(check.similarity[method]["spearman_abs"]), marker="o", label=f"{METHOD_TITLES.get(method, method)} (Spearman |map|)")
        axes.plot(x, [1.0] + list(check.similarity[method]["ssim"]), marker="s", linestyle="--", color=line[0].get_color(), alpha=0.6)
    axes.axhline(check.max_similarity, color="0.4", linestyle=":", linewidth=1)
    axes.set_xticks(x)
    axes.set_xticklabels(steps, rotation=30, ha="right", fontsize="small")
    axes.set(ylabel="similarity to trained-model maps", ylim=(-0.2, 1.05), title=f"{check.mode.capitalize()} randomisation (solid: Spearman of |maps|, dashed: SSIM; dotted: flag level)")
    axes.legend(fontsize="x-small", loc="lower left")
    columns = len(steps) + (display is not None)
    grid = bottom.subplots(len(methods), columns, squeeze=False)
    for row, method in enumerate(methods):
        offset = 0
        if display is not None:
            if row == 0:
                grid[0, 0].imshow(display, origin="lower")
                _bare(grid[0, 0])
            else:
                grid[row, 0].set_axis_off()
            offset = 1
        grid[row, offset].set_ylabel(METHOD_TITLES.get(method, method), fontsize="x-small")
        for column, values in enumerate(check.example_maps[method]):
            axes = grid[row, column + offset]
            _show_map(axes, values, signed=method == "ig")
            _bare(axes)
            if row == 0:
                axes.set_title(steps[column], fontsize="xx-small")
    return save_figure(figure, path)


def plot_tcav(scores, path, *, class_name: str = "merger") -> Path:
    """TCAV scores (mean and standard deviation over random runs) per concept, one panel per layer.

    Grey: the random-vs-random null distribution; stars mark concepts significant after Holm's
    correction.
    """
    layers = list(dict.fromkeys(s.layer for s in scores))
    concepts = list(dict.fromkeys(s.concept for s in scores))
    figure = new_figure(max(6.5, 0.75 * len(concepts) * len(layers) + 2.5), 4.2)
    grid = figure.subplots(1, len(layers), squeeze=False, sharey=True)
    for column, layer in enumerate(layers):
        axes = grid[0, column]
        chosen = [s for s in scores if s.layer == layer]
        x = np.arange(len(chosen))
        axes.bar(x, [s.mean for s in chosen], yerr=[s.std for s in chosen], capsize=3, color=["tab:red" if s.significant else "tab:gray" for s in chosen])
        null = chosen[0].null_scores if chosen else np.zeros(1)
        axes.axhspan(null.mean() - null.std(), null.mean() + null.std(), color="0.85", zorder=0, label="random concepts (±1 sd)")
        for index, s in enumerate(chosen):
            if s.significant:
                axes.text(index, min(1.0, s.mean + s.std) + 0.02, "*", ha="center", fontsize="large")
        axes.set_xticks(x)
        axes.set_xticklabels([s.concept for s in chosen], rotation=35, ha="right", fontsize="small")
        axes.set(ylim=(0, 1.1), title=layer)
        if column == 0:
            axes.set_ylabel(f"TCAV score (class: {class_name})")
            axes.legend(fontsize="x-small", loc="upper right")
    figure.suptitle("TCAV; red with *: significant (two-sided t-test against random concepts, Holm-corrected)", fontsize="small")
    return save_figure(figure, path)
