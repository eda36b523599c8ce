"""Preprocessing between an ImageSet and a network: crop, resize, stretch, normalise, augment."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from galmerge.errors import ConfigError, DataError, ModelMismatchError

__all__ = ["crop_and_resize", "Preprocessor", "random_dihedral", "dihedral_element", "DIHEDRAL_GROUP_SIZE"]

STRETCHES = ("none", "asinh")
DIHEDRAL_GROUP_SIZE = 8


def crop_and_resize(images: torch.Tensor, *, size: int | None, crop_fraction: float = 1.0) -> torch.Tensor:
    """Centre-crop to a square of ``crop_fraction`` of the shorter side, then resize to ``size``.

    Resizing is bilinear with antialiasing, which preserves surface brightness (the mean pixel
    value of a smooth region), not total flux: it prepares images for a network, not for
    photometry.

    Parameters
    ----------
    images : Tensor, shape (N, bands, H, W)
    size : int or None
        Output side in pixels; ``None`` keeps the cropped size.
    crop_fraction : float in (0, 1]
        Side of the central square kept, as a fraction of the shorter image side.
    """
    if not 0 < crop_fraction <= 1:
        raise ConfigError(f"crop_fraction must be in (0, 1], got {crop_fraction}")
    height, width = images.shape[-2:]
    side = max(1, int(round(min(height, width) * crop_fraction)))
    if side != height or side != width:
        top, left = (height - side) // 2, (width - side) // 2
        images = images[..., top : top + side, left : left + side]
    if size is not None and side != size:
        images = F.interpolate(images, size=(size, size), mode="bilinear", antialias=side > size, align_corners=False)
    return images


class Preprocessor:
    """Crop, resize, stretch and normalise images for a network; statistics fit on training data only.

    Parameters
    ----------
    input_size : int, optional
        Side of the square the network takes, in pixels (``None``: keep the image size).
    crop_fraction : float, default 1.0
        Central fraction of the image kept before resizing.
    stretch : {"none", "asinh"}
        ``"asinh"`` maps each band to ``asinh(x / scale)``: linear below ``scale``, logarithmic
        above, so faint tidal features and bright cores share the dynamic range.
    asinh_scale : float or sequence of float, optional
        Softening of the asinh stretch per band, in image units. ``None`` fits it on the
        training images: 1.4826 x the median absolute deviation of the pixels (the sky noise
        for sky-dominated cutouts), or the standard deviation where that is zero.

    Attributes
    ----------
    mean_, std_ : ndarray, shape (bands,)
        Per-band mean and standard deviation of the (cropped, resized, stretched) training
        images; set by :meth:`fit`.
    asinh_scale_ : ndarray or None
    """

    def __init__(
        self,
        *,
        input_size: int | None = None,
        crop_fraction: float = 1.0,
        stretch: Literal["none", "asinh"] = "none",
        asinh_scale=None,
    ):
        if stretch not in STRETCHES:
            raise ConfigError(f"unknown stretch {stretch!r}; choose one of {STRETCHES}")
        self.input_size = input_size
        self.crop_fraction = crop_fraction
        self.stretch = stretch
        self.asinh_scale = asinh_scale

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "mean_")

    def _geometry(self, images: torch.Tensor) -> torch.Tensor:
        return crop_and_resize(images, size=self.input_size, crop_fraction=self.crop_fraction)

    def _stretch(self, images: torch.Tensor) -> torch.Tensor:
        if self.stretch == "asinh":
            scale = torch.as_tensor(self.asinh_scale_, dtype=images.dtype, device=images.device)
            images = torch.asinh(images / scale.view(1, -1, 1, 1))
        return images

    def fit(self, images: np.ndarray, *, rows=None, chunk_size: int = 1024) -> "Preprocessor":
        """Fit the stretch and the per-band normalisation on training images.

        Parameters
        ----------
        images : ndarray (N, bands, H, W)
        rows : array of int, optional
            The training rows of ``images`` (default all); read in chunks, never copied whole.
        """
        rows = np.arange(len(images)) if rows is None else np.asarray(rows)
        if len(rows) == 0:
            raise DataError("cannot fit normalisation statistics on an empty training set")
        n_bands = images.shape[1]
        if self.stretch == "asinh":
            if self.asinh_scale is None:
                self.asinh_scale_ = _robust_scale(images, rows)
            else:
                scale = np.broadcast_to(np.asarray(self.asinh_scale, dtype=np.float64), (n_bands,)).copy()
                if not (scale > 0).all():
                    raise ConfigError(f"asinh_scale must be > 0, got {self.asinh_scale}")
                self.asinh_scale_ = scale
        else:
            self.asinh_scale_ = None
        # Per-chunk float32 sums (pairwise, exact to ~1e-7) accumulated in float64, read through
        # one reused buffer: new memory is slow to touch, and the rows may be a memory-mapped file.
        total = np.zeros(n_bands)
        total_sq = np.zeros(n_bands)
        count = 0
        buffer = np.empty((min(chunk_size, len(rows)), *images.shape[1:]), dtype=np.float32)
        for start in range(0, len(rows), chunk_size):
            chunk = buffer[: len(rows[start : start + chunk_size])]
            np.take(images, rows[start : start + chunk_size], axis=0, out=chunk)
            tensor = self._stretch(self._geometry(torch.from_numpy(chunk)))
            total += tensor.sum(dim=(0, 2, 3)).double().numpy()
            total_sq += (tensor * tensor).sum(dim=(0, 2, 3)).double().numpy()
            count += tensor.shape[0] * tensor.shape[2] * tensor.shape[3]
        mean = total / count
        std = np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))
        if not (np.isfinite(mean).all() and np.isfinite(std).all()):
            raise DataError("training images hold NaN or infinite pixels; load data through galmerge's loaders")
        self.mean_ = mean
        # A constant band (e.g. an empty simulated filter) would divide by zero.
        self.std_ = np.where(std > 0, std, 1.0)
        self.n_bands_ = n_bands
        return self

    def transform(self, images, *, rows=None, chunk_size: int = 256, source: str = "images") -> np.ndarray:
        """Return preprocessed float32 images as a new array (N, bands, size, size).

        The same numbers as :meth:`transform_tensor` (to float32 rounding), computed for
        prediction: crop and resize in PyTorch where needed, the stretch and normalisation in
        NumPy, in place. PyTorch's thread pool keeps its threads spinning between operations;
        alternated with ONNX Runtime's, it made preprocessing plus the forward pass 1.5-3x slower
        on 2 cores than NumPy preprocessing did.

        Parameters
        ----------
        images : ndarray (N, bands, H, W)
        rows : array of int, optional
            Transform only these rows (default all), without copying the others.

        Raises
        ------
        ModelMismatchError
            If the band count differs from the training images'.
        DataError
            If any pixel is NaN or infinite.
        """
        self._check_fitted()
        if images.ndim != 4:
            raise DataError(f"{source}: expected (N, bands, height, width), got shape {images.shape}")
        self._check_bands(images.shape[1], source=source)
        n_rows = len(images) if rows is None else len(rows)
        side = self.input_size or images.shape[-1]
        out = np.empty((n_rows, images.shape[1], side, side), dtype=np.float32)
        mean = self.mean_.astype(np.float32).reshape(1, -1, 1, 1)
        std = self.std_.astype(np.float32).reshape(1, -1, 1, 1)
        scale = self.asinh_scale_.astype(np.float32).reshape(1, -1, 1, 1) if self.stretch == "asinh" else None
        for start in range(0, n_rows, chunk_size):
            stop = min(n_rows, start + chunk_size)
            chunk = np.asarray(images[start:stop] if rows is None else images[np.asarray(rows[start:stop])], dtype=np.float32)
            if not np.isfinite(chunk.sum()) and not np.isfinite(chunk).all():  # see transform_tensor
                raise _nonfinite_error(source)
            if chunk.shape[-1] != side or chunk.shape[-2] != side or self.crop_fraction != 1:
                chunk = self._geometry(torch.from_numpy(np.array(chunk))).numpy()
            target = out[start:stop]  # written in place; the caller's images are only read
            if scale is not None:
                chunk = np.arcsinh(np.divide(chunk, scale, out=target), out=target)
            np.divide(np.subtract(chunk, mean, out=target), std, out=target)
        return out

    def transform_tensor(self, images: torch.Tensor, *, source: str = "images") -> torch.Tensor:
        """Preprocess a float tensor batch (N, bands, H, W); the differentiable core of training."""
        self._check_fitted()
        self._check_bands(images.shape[1], source=source)
        # One reduction instead of a boolean image per pixel: any NaN or inf makes the sum non-finite.
        if not torch.isfinite(images.sum()) and not torch.isfinite(images).all():
            raise _nonfinite_error(source)
        images = self._stretch(self._geometry(images))
        mean = torch.as_tensor(self.mean_, dtype=images.dtype, device=images.device).view(1, -1, 1, 1)
        std = torch.as_tensor(self.std_, dtype=images.dtype, device=images.device).view(1, -1, 1, 1)
        return (images - mean) / std

    def _check_bands(self, n_bands: int, *, source: str) -> None:
        if n_bands != self.n_bands_:
            raise ModelMismatchError(f"{source}: {n_bands} bands, but the model was trained on {self.n_bands_}")

    def _check_fitted(self):
        if not self.is_fitted:
            raise RuntimeError("Preprocessor.fit must be called before transform")

    def to_dict(self) -> dict:
        """Parameters and fitted statistics as plain JSON-able values."""
        self._check_fitted()
        return {
            "input_size": self.input_size,
            "crop_fraction": self.crop_fraction,
            "stretch": self.stretch,
            "asinh_scale": None if self.asinh_scale_ is None else [float(v) for v in self.asinh_scale_],
            "mean": [float(v) for v in self.mean_],
            "std": [float(v) for v in self.std_],
        }

    @classmethod
    def from_dict(cls, state: dict) -> "Preprocessor":
        pre = cls(
            input_size=state["input_size"],
            crop_fraction=state["crop_fraction"],
            stretch=state["stretch"],
            asinh_scale=state["asinh_scale"],
        )
        pre.asinh_scale_ = None if state["asinh_scale"] is None else np.asarray(state["asinh_scale"], dtype=np.float64)
        pre.mean_ = np.asarray(state["mean"], dtype=np.float64)
        pre.std_ = np.asarray(state["std"], dtype=np.float64)
        pre.n_bands_ = len(pre.mean_)
        return pre


def _nonfinite_error(source: str) -> DataError:
    return DataError(f"{source}: NaN or infinite pixels reached preprocessing; load data through galmerge's loaders")


def _robust_scale(images: np.ndarray, rows: np.ndarray, max_pixels: int = 2_000_000) -> np.ndarray:
    n_bands = images.shape[1]
    # A strided subsample of the rows keeps this cheap and deterministic for large sets.
    step = max(1, math.ceil(len(rows) * images[0, 0].size / max_pixels))
    sample = np.asarray(images[rows[::step]], dtype=np.float64).transpose(1, 0, 2, 3).reshape(n_bands, -1)
    median = np.median(sample, axis=1, keepdims=True)
    scale = 1.4826 * np.median(np.abs(sample - median), axis=1)
    fallback = sample.std(axis=1)
    scale = np.where(scale > 0, scale, fallback)
    return np.where(scale > 0, scale, 1.0)


def random_dihedral(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Apply an independent random element of the dihedral group D4 to each square image.

    The 8 elements are the 4 rotations by multiples of 90 degrees, each with or without a
    flip: the symmetries a galaxy image has no preferred orientation under.
    """
    if images.shape[-1] != images.shape[-2]:
        raise DataError("dihedral augmentation needs square images")
    choice = torch.randint(0, DIHEDRAL_GROUP_SIZE, (images.shape[0],), generator=generator)
    out = images.clone()
    for element in range(1, DIHEDRAL_GROUP_SIZE):
        rows = torch.nonzero(choice == element).flatten()
        if len(rows):
            out[rows] = dihedral_element(images[rows], element)
    return out


def dihedral_element(images, element: int):
    """Element ``element`` (0-7) of D4: rotation by ``element % 4`` quarter turns, flipped if ``element >= 4``.

    ``images`` is a Tensor or an ndarray (..., H, W); an ndarray gives a NumPy view, so
    test-time augmentation before ONNX Runtime does not start PyTorch's threads.
    """
    if isinstance(images, np.ndarray):
        return np.rot90(images[..., ::-1] if element >= 4 else images, k=element % 4, axes=(-2, -1))
    if element >= 4:
        images = torch.flip(images, dims=(-1,))
    return torch.rot90(images, k=element % 4, dims=(-2, -1))
