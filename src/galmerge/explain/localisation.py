"""Attributions scored against ground truth: how much of a map falls on the tidal features or the companion.

Mocks know where their tidal tails and companions are (:data:`galmerge.data.MASK_BITS`). For a
map and a mask of the same image this measures the share of the attribution mass inside the mask
and whether the map's maximum lies inside it (the pointing game, Zhang et al. 2018), and the
same with every image given another image's mask: a map that only follows the galaxy's light
scores well on both, a map that finds the tidal features scores better on its own mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from galmerge.errors import DataError

__all__ = ["mask_scores", "MaskScores"]


@dataclass
class MaskScores:
    """Per-image scores of attribution maps against masks, and their shuffled-mask baseline.

    Attributes
    ----------
    share : ndarray (N,)
        Share of the absolute attribution inside the image's mask.
    hit : ndarray of bool (N,)
        Whether the largest absolute attribution lies inside the mask.
    area : ndarray (N,)
        Share of the image the mask covers: the ``share`` of a uniform map.
    shuffled_share, shuffled_hit : ndarray (N,)
        The same scores against another image's mask (NaN with a single image).
    """

    share: np.ndarray
    hit: np.ndarray
    area: np.ndarray
    shuffled_share: np.ndarray
    shuffled_hit: np.ndarray

    def summary(self) -> dict:
        """Means over images: in-mask share, pointing-game accuracy, and their shuffled baselines."""

        def mean(values):
            return float(np.nanmean(values)) if len(values) and not np.isnan(values).all() else float("nan")

        return {
            "n_images": int(len(self.share)),
            "share_in_mask": mean(self.share),
            "pointing_game": mean(self.hit.astype(float)),
            "mask_area": mean(self.area),
            "shuffled_share_in_mask": mean(self.shuffled_share),
            "shuffled_pointing_game": mean(self.shuffled_hit),
        }


def _scores(maps: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    weight = np.abs(maps).reshape(len(maps), -1)
    flat = masks.reshape(len(masks), -1)
    total = weight.sum(axis=1)
    share = np.where(total > 0, (weight * flat).sum(axis=1) / np.where(total > 0, total, 1), np.nan)
    hit = flat[np.arange(len(flat)), weight.argmax(axis=1)] if len(flat) else np.zeros(0, bool)
    return share, hit.astype(bool)


def mask_scores(maps, masks, *, seed: int = 0) -> MaskScores:
    """Score attribution maps (N, H, W) against boolean masks (N, H, W) of the same images.

    Images whose mask is empty are scored too (share 0); select images with a feature first.
    The shuffled baseline gives image ``order[i+1]`` the mask of image ``order[i]`` for a random
    ``order`` (a cyclic shift, so no image keeps its own mask).
    """
    maps = np.asarray(maps, dtype=np.float64)
    masks = np.asarray(masks, dtype=bool)
    if maps.shape != masks.shape or maps.ndim != 3:
        raise DataError(f"attribution maps of shape {maps.shape} and masks of shape {masks.shape}: both must be (N, H, W) and equal")
    share, hit = _scores(maps, masks)
    if len(maps) > 1:
        order = np.random.default_rng(seed).permutation(len(maps))
        shuffled = np.empty_like(masks)
        shuffled[np.roll(order, -1)] = masks[order]
        shuffled_share, shuffled_hit = _scores(maps, shuffled)
        shuffled_hit = shuffled_hit.astype(float)
    else:
        shuffled_share = shuffled_hit = np.full(len(maps), np.nan)
    area = masks.reshape(len(masks), -1).mean(axis=1)
    return MaskScores(share=share, hit=hit, area=area, shuffled_share=shuffled_share, shuffled_hit=shuffled_hit)
