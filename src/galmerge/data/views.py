"""Random views of galaxy images for consistency training and self-supervised pretraining.

A *weak* view is one of the 8 flips and 90-degree rotations of the square
(:func:`galmerge.data.transforms.random_dihedral`): a galaxy's class does not depend on its
orientation or handedness. A *strong* view changes what an astronomer would
call the observation, not the galaxy: any rotation and mirror, a shift of a few pixels, a small
change of scale, a Gaussian blur (a broader PSF), extra Gaussian noise (a shallower exposure), a
gain per band (colour calibration) and a global contrast and offset (display stretch). It never
crops: a crop can cut a companion or a tidal tail away, which would change the label.

Views work on batches of normalised tensors (N, bands, H, W), i.e. after
:class:`galmerge.data.Preprocessor`, where the pixel unit is one standard deviation of the
training images, so the noise and offset amplitudes mean the same for any survey. Everything is
vectorised over the batch (one ``grid_sample``, one grouped convolution).

Written here rather than with a torchvision-style library because none is installable beside
the CPU torch build this project uses, and none offers PSF blur and noise with per-image
amplitudes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from galmerge.errors import ConfigError

__all__ = ["StrongViewOptions", "strong_view", "gaussian_blur"]


@dataclass(frozen=True)
class StrongViewOptions:
    """Amplitudes of a strong view; each image draws its own values.

    Attributes
    ----------
    max_shift_px : float
        Shifts uniform in [-max, max] pixels along each axis.
    scale_range : (float, float)
        Zoom factor range (1: unchanged).
    max_blur_sigma_px : float
        Gaussian blur sigma uniform in [0, max] pixels (0: none).
    max_noise : float
        Added Gaussian noise sigma uniform in [0, max], in normalised units.
    colour_sigma : float
        Per-band gain exp(N(0, colour_sigma)).
    contrast_sigma : float
        Global gain exp(N(0, contrast_sigma)).
    offset_sigma : float
        Global offset N(0, offset_sigma), in normalised units.
    """

    max_shift_px: float = 2.0
    scale_range: tuple[float, float] = (0.92, 1.08)
    max_blur_sigma_px: float = 1.0
    max_noise: float = 0.1
    colour_sigma: float = 0.05
    contrast_sigma: float = 0.1
    offset_sigma: float = 0.05

    def __post_init__(self):
        low, high = self.scale_range
        if not (0 < low <= high) or min(self.max_shift_px, self.max_blur_sigma_px, self.max_noise, self.colour_sigma, self.contrast_sigma, self.offset_sigma) < 0:
            raise ConfigError(f"strong-view amplitudes must be >= 0 and the scale range positive, got {self}")


def gaussian_blur(images: torch.Tensor, sigma_px: torch.Tensor) -> torch.Tensor:
    """Blur each image with its own Gaussian (``sigma_px`` of shape (N,)), edges reflected.

    A separable grouped convolution; a sigma of 0 leaves the image unchanged.
    """
    n, bands, height, width = images.shape
    radius = max(1, int(math.ceil(3 * float(sigma_px.max()))))
    offsets = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    sigma = sigma_px.to(images).clamp(min=1e-6).view(-1, 1)
    kernel = torch.exp(-0.5 * (offsets.view(1, -1) / sigma) ** 2)
    kernel = kernel / kernel.sum(dim=1, keepdim=True)
    kernel = kernel.repeat_interleave(bands, dim=0)  # one kernel per (image, band)
    flat = images.reshape(1, n * bands, height, width)
    flat = F.conv2d(F.pad(flat, (radius, radius, 0, 0), mode="reflect"), kernel[:, None, None, :], groups=n * bands)
    flat = F.conv2d(F.pad(flat, (0, 0, radius, radius), mode="reflect"), kernel[:, None, :, None], groups=n * bands)
    return flat.reshape(n, bands, height, width)


def strong_view(images: torch.Tensor, *, generator: torch.Generator, options: StrongViewOptions = StrongViewOptions()) -> torch.Tensor:
    """A strong view of each image of a normalised batch (see the module notes); CPU random draws."""
    n, bands, height, width = images.shape

    def uniform(*shape, low=0.0, high=1.0):
        return torch.rand(*shape, generator=generator) * (high - low) + low

    def normal(*shape):
        return torch.randn(*shape, generator=generator)

    angle = uniform(n, high=2 * math.pi)
    zoom = uniform(n, low=options.scale_range[0], high=options.scale_range[1])
    mirror = torch.where(uniform(n) < 0.5, -1.0, 1.0)
    shift = uniform(n, 2, low=-1.0, high=1.0) * options.max_shift_px * 2.0 / torch.tensor([width, height])
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos * mirror, -sin, shift[:, 0]], 1), torch.stack([sin * mirror, cos, shift[:, 1]], 1)], 1)
    theta = theta.to(images)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    if options.max_blur_sigma_px > 0:
        out = gaussian_blur(out, uniform(n, high=options.max_blur_sigma_px))
    gain = torch.exp(normal(n, bands, 1, 1) * options.colour_sigma + normal(n, 1, 1, 1) * options.contrast_sigma).to(images)
    offset = (normal(n, 1, 1, 1) * options.offset_sigma).to(images)
    noise = normal(n, bands, height, width).to(images) * uniform(n, 1, 1, 1, high=options.max_noise).to(images)
    return out * gain + offset + noise
