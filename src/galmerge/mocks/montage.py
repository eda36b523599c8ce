"""A labelled montage of mock mergers by stage and non-mergers by kind, at two depths."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from galmerge.data.masks import MASK_BITS
from galmerge.mocks.generate import MockOptions, generate_mocks
from galmerge.mocks.recipes import Band, Recipe, load_recipe
from galmerge.plotting import display_rgb, new_figure, save_figure

__all__ = ["render_montage", "with_depth"]

ROWS = (("merger", "pair"), ("merger", "coalescing"), ("merger", "remnant"), ("disk", None), ("spheroid", None), ("edge_on", None), ("projected_pair", None))


def with_depth(recipe: Recipe, shift_mag: float) -> Recipe:
    """The recipe with every band's surface-brightness limit moved by ``shift_mag`` (positive: deeper)."""
    bands = tuple(Band(b.name, b.wavelength_um, b.zeropoint, None if b.depth_mu_lim is None else b.depth_mu_lim + shift_mag, b.psf) for b in recipe.bands)
    return recipe.replace(bands=bands, noise=True)


def render_montage(recipe, out, *, seed: int = 0, depth_shifts=(2.0, 0.0), per_row: int = 5, workers: int | None = None, progress: bool = True) -> Path:
    """Draw the same systems at two depths and write a labelled PNG.

    Rows: mergers as pairs, coalescing and remnants; non-mergers as disks, spheroids, clumpy
    disks and projected pairs. Each system appears ``depth_shifts[0]`` mag deeper than the
    recipe and at ``depth_shifts[1]`` (default: 2 mag deeper, and the recipe's own depth), side
    by side, so one sees what depth does to tidal features. Tidal-feature and companion pixels
    of the ground-truth mask are outlined on the deeper image.
    """
    recipe = recipe if isinstance(recipe, Recipe) else load_recipe(recipe)
    options = MockOptions(encounters_per_task=2)
    sets = [generate_mocks(with_depth(recipe, shift), 160, seed=seed, options=options, workers=workers, progress=progress) for shift in depth_shifts]
    meta = sets[0].meta
    figure = new_figure(2 * per_row * 1.3, len(ROWS) * 1.45)
    grid = figure.subplots(len(ROWS), 2 * per_row, squeeze=False)
    for row, (kind, stage) in enumerate(ROWS):
        chosen = np.flatnonzero((meta["kind"] == kind) & ((meta["stage"] == stage) if stage else True))[:per_row]
        for column in range(per_row):
            for depth_index in range(2):
                axes = grid[row, 2 * column + depth_index]
                axes.set_xticks([])
                axes.set_yticks([])
                if column >= len(chosen):
                    axes.set_axis_off()
                    continue
                index = chosen[column]
                axes.imshow(display_rgb(sets[depth_index].images[index], sets[depth_index].bands), origin="lower")
                if depth_index == 0 and sets[0].masks is not None:
                    mask = sets[0].masks[index]
                    tidal, companion = mask & MASK_BITS["tidal"], mask & MASK_BITS["companion"]
                    if tidal.any():
                        axes.contour(tidal, levels=[0.5], colors="orange", linewidths=0.5, origin="lower")
                    if companion.any():
                        axes.contour(companion > 0, levels=[0.5], colors="cyan", linewidths=0.5, origin="lower")
                depth = recipe.bands[0].depth_mu_lim
                label = f"mu {depth + depth_shifts[depth_index]:.1f}" if depth is not None else ""
                axes.set_title(f"z={meta['redshift'][index]:.2f} {label}", fontsize=5)
                if column == 0 and depth_index == 0:
                    axes.set_ylabel(f"{kind}\n{stage}" if stage else kind.replace("_", " "), fontsize=7)
    figure.suptitle(f"{recipe.name}: mergers by stage, non-mergers by kind; each system deep | shallow (orange: tidal mask, cyan: companion)", fontsize=8)
    return save_figure(figure, out)
