"""Pixel attributions by gradients: vanilla saliency, SmoothGrad and Integrated Gradients (captum).

Each function takes any module that maps a batch ``(N, bands, H, W)`` to one output tensor (an
:class:`~galmerge.explain.InspectableModel`, or a plain ``nn.Module``) and returns per-band
attributions of the same shape as the input; :func:`combine_bands` turns them into one map per
image. ``target`` picks the output column to explain: 1 is the merger logit of a galmerge
classifier, ``None`` an output with one value per image (a regression head, ``feature_norm``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from galmerge.errors import ConfigError
from galmerge.explain.network import require_captum

__all__ = ["saliency", "smoothgrad", "integrated_gradients", "make_baseline", "combine_bands", "BASELINES"]

BASELINES = ("zeros", "blurred", "sky_noise")


def _batches(inputs: torch.Tensor, batch_size: int):
    """Slices of the inputs that require gradients (captum warns, and flips the flag, otherwise)."""
    for start in range(0, len(inputs), batch_size):
        yield inputs[start : start + batch_size].detach().requires_grad_()


def saliency(model: nn.Module, inputs: torch.Tensor, *, target=1, absolute: bool = True, batch_size: int = 32) -> torch.Tensor:
    """The gradient of the output with respect to each input pixel (Simonyan et al. 2014).

    Parameters
    ----------
    model : nn.Module
    inputs : Tensor (N, bands, H, W)
        Network inputs (already preprocessed).
    target : int or None
    absolute : bool
        Return ``|gradient|`` (the usual saliency map) instead of the signed gradient.

    Returns
    -------
    Tensor (N, bands, H, W)
    """
    require_captum()
    from captum.attr import Saliency

    method = Saliency(model)
    return torch.cat([method.attribute(batch, target=target, abs=absolute).detach() for batch in _batches(inputs, batch_size)])


def smoothgrad(
    model: nn.Module,
    inputs: torch.Tensor,
    *,
    target=1,
    samples: int = 25,
    noise_fraction: float = 0.15,
    absolute: bool = True,
    seed: int = 0,
) -> torch.Tensor:
    """Saliency averaged over noisy copies of each image (SmoothGrad, Smilkov et al. 2017).

    Parameters
    ----------
    samples : int
        Noisy copies per image (the paper finds 20-50 enough).
    noise_fraction : float
        Standard deviation of the Gaussian noise as a fraction of each image's range (max - min
        of its input values); the paper recommends 10-20 %.
    absolute : bool
        Average ``|gradient|`` (as captum's SmoothGrad of saliency maps) rather than the signed gradient.
    seed : int
        Image ``i`` draws its noise from seed ``seed + i``, whatever the batch around it.

    Returns
    -------
    Tensor (N, bands, H, W)
    """
    require_captum()
    from captum.attr import NoiseTunnel, Saliency

    if samples < 1 or not noise_fraction >= 0:
        raise ConfigError(f"SmoothGrad needs samples >= 1 and noise_fraction >= 0, got {samples} and {noise_fraction}")
    tunnel = NoiseTunnel(Saliency(model))
    out = []
    # captum takes one noise level per input tensor, so each image goes alone to get its own.
    for index, image in enumerate(_batches(inputs, 1)):
        stdev = float(noise_fraction * (image.detach().max() - image.detach().min()))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed + index)
            out.append(tunnel.attribute(image, nt_type="smoothgrad", nt_samples=samples, stdevs=stdev, target=target, abs=absolute).detach())
    return torch.cat(out) if out else torch.zeros_like(inputs)


def make_baseline(
    inputs: torch.Tensor,
    kind: str = "zeros",
    *,
    zero_level=None,
    blur_sigma_px: float | None = None,
    seed: int = 0,
) -> torch.Tensor:
    """A reference image per input for Integrated Gradients: what "nothing there" means.

    Parameters
    ----------
    inputs : Tensor (N, bands, H, W)
    kind : {"zeros", "blurred", "sky_noise"}
        - ``zeros``: an image without light. For a galmerge network this is a zero-flux image
          after the training normalisation (``zero_level``), not a zero tensor, which would be
          the training images' mean brightness.
        - ``blurred``: the image smoothed by a Gaussian of ``blur_sigma_px`` (default an eighth
          of the side): keeps the light, removes the structure (Sturmfels et al. 2020). Tidal
          features and companions then carry the attribution, not the presence of a galaxy.
        - ``sky_noise``: an empty sky with the image's own noise: Gaussian noise of the
          standard deviation measured (median absolute deviation) on the outer 10 % of the
          stamp in each band, around ``zero_level``. For noiseless images it is ``zeros``.
    zero_level : Tensor or float, optional
        The input value of zero flux, broadcastable to ``(1, bands, 1, 1)``
        (:meth:`InspectableModel.zero_level`); default 0.
    seed : int
        Seed of the ``sky_noise`` draws.
    """
    zero = torch.as_tensor(0.0 if zero_level is None else zero_level, dtype=inputs.dtype)
    if kind == "zeros":
        return torch.zeros_like(inputs) + zero
    if kind == "blurred":
        from scipy.ndimage import gaussian_filter

        sigma = blur_sigma_px if blur_sigma_px is not None else inputs.shape[-1] / 8
        blurred = gaussian_filter(inputs.detach().numpy(), sigma=(0, 0, sigma, sigma), mode="nearest")
        return torch.from_numpy(blurred.astype(np.float32))
    if kind == "sky_noise":
        array = inputs.detach().numpy()
        height, width = array.shape[-2:]
        border = max(1, min(height, width) // 10)
        ring = np.ones((height, width), bool)
        ring[border:-border, border:-border] = False
        pixels = array[:, :, ring]
        sigma = 1.4826 * np.median(np.abs(pixels - np.median(pixels, axis=2, keepdims=True)), axis=2)
        noise = np.random.default_rng(seed).standard_normal(array.shape) * sigma[:, :, None, None]
        return torch.from_numpy(noise.astype(np.float32)) + zero
    raise ConfigError(f"unknown baseline {kind!r}; choose one of {', '.join(BASELINES)}")


def integrated_gradients(
    model: nn.Module,
    inputs: torch.Tensor,
    *,
    target=1,
    baseline="zeros",
    steps: int = 50,
    seed: int = 0,
    batch_size: int = 16,
    return_delta: bool = False,
):
    """Integrated Gradients (Sundararajan et al. 2017): gradients along the path from a baseline.

    Attributions sum to the output at the image minus the output at the baseline
    (completeness), up to the error of the ``steps``-point Gauss-Legendre quadrature.

    Parameters
    ----------
    baseline : {"zeros", "blurred", "sky_noise"} or Tensor
        See :func:`make_baseline`; for an :class:`InspectableModel` "zeros" is the zero-flux image.
    steps : int
        Points on the path.
    return_delta : bool
        Also return captum's convergence delta per image: the sum of the attributions minus
        (output - baseline output).

    Returns
    -------
    Tensor (N, bands, H, W), and with ``return_delta`` a Tensor (N,)
    """
    require_captum()
    from captum.attr import IntegratedGradients

    if not isinstance(baseline, torch.Tensor):
        zero_level = model.zero_level() if hasattr(model, "zero_level") else None
        baseline = make_baseline(inputs, baseline, zero_level=zero_level, seed=seed)
    baseline = baseline.expand_as(inputs)
    method = IntegratedGradients(model)
    attributions, deltas = [], []
    for start, batch in zip(range(0, len(inputs), batch_size), _batches(inputs, batch_size)):
        reference = baseline[start : start + batch_size]
        result, delta = method.attribute(batch, baselines=reference, target=target, n_steps=steps, internal_batch_size=max(steps, 64), return_convergence_delta=True)
        attributions.append(result.detach())
        deltas.append(delta.detach())
    attributions = torch.cat(attributions) if attributions else torch.zeros_like(inputs)
    return (attributions, torch.cat(deltas)) if return_delta else attributions


def combine_bands(attributions: torch.Tensor, *, how: str = "max_abs") -> np.ndarray:
    """One map per image from per-band attributions (N, bands, H, W) -> (N, H, W).

    ``max_abs``: the largest absolute value over bands (Simonyan et al.'s saliency map);
    ``sum``: the signed sum over bands (keeps Integrated Gradients' completeness).
    """
    if how == "max_abs":
        return attributions.abs().amax(dim=1).numpy()
    if how == "sum":
        return attributions.sum(dim=1).numpy()
    raise ConfigError(f"unknown band combination {how!r}; choose max_abs or sum")
