"""Simple statistics of stamps as a network sees them: framing, background, display and shape.

These are the numbers the shortcut audit (:mod:`galmerge.mocks.audit`), the realism score and
the calibration to a real survey (:mod:`galmerge.mocks.calibrate`) compare. Each is measured
the same way on mock and real stamps of one kind (display pictures in [0, 1], or fluxes), from
the images alone, vectorised over the set.

Three families:

- *nuisance* statistics say nothing about the galaxy at all: the background level, noise and
  colour in the corners, saturated pixels, and where the central peak falls within its pixel.
  When one of them separates mergers from non-mergers in a mock set, the mocks carry a shortcut.
- *framing* statistics measure how the stamp is framed and centred (the light next to the
  centre pixel, where the brightest pixel falls, light at the edges, the brightness and colour
  of the centre). They carry the shortcuts of a framing rule that differs by class, but also a
  little morphology: in real pictures a merger's brightest pixel is sometimes its companion's.
- *morphology* statistics describe the object: size, concentration, ellipticity, asymmetry,
  number of bright peaks, the area it fills, its light. Mergers are expected to differ in these,
  as much as real mergers do and no more.

The background is the median of four corner boxes and the noise their robust (MAD) scatter;
the object's light is the band sum above that background, and the *central object* is the
connected region of 3x3-smoothed light above 3 sigma that holds the stamp's centre (the
segmentation a survey pipeline would make), so field stars and neighbours do not count in its
size and shape.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from galmerge.errors import DataError

__all__ = ["StatisticTable", "measure_image_statistics", "light_radii", "neighbour_fraction", "STATISTIC_KINDS", "CORNER_FRACTION"]

_CHUNK = 256  # stamps measured at once
CORNER_FRACTION = 0.15  # corner boxes span 15 % of the side (11 px of 75)

# name -> (kind, description); kinds: "nuisance", "framing" or "morphology"
STATISTIC_KINDS = {
    "peak_subpixel_offset": ("nuisance", "sub-pixel offset of the brightest pixel near the centre from its pixel's centre (parabola fit)"),
    "background_level": ("nuisance", "median of the corner pixels (band mean)"),
    "background_noise": ("nuisance", "robust scatter (1.4826 MAD) of the corner pixels (band mean)"),
    "background_colour": ("nuisance", "corner level of the first band minus the last"),
    "noise_colour": ("nuisance", "corner noise of the first band over the last"),
    "saturated_fraction": ("nuisance", "share of pixels within 0.5 % of the set's highest value in any band"),
    "centre_imbalance": ("framing", "(|left - right| + |up - down|) / centre of the four pixels next to the centre pixel"),
    "centre_offset_px": ("framing", "distance of the light-weighted centroid of the central 3x3 pixels from the centre pixel"),
    "peak_distance_px": ("framing", "distance of the brightest pixel (3x3-smoothed) from the stamp centre"),
    "edge_flux_fraction": ("framing", "share of the central object's light in the outer 10 % border (an object cut by the frame)"),
    "centre_brightness": ("framing", "mean of the central 3x3 pixels above the background (band mean)"),
    "centre_colour": ("framing", "log10 ratio of the first and last band inside the object's r50"),
    "centre_colour_middle": ("framing", "log10 ratio of the first and middle band inside the object's r50"),
    "total_flux": ("morphology", "log10 of the central object's band-summed light above the background"),
    "r50_px": ("morphology", "radius about the object's centroid holding half its light"),
    "r90_px": ("morphology", "radius holding 90 % of the object's light"),
    "concentration": ("morphology", "r80 / r20"),
    "ellipticity": ("morphology", "1 - b/a from the second moments of the object's light"),
    "asymmetry": ("morphology", "sum |I - I rotated 180 deg| / (2 sum I) over the object's segment and its mirror image"),
    "n_peaks": ("morphology", "local maxima (5x5) of the smoothed light in the object's segment above 10 sigma and 5 % of its brightest"),
    "area_5sigma_px": ("morphology", "pixels of the object's segment whose smoothed light exceeds 5 sigma"),
    "second_peak_ratio": ("morphology", "brightness of the second-brightest peak over the brightest"),
}


@dataclass
class StatisticTable:
    """Statistics of a set of stamps: ``values[:, j]`` is statistic ``names[j]``."""

    names: tuple
    values: np.ndarray

    def column(self, name: str) -> np.ndarray:
        return self.values[:, self.names.index(name)]


def _corners(images: np.ndarray) -> np.ndarray:
    """Pixels of the four corner boxes, shape (N, bands, 4 * c * c)."""
    side = images.shape[-1]
    c = max(2, int(round(CORNER_FRACTION * side)))
    boxes = [images[..., :c, :c], images[..., :c, -c:], images[..., -c:, :c], images[..., -c:, -c:]]
    return np.concatenate([b.reshape(*images.shape[:2], -1) for b in boxes], axis=2)


def _box3(image: np.ndarray) -> np.ndarray:
    """3x3 box mean over the last two axes (edges padded by reflection)."""
    from scipy.ndimage import uniform_filter

    return uniform_filter(image, size=(1,) * (image.ndim - 2) + (3, 3), mode="reflect")


def _segments(light: np.ndarray, noise: np.ndarray, *, nsigma: float = 3.0) -> np.ndarray:
    """The central object of each stamp: the region of 3x3-smoothed light above ``nsigma`` times
    its noise that holds the centre pixel (or comes nearest to it within 3 px); (N, H, W) bool."""
    from scipy.ndimage import label

    n, side, _ = light.shape
    centre = side // 2
    above = light > nsigma * noise[:, None, None]
    segments = np.zeros_like(above)
    for i in range(n):
        regions, count = label(above[i])
        if count == 0:
            continue
        chosen = regions[centre, centre]
        if chosen == 0:
            window = regions[centre - 3 : centre + 4, centre - 3 : centre + 4]
            if not window.any():
                continue
            near = np.argwhere(window > 0)
            nearest = near[np.argmin(np.hypot(near[:, 0] - 3, near[:, 1] - 3))]
            chosen = window[nearest[0], nearest[1]]
        segments[i] = regions == chosen
    return segments


def light_radii(light: np.ndarray, cy: np.ndarray, cx: np.ndarray, levels, *, step: float = 0.25) -> list[np.ndarray]:
    """Radii about (cy, cx) of circles holding each level of the light, per image (radial
    profile in bins of ``step`` px, interpolated within a bin)."""
    n, height, width = light.shape
    yy, xx = np.indices((height, width), dtype=np.float32)
    radius = np.hypot(yy[None] - cy[:, None, None].astype(np.float32), xx[None] - cx[:, None, None].astype(np.float32))
    bins = int(np.ceil(np.hypot(height, width) / step)) + 1
    index = (radius / step).astype(np.int64) + (np.arange(n) * bins)[:, None, None]
    profile = np.bincount(index.ravel(), weights=light.ravel(), minlength=n * bins).reshape(n, bins)
    cumulative = np.cumsum(profile, axis=1)
    total = np.maximum(cumulative[:, -1:], 1e-30)
    out = []
    for level in levels:
        k = np.minimum((cumulative < level * total).sum(axis=1), bins - 1)
        before = np.where(k > 0, cumulative[np.arange(n), np.maximum(k - 1, 0)], 0.0)
        inside = np.maximum(profile[np.arange(n), k], 1e-30)
        out.append((k + np.clip((level * total[:, 0] - before) / inside, 0, 1)) * step)
    return out


def measure_image_statistics(images, *, names=None) -> StatisticTable:
    """Every statistic of :data:`STATISTIC_KINDS` (or those in ``names``) for each stamp.

    Parameters
    ----------
    images : ndarray (N, bands, H, W)
        Display pictures in [0, 1] or fluxes; square stamps of at least 16 px.

    Raises
    ------
    DataError
        Wrong shape, non-finite pixels or an unknown statistic.
    """
    chosen = tuple(names) if names is not None else tuple(STATISTIC_KINDS)
    unknown = [name for name in chosen if name not in STATISTIC_KINDS]
    if unknown:
        raise DataError(f"unknown statistic(s) {unknown}; known: {', '.join(STATISTIC_KINDS)}")
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[-1] != images.shape[-2] or images.shape[-1] < 16:
        raise DataError(f"statistics need square stamps (N, bands, H, W) of >= 16 px, got shape {images.shape}")
    if not np.isfinite(images).all():
        raise DataError("statistics need finite pixels; mask or fill NaNs first")
    stats: dict = {}
    top = float(images.max())  # saturation: pixels at the set's highest value (1.0 for 8-bit pictures)
    # chunks bound the memory; threads share them out, as numpy and scipy release the GIL in
    # most of the work (4,000 SDSS stamps on 2 cores: 4.4 s in one thread, 2.6 s in two)
    chunks = [images[start : start + _CHUNK] for start in range(0, len(images), _CHUNK)]
    with ThreadPoolExecutor(max(1, min(os.cpu_count() or 1, 4, len(chunks)))) as pool:
        for measured in pool.map(lambda chunk: _measure(chunk, top), chunks):
            for name, values in measured.items():
                stats.setdefault(name, []).append(values)
    return StatisticTable(chosen, np.stack([np.concatenate(stats[name]).astype(np.float64) for name in chosen], axis=1))


def _robust_noise(corners: np.ndarray) -> np.ndarray:
    return 1.4826 * np.median(np.abs(corners - np.median(corners, axis=-1, keepdims=True)), axis=-1)


def _measure(images: np.ndarray, top: float) -> dict:
    n, bands, side, _ = images.shape
    corners = _corners(images)
    level = np.median(corners, axis=2)  # (N, bands)
    noise = _robust_noise(corners)
    floor = 1e-6 * np.maximum(np.abs(images).max(axis=(1, 2, 3)), 1e-30)
    light = (images - level[..., None, None]).sum(axis=1)  # (N, H, W) band sum above the background
    smooth = _box3(light)
    smooth_noise = np.maximum(_robust_noise(_corners(smooth[:, None]))[:, 0], floor)
    segment = _segments(smooth, smooth_noise)
    clipped = np.clip(light, 0, None)
    centre = side // 2
    stats = {}
    c = light[:, centre, centre]
    left, right = light[:, centre, centre - 1], light[:, centre, centre + 1]
    down, up = light[:, centre - 1, centre], light[:, centre + 1, centre]
    stats["centre_imbalance"] = (np.abs(left - right) + np.abs(up - down)) / np.maximum(np.abs(c), smooth_noise)
    patch = clipped[:, centre - 1 : centre + 2, centre - 1 : centre + 2]
    weight = np.maximum(patch.sum(axis=(1, 2)), 1e-30)
    offsets = np.arange(-1, 2)
    stats["centre_offset_px"] = np.hypot((patch.sum(axis=2) * offsets).sum(axis=1) / weight, (patch.sum(axis=1) * offsets).sum(axis=1) / weight)
    peak = smooth.reshape(n, -1).argmax(axis=1)
    stats["peak_distance_px"] = np.hypot(peak // side - centre, peak % side - centre)
    stats["background_level"] = level.mean(axis=1)
    stats["background_noise"] = noise.mean(axis=1)
    stats["background_colour"] = level[:, 0] - level[:, -1]
    stats["noise_colour"] = noise[:, 0] / np.maximum(noise[:, -1], 1e-12)
    stats["saturated_fraction"] = (images >= top - 0.005 * abs(top)).any(axis=1).mean(axis=(1, 2))
    stats["centre_brightness"] = patch.mean(axis=(1, 2)) / bands
    stats["peak_subpixel_offset"] = _subpixel_offset(light, centre)

    # the central object: its segment's light about its centroid
    yy, xx = np.indices((side, side))
    object_light = np.where(segment, clipped, 0.0)
    object_flux = np.maximum(object_light.sum(axis=(1, 2)), 1e-30)
    stats["total_flux"] = np.log10(object_flux)
    border = max(1, int(round(0.1 * side)))
    stats["edge_flux_fraction"] = 1.0 - object_light[:, border:-border, border:-border].sum(axis=(1, 2)) / object_flux
    cy = (object_light * yy).sum(axis=(1, 2)) / object_flux
    cx = (object_light * xx).sum(axis=(1, 2)) / object_flux
    r20, r50, r80, r90 = light_radii(object_light, cy, cx, (0.2, 0.5, 0.8, 0.9))
    stats["r50_px"], stats["r90_px"] = r50, r90
    stats["concentration"] = r80 / np.maximum(r20, 0.5)
    stats["ellipticity"] = _ellipticity(object_light)
    stats["area_5sigma_px"] = (segment & (smooth > 5 * smooth_noise[:, None, None])).sum(axis=(1, 2)).astype(np.float64)
    stats["asymmetry"] = _asymmetry(clipped, segment)
    stats["n_peaks"], stats["second_peak_ratio"] = _peaks(smooth, segment, smooth_noise)
    near = np.hypot(yy[None] - cy[:, None, None], xx[None] - cx[:, None, None]) <= np.maximum(r50, 1.0)[:, None, None]
    first = (np.clip(images[:, 0] - level[:, 0, None, None], 0, None) * near).sum(axis=(1, 2))
    last = (np.clip(images[:, -1] - level[:, -1, None, None], 0, None) * near).sum(axis=(1, 2))
    stats["centre_colour"] = np.log10(np.maximum(first, 1e-12) / np.maximum(last, 1e-12)) if bands > 1 else np.zeros(n)
    middle = (np.clip(images[:, bands // 2] - level[:, bands // 2, None, None], 0, None) * near).sum(axis=(1, 2))
    stats["centre_colour_middle"] = np.log10(np.maximum(first, 1e-12) / np.maximum(middle, 1e-12)) if bands > 2 else np.zeros(n)
    return stats


def _subpixel_offset(light: np.ndarray, centre: int) -> np.ndarray:
    """|offset| of the brightest pixel within 2 px of the centre from its pixel centre, by a
    three-point parabola in x and in y (0 when the peak sits on a pixel centre)."""
    n = len(light)
    window = light[:, centre - 2 : centre + 3, centre - 2 : centre + 3].reshape(n, -1)
    row, column = np.divmod(window.argmax(axis=1), 5)
    row, column = row + centre - 2, column + centre - 2
    index = np.arange(n)

    def vertex(minus, middle, plus):
        curvature = minus - 2 * middle + plus
        return np.where(curvature < 0, 0.5 * (minus - plus) / np.where(curvature < 0, curvature, -1.0), 0.0).clip(-0.5, 0.5)

    dy = vertex(light[index, row - 1, column], light[index, row, column], light[index, row + 1, column])
    dx = vertex(light[index, row, column - 1], light[index, row, column], light[index, row, column + 1])
    return np.hypot(dx, dy)


def _ellipticity(light: np.ndarray) -> np.ndarray:
    """1 - minor/major axis of the light's second moments about its centroid.

    From raw moments of the row and column sums (sums over one axis, then products with the
    coordinates): one pass over the pixels instead of six.
    """
    side = light.shape[-1]
    axis = np.arange(side, dtype=np.float64)
    rows, columns = light.sum(axis=2, dtype=np.float64), light.sum(axis=1, dtype=np.float64)  # (N, H), (N, W)
    weight = np.maximum(rows.sum(axis=1), 1e-30)
    my, mx = rows @ axis / weight, columns @ axis / weight
    cyy = rows @ axis**2 / weight - my**2
    cxx = columns @ axis**2 / weight - mx**2
    cxy = np.einsum("nhw,h,w->n", light, axis, axis, optimize=True) / weight - mx * my
    half_trace, root = (cxx + cyy) / 2, np.sqrt(((cxx - cyy) / 2) ** 2 + cxy**2)
    major, minor = half_trace + root, np.maximum(half_trace - root, 0.0)
    return np.where(major > 0, 1.0 - np.sqrt(minor / np.maximum(major, 1e-30)), 0.0)


def _asymmetry(light: np.ndarray, segment: np.ndarray) -> np.ndarray:
    """Rotational asymmetry about the stamp centre over the object's segment and its mirror image."""
    region = segment | segment[:, ::-1, ::-1]
    difference = (np.abs(light - light[:, ::-1, ::-1]) * region).sum(axis=(1, 2))
    return difference / np.maximum(2 * (light * region).sum(axis=(1, 2)), 1e-30)


def _peaks(smooth: np.ndarray, segment: np.ndarray, noise: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local maxima (5x5) of the smoothed light inside the object's segment above 10 sigma and
    5 % of its brightest, and the second-brightest over the brightest."""
    from scipy.ndimage import maximum_filter

    n = len(smooth)
    local = smooth == maximum_filter(smooth, size=(1, 5, 5), mode="nearest")
    highest = np.where(segment, smooth, 0).reshape(n, -1).max(axis=1)
    threshold = np.maximum(10 * noise, 0.05 * highest)
    is_peak = local & segment & (smooth > threshold[:, None, None])
    counts = is_peak.sum(axis=(1, 2)).astype(np.float64)
    values = np.sort(np.where(is_peak, smooth, 0.0).reshape(n, -1), axis=1)[:, -2:]
    return counts, values[:, 0] / np.maximum(values[:, 1], 1e-30)


def neighbour_fraction(images, *, flux_ratio: float = 0.25, reach_r90: float = 2.0) -> float:
    """Share of stamps with a second object (a separate segment of 3x3-smoothed light above
    3 sigma) holding at least ``flux_ratio`` of the central object's light, centred within
    ``reach_r90`` times the central object's R90 of the stamp centre."""
    from scipy.ndimage import center_of_mass, label, sum_labels

    images = np.asarray(images, dtype=np.float32)
    found = 0
    for start in range(0, len(images), 512):
        chunk = images[start : start + 512]
        n, bands, side, _ = chunk.shape
        corners = _corners(chunk)
        light = np.clip((chunk - np.median(corners, axis=2)[..., None, None]).sum(axis=1), 0, None)
        smooth = _box3(light)
        noise = np.maximum(_robust_noise(_corners(smooth[:, None]))[:, 0], 1e-6)
        central = _segments(smooth, noise)
        yy, xx = np.indices((side, side))
        centre = side // 2
        for i in range(n):
            flux0 = light[i][central[i]].sum()
            if flux0 <= 0:
                continue
            r90 = light_radii(np.where(central[i], light[i], 0)[None], np.array([float(centre)]), np.array([float(centre)]), (0.9,))[0][0]
            regions, count = label((smooth[i] > 3 * noise[i]) & ~central[i])
            if not count:
                continue
            index = np.arange(1, count + 1)

            fluxes = sum_labels(light[i], regions, index)
            with np.errstate(invalid="ignore", divide="ignore"):
                centres = np.array(center_of_mass(light[i] + 1e-12, regions, index)).reshape(-1, 2)
            distance = np.hypot(centres[:, 0] - centre, centres[:, 1] - centre)
            if np.any((fluxes >= flux_ratio * flux0) & (distance <= reach_r90 * max(r90, 2.0))):
                found += 1
    return found / max(len(images), 1)
