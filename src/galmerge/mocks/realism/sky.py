"""Real sky behind mocks (the RealSim idea, Bottrell et al. 2019, for survey colour pictures).

A :class:`SkyBank` holds backgrounds cut from real survey pictures at the stamp size the
networks see: each real picture with its central object replaced by real sky from elsewhere
in the same picture. A mock is injected into one of them: the background is turned back into
fluxes with the recipe's display mapping (:meth:`LuptonMapping.inverse`), the mock's light is
added, and the sum is mapped to a picture again. The mock then carries the survey's real noise
(its level, correlation and the clipping at black), real field stars and galaxies at their real
density, real artefacts (bright-star halos, satellite trails), all identical in law for mergers
and non-mergers, with nothing to calibrate. Where the survey's display clips much of the sky at
black, the mock's light is added to the black point instead of the darker real sky, and faint
light comes out too bright: a bank says how much of its sky is black and warns beyond a quarter.

Why backgrounds from the unlabelled pictures and not from a FITS field put through the display:
no SDSS frame is available offline here, while the pictures are exactly what the networks see
(the survey's own stretch, JPEG and resampling to 75 px), and they are the target domain.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import numpy as np

from galmerge.errors import DataError, DataFileNotFoundError

__all__ = ["SkyBank", "central_object_mask", "object_mask"]

_SHIFTS = ((0.5, 0.5), (0.5, 0.0), (0.0, 0.5), (0.33, 0.67), (0.67, 0.33), (0.25, 0.0), (0.0, 0.25), (0.75, 0.75))


def _significant(pictures: np.ndarray, nsigma: float):
    from galmerge.mocks.image_statistics import _box3, _corners, _robust_noise

    corners = _corners(pictures)
    light = (pictures - np.median(corners, axis=2)[..., None, None]).sum(axis=1)
    smooth = _box3(light)
    # the level of the smoothed light, not of the pixels: where the sky is clipped at black the
    # pixels' median is the clip, while their local mean (what smoothing measures) lies above it
    smooth_corners = _corners(smooth[:, None])[:, 0]
    smooth -= np.median(smooth_corners, axis=1)[:, None, None]
    noise = np.maximum(_robust_noise(smooth_corners), 1e-4)
    return smooth, noise


_STEP = 1.0 / 255.0  # one level of an 8-bit picture: where clipped skies leave no measurable noise


def _corner_noise(pictures: np.ndarray) -> np.ndarray:
    """(N,) robust sky noise (MAD) of each picture's corners, channels summed."""
    from galmerge.mocks.image_statistics import _corners, _robust_noise

    return _robust_noise(_corners(pictures.sum(axis=1)[:, None]))[:, 0]


def central_object_mask(pictures: np.ndarray, *, nsigma: float = 2.0, grow_px: int = 3) -> np.ndarray:
    """(N, H, W) bool: the central object of each picture (the segment holding the centre at
    ``nsigma`` above the corner sky, see :mod:`galmerge.mocks.image_statistics`), grown by ``grow_px``."""
    from scipy.ndimage import binary_dilation

    from galmerge.mocks.image_statistics import _segments

    smooth, noise = _significant(pictures, nsigma)
    return binary_dilation(_segments(smooth, noise, nsigma=nsigma), structure=np.ones((1, 3, 3), bool), iterations=grow_px)


def object_mask(pictures: np.ndarray, *, nsigma: float = 2.0, grow_px: int = 2) -> np.ndarray:
    """(N, H, W) bool: every source of each picture (smoothed light above ``nsigma``), grown by ``grow_px``."""
    from scipy.ndimage import binary_dilation

    smooth, noise = _significant(pictures, nsigma)
    return binary_dilation(smooth > nsigma * noise[:, None, None], structure=np.ones((1, 3, 3), bool), iterations=grow_px)


class SkyBank:
    """Real sky backgrounds: display pictures (K, 3, S, S) in [0, 1].

    Parameters
    ----------
    pictures : ndarray (K, 3, S, S)
        Backgrounds (values k/255 from 8-bit pictures; stored as 8-bit).
    source : str
        Where they came from, for messages and the metadata of mocks.
    noise_ratio : float, optional
        For a bank cut from pictures: see :meth:`from_pictures` (not saved with the bank).
    """

    # Kept pictures' median sky noise over all pictures' beyond which a bank counts as biased
    # (see :attr:`noise_ratio`); for 2,000 backgrounds cut from the Galaxy Zoo 2 subjects of
    # sdss_gz_unlabeled it is 1.00.
    BIASED_NOISE_RATIO = 1.2
    # :attr:`black_share` beyond which a bank warns: 0.17 for the Galaxy Zoo 2 bank (its blue
    # channel), 0.72 for pictures of planted sky drawn with a display that clips most of it, on
    # which spheroids come out with r90 27 px against 22 px on synthetic sky.
    MOSTLY_BLACK_SHARE = 0.25

    def __init__(self, pictures, *, source: str = "sky bank", noise_ratio: float | None = None):
        pictures = np.asarray(pictures)
        if pictures.ndim != 4 or pictures.shape[1] != 3 or pictures.shape[2] != pictures.shape[3] or len(pictures) == 0:
            raise DataError(f"{source}: a sky bank needs (K, 3, S, S) colour pictures, got shape {pictures.shape}")
        if pictures.dtype != np.uint8:
            pictures = np.clip(np.rint(np.asarray(pictures, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)
        self.pictures = pictures
        self.source = source
        self.noise_ratio = noise_ratio

    def __len__(self) -> int:
        return len(self.pictures)

    @property
    def size(self) -> int:
        return self.pictures.shape[-1]

    @functools.cached_property
    def black_share(self) -> float:
        """Share of the backgrounds' pixels that are black, in the channel where it is largest.

        Computed once (a pass over every pixel of the bank); the pictures do not change.

        A black value only says that the sky there was below the display's black point, and a
        mock's light is added to that point itself, so faint light comes out brighter than it
        would on the real sky. Beyond :attr:`MOSTLY_BLACK_SHARE`, :meth:`from_pictures` warns.
        """
        return float((self.pictures == 0).mean(axis=(0, 2, 3)).max())

    @classmethod
    def from_pictures(cls, pictures, *, source: str = "pictures", max_backgrounds: int | None = None, max_object_share: float = 0.4, seed: int = 0) -> "SkyBank":
        """Backgrounds made from real pictures (N, 3, S, S) in [0, 1].

        The central object (and 3 px around it) is filled with sky pixels of the same picture
        shifted by half the frame (or, where those fall on a source, by other shifts; any pixel
        left over takes a random sky pixel of the picture), so no source is cut by the fill.
        Pictures whose central object covers more than ``max_object_share`` of the frame are
        left out. As an object's extent is measured against its own picture's noise, leaving
        many out can favour noisy or quiet skies: :attr:`noise_ratio` (the kept pictures' median
        sky noise over that of all pictures considered) records by how much, and :attr:`biased`
        says whether it exceeds :attr:`BIASED_NOISE_RATIO` either way (a biased bank warns).
        """
        pictures = np.asarray(pictures, dtype=np.float32)
        if pictures.ndim != 4 or pictures.shape[1] != 3:
            raise DataError(f"{source}: sky backgrounds need colour pictures (N, 3, S, S), got shape {pictures.shape}")
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(pictures))
        if max_backgrounds is not None:
            order = order[: max(1, 2 * max_backgrounds)]  # some are left out below
        considered = pictures[order]  # one copy, in the drawn order
        masks = central_object_mask(considered)
        sources = object_mask(considered)
        noise = _corner_noise(considered)
        size = pictures.shape[-1]
        backgrounds, kept = [], []
        for position, (picture, mask, found) in enumerate(zip(considered, masks, sources)):
            if mask.mean() > max_object_share:
                continue
            backgrounds.append(_fill(picture, mask, found | mask, size, rng))
            kept.append(position)
            if max_backgrounds is not None and len(backgrounds) >= max_backgrounds:
                break
        if not backgrounds:
            raise DataError(f"{source}: no picture had enough sky for a background")
        bank = cls(np.stack(backgrounds), source=source, noise_ratio=float((np.median(noise[kept]) + _STEP) / (np.median(noise) + _STEP)))
        if bank.biased:
            warnings.warn(
                f"{source}: only {len(bank)} of {len(considered)} pictures had enough sky for a background, and their sky noise is {bank.noise_ratio:.2f}x "
                "the median of all of them: mocks on this bank will be too noisy or too quiet, and sizes fitted against them biased",
                stacklevel=2,
            )
        if bank.black_share > cls.MOSTLY_BLACK_SHARE:
            warnings.warn(
                f"{source}: {bank.black_share:.0%} of the sky is black in one channel: mocks are added to the black point there, "
                "so their faint light comes out brighter than on the real sky, and the statistics and fits that compare mocks with these pictures are biased",
                stacklevel=2,
            )
        return bank

    @property
    def biased(self) -> bool:
        """Whether the kept pictures' sky is noisier or quieter than the pictures' as a whole (unknown: False)."""
        return self.noise_ratio is not None and abs(np.log(self.noise_ratio)) > np.log(self.BIASED_NOISE_RATIO)

    def save(self, path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, pictures=self.pictures, source=np.array(self.source))
        return path

    @classmethod
    def load(cls, path) -> "SkyBank":
        path = Path(path)
        if not path.exists():
            raise DataFileNotFoundError(f"{path}: no such sky bank (galmerge calibrate writes one)")
        try:
            with np.load(path) as data:
                return cls(data["pictures"], source=str(data["source"]) if "source" in data else str(path))
        except (OSError, KeyError, ValueError) as error:
            raise DataError(f"{path}: not a readable sky bank ({error})") from None

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """A random background (3, S, S) in [0, 1], randomly flipped and rotated by quarter turns."""
        picture = self.pictures[rng.integers(len(self.pictures))].astype(np.float32) / 255.0
        picture = np.rot90(picture, int(rng.integers(4)), axes=(1, 2))
        if rng.random() < 0.5:
            picture = picture[:, :, ::-1]
        return np.ascontiguousarray(picture)


def _fill(picture: np.ndarray, mask: np.ndarray, sources: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """``picture`` with the pixels of ``mask`` replaced by sky pixels (outside ``sources``) of the picture."""
    out = picture.copy()
    todo = mask.copy()
    for fy, fx in _SHIFTS:
        if not todo.any():
            break
        shift = (int(round(fy * size)), int(round(fx * size)))
        moved, moved_sources = np.roll(picture, shift, axis=(1, 2)), np.roll(sources, shift, axis=(0, 1))
        usable = todo & ~moved_sources
        out[:, usable] = moved[:, usable]
        todo &= ~usable
    if todo.any():
        sky = np.flatnonzero(~sources.ravel())
        if len(sky):
            picks = sky[rng.integers(len(sky), size=int(todo.sum()))]
            out[:, todo] = picture.reshape(3, -1)[:, picks]
    return out
