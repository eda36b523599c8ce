"""Figures at the bottom of the layers: one way to make and save a figure, and to show a multi-band image.

Every stage that draws (mocks, evaluation, explain, the pipeline) uses these, so figures share one
size convention (inches at 110 dpi, constrained layout) and one display of multi-band images.
matplotlib is imported inside the functions, so importing galmerge stays fast.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

__all__ = ["new_figure", "save_figure", "display_rgb", "band_sort_key", "FIGURE_DPI"]

FIGURE_DPI = 110
_PHOTOMETRIC_ORDER = "ugrizyYJHK"

# HST UV/optical filter numbers are wavelengths in nm (F435W, F814W); HST/WFC3-IR and JWST
# numbers are in units of 10 nm (F160W = 1.60 um, F444W = 4.44 um). Below 200 only the latter
# exist; above, these JWST NIRCam long-wavelength and MIRI numbers are the ones in 10 nm.
_JWST_NUMBERS = {200, 210, 250, 277, 300, 322, 323, 335, 356, 360, 405, 410, 430, 444, 460, 466, 470, 480, 560, 770}


def new_figure(width: float = 5.0, height: float = 4.5, **kwargs: Any):
    """A matplotlib ``Figure`` of ``width`` x ``height`` inches at :data:`FIGURE_DPI`, constrained layout.

    A bare ``Figure`` (not ``pyplot``): no global state, safe in worker processes and threads.
    """
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=FIGURE_DPI, layout="constrained", **kwargs)


def save_figure(figure, path) -> Path:
    """Write ``figure`` to ``path`` (format by extension), creating the folder; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return path


def band_sort_key(band: str):
    """Order band names by wavelength where the name says it: ugrizy then JHK, HST/JWST filters by number."""
    match = re.fullmatch(r"[Ff](\d{3,4})[WMNwmn]?[A-Za-z0-9]*", band)
    if match:
        number = int(match.group(1))
        in_tens_of_nm = number < 200 or number >= 1000 or number in _JWST_NUMBERS
        return (1, number * 10 if in_tens_of_nm else number, band)
    if band in _PHOTOMETRIC_ORDER:
        return (0, _PHOTOMETRIC_ORDER.index(band), band)
    return (2, 0, band)


def display_rgb(image: np.ndarray, bands: Sequence[str] | None = None) -> np.ndarray:
    """A (H, W, 3) display in [0, 1] of one (bands, H, W) image: asinh-stretched, reddest band as red.

    Pictures with bands R, G, B are shown as they are. Other bands are ordered by wavelength
    where their names tell it (bluest to blue); one band is shown in grey; with more than three,
    the bluest, middle and reddest are used.
    """
    image = np.asarray(image, dtype=np.float64)
    n_bands = image.shape[0]
    names = list(bands) if bands is not None else [f"band{i}" for i in range(n_bands)]
    if names[:3] == ["R", "G", "B"]:
        planes = image[:3]
    else:
        order = sorted(range(n_bands), key=lambda i: band_sort_key(names[i]))
        if n_bands == 1:
            order = order * 3
        elif n_bands == 2:
            order = [order[0], order[0], order[1]]
        chosen = [order[0], order[len(order) // 2], order[-1]]
        planes = image[chosen[::-1]]  # reddest to red
    low = np.percentile(planes, 1)
    high = np.percentile(planes, 99.7)
    scaled = np.clip((planes - low) / max(high - low, 1e-12), 0, 1)
    stretched = np.arcsinh(10 * scaled) / np.arcsinh(10)
    return stretched.transpose(1, 2, 0)
