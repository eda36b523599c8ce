"""Non-parametric morphology (CAS, Gini-M20, MID, shape asymmetry) of every image of an ImageSet, with statmorph.

One row per image, never a crash of the batch: an image that cannot be measured (non-finite
pixels, no source at the centre, a statmorph failure) gets NaN statistics and a flag with the
reason. Segmentation is photutils' ``detect_sources`` on a Gaussian-smoothed image, without
deblending, so a companion joined to the primary by a bridge or tail stays in its segment (what
the merger statistics are meant to see); the segment under the stamp centre is measured.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from dataclasses import dataclass

import numpy as np
from astropy.table import Table

from galmerge.data.imageset import ImageSet
from galmerge.errors import ConfigError

__all__ = ["measure_morphology", "MorphologyOptions", "STATISTIC_COLUMNS", "MEASURE_FLAGS"]

# statmorph's names, kept as they are (Rodriguez-Gomez et al. 2019).
STATISTIC_COLUMNS = (
    "gini",
    "m20",
    "concentration",
    "asymmetry",
    "smoothness",
    "gini_m20_merger",
    "gini_m20_bulge",
    "multimode",
    "intensity",
    "deviation",
    "shape_asymmetry",
    "outer_asymmetry",
    "rpetro_circ",
    "r20",
    "r80",
    "ellipticity_asymmetry",
    "elongation_asymmetry",
    "sn_per_pixel",
    "sersic_n",
    "sersic_rhalf",
)
# Bits of the ``flag`` column; ``flag_reason`` spells them out.
MEASURE_FLAGS = {"nonfinite_pixels": 1, "no_source": 2, "statmorph_failed": 4, "statmorph_flag": 8, "sersic_fit": 16}


@dataclass
class MorphologyOptions:
    """How images are measured.

    Attributes
    ----------
    band : int or None
        Band measured; ``None`` sums the bands (colour pictures: their three display channels).
    threshold_sigma : float
        Segmentation threshold above the background, in units of the background noise.
    smoothing_fwhm_pixels : float
        Gaussian smoothing before segmentation.
    min_pixels : int
        Smallest segment.
    sersic_maxiter : int
        Iterations of statmorph's Sersic fit (its statistics are by-products here).
    """

    band: int | None = None
    threshold_sigma: float = 1.5
    smoothing_fwhm_pixels: float = 2.0
    min_pixels: int = 10
    sersic_maxiter: int = 100

    def __post_init__(self):
        if not self.threshold_sigma > 0 or self.min_pixels < 1:
            raise ConfigError(f"threshold_sigma must be > 0 and min_pixels >= 1, got {self.threshold_sigma}, {self.min_pixels}")


def border_background(image: np.ndarray) -> tuple[float, float]:
    """Sigma-clipped median and standard deviation of the image's outer frame (an eighth of its side)."""
    from astropy.stats import sigma_clipped_stats

    width = max(2, image.shape[0] // 8)
    frame = np.concatenate([image[:width].ravel(), image[-width:].ravel(), image[:, :width].ravel(), image[:, -width:].ravel()])
    _, median, std = sigma_clipped_stats(frame[np.isfinite(frame)], sigma=3.0)
    if not std > 0:  # a flat (clipped) sky, as in 8-bit pictures: the spread of the whole image bounds it
        std = max(float(np.nanstd(image)) * 1e-2, 1e-6)
    return float(median), float(std)


def _central_segment(image: np.ndarray, sigma: float, options: MorphologyOptions):
    from astropy.convolution import Gaussian2DKernel, convolve
    from photutils.segmentation import detect_sources

    kernel = Gaussian2DKernel(options.smoothing_fwhm_pixels / 2.3548)
    smoothed = convolve(image, kernel, normalize_kernel=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # photutils warns when nothing is found; None says so
        segmap = detect_sources(smoothed, options.threshold_sigma * sigma, n_pixels=options.min_pixels)
    if segmap is None:
        return None, 0
    data = segmap.data
    cy, cx = (np.asarray(data.shape) - 1) // 2
    label = int(data[cy, cx])
    if label == 0:  # nearest segment within an eighth of the stamp
        ys, xs = np.nonzero(data)
        distance = np.hypot(ys - cy, xs - cx)
        if distance.min() > data.shape[0] / 8:
            return None, 0
        label = int(data[ys[np.argmin(distance)], xs[np.argmin(distance)]])
    return segmap, label


def measure_one(image: np.ndarray, options: MorphologyOptions) -> tuple[dict, int, list[str]]:
    """Statistics of one 2-D image, its flag bits and the reasons."""
    import statmorph

    values = dict.fromkeys(STATISTIC_COLUMNS, np.nan)
    flag, reasons = 0, []
    finite = np.isfinite(image)
    if not finite.all():
        flag |= MEASURE_FLAGS["nonfinite_pixels"]
        reasons.append(f"{int((~finite).sum())} non-finite pixels (masked)")
        if finite.sum() < image.size // 2:
            reasons.append("no_source: too few finite pixels")
            return values, flag | MEASURE_FLAGS["no_source"], reasons
    median, sigma = border_background(image)
    clean = np.where(finite, image - median, 0.0).astype(np.float64)
    segmap, label = _central_segment(clean, sigma, options)
    if segmap is None:
        return values, flag | MEASURE_FLAGS["no_source"], reasons + ["no_source: nothing above the threshold near the centre"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            morph = statmorph.SourceMorphology(
                clean,
                segmap,
                label,
                mask=~finite if not finite.all() else None,
                weightmap=np.full(clean.shape, sigma),
                sersic_maxiter=options.sersic_maxiter,
                sersic_model_args={"bounds": {"n": (0.3, 8.0)}},  # unbounded, n runs away to 15-38
            )
        except Exception as error:  # statmorph raises bare exceptions deep inside; the batch goes on
            return values, flag | MEASURE_FLAGS["statmorph_failed"], reasons + [f"statmorph_failed: {type(error).__name__}: {error}"]
    for name in STATISTIC_COLUMNS:
        values[name] = float(getattr(morph, name, np.nan))
    if morph.flag >= 2:
        flag |= MEASURE_FLAGS["statmorph_flag"]
        detail = "; ".join(sorted({str(w.message) for w in caught}))[:200]
        reasons.append(f"statmorph_flag {morph.flag}" + (f": {detail}" if detail else ""))
    if morph.flag_sersic:
        flag |= MEASURE_FLAGS["sersic_fit"]
        reasons.append("sersic_fit: statmorph's Sersic fit flagged")
    return values, flag, reasons


def _measure_rows(arguments):
    images, options = arguments
    return [measure_one(image, options) for image in images]


@contextlib.contextmanager
def _pool(workers: int):
    if workers <= 1:
        yield None
        return
    import multiprocessing

    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with multiprocessing.get_context(method).Pool(workers) as pool:
        yield pool


def measure_morphology(imageset: ImageSet, *, options: MorphologyOptions | None = None, workers: int | None = 1, progress: bool = True, chunk: int = 16) -> Table:
    """CAS, Gini-M20, MID and shape asymmetry of every image.

    Parameters
    ----------
    imageset : ImageSet
    options : MorphologyOptions, optional
    workers : int, optional
        Processes (``None``: all cores). The result does not depend on it.
    progress : bool
    chunk : int
        Images per task.

    Returns
    -------
    astropy.table.Table
        ``id``, the columns of :data:`STATISTIC_COLUMNS` (NaN where unmeasured), ``flag`` (bits
        of :data:`MEASURE_FLAGS`; 0 is a clean measurement) and ``flag_reason``. Images whose
        metadata say non-finite pixels were filled on loading (``nonfinite_fraction`` > 0) are
        flagged ``nonfinite_pixels`` too.
    """
    from galmerge.display import progress_bar

    options = options or MorphologyOptions()
    if options.band is not None and not 0 <= options.band < imageset.n_bands:
        raise ConfigError(f"{imageset.source}: band {options.band} asked for, the images have {imageset.n_bands}")
    flat = imageset.images[:, options.band] if options.band is not None else imageset.images.sum(axis=1)
    tasks = [(np.asarray(flat[start : start + chunk]), options) for start in range(0, len(flat), chunk)]
    results = []
    with _pool(workers or os.cpu_count() or 1) as pool:
        mapped = pool.imap(_measure_rows, tasks) if pool is not None else map(_measure_rows, tasks)
        for part in progress_bar(mapped, total=len(tasks), desc="statmorph", unit="chunk", enabled=progress):
            results.extend(part)
    table = Table()
    table["id"] = imageset.ids
    for name in STATISTIC_COLUMNS:
        table[name] = np.array([values[name] for values, _, _ in results], dtype=np.float64)
    flags = np.array([flag for _, flag, _ in results], dtype=np.int32)
    reasons = [list(r) for _, _, r in results]
    if "nonfinite_fraction" in imageset.meta.colnames:
        filled = np.asarray(imageset.meta["nonfinite_fraction"], dtype=float) > 0
        for row in np.flatnonzero(filled & (flags & MEASURE_FLAGS["nonfinite_pixels"] == 0)):
            flags[row] |= MEASURE_FLAGS["nonfinite_pixels"]
            reasons[row].insert(0, "non-finite pixels filled on loading")
    table["flag"] = flags
    table["flag_reason"] = ["; ".join(r) for r in reasons]
    return table
