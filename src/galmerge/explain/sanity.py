"""Sanity checks for attribution maps (Adebayo et al. 2018): do the maps depend on what the model learned?

Model-parameter randomisation re-initialises the network's layers, from the output down
(cascading) or one at a time (independent), and compares each method's maps with those of the
trained model. A method whose maps barely change when the weights that produced them are
replaced explains the image, not the model, and is flagged.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from galmerge.errors import ConfigError
from galmerge.explain.methods import ATTRIBUTION_METHODS, attribution_maps, check_methods
from galmerge.explain.network import InspectableModel

__all__ = ["randomisation_check", "RandomisationCheck", "layer_groups", "rank_correlation", "structural_similarity", "map_similarity", "MODES"]

MODES = ("cascading", "independent")
SIMILARITY_METRICS = ("spearman_abs", "spearman_signed", "ssim")


def rank_correlation(a: np.ndarray, b: np.ndarray, *, absolute: bool = True) -> float:
    """Spearman rank correlation of two maps (of their absolute values by default); NaN if either is constant."""
    from scipy.stats import rankdata

    a, b = np.ravel(a), np.ravel(b)
    if absolute:
        a, b = np.abs(a), np.abs(b)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(np.corrcoef(rankdata(a), rankdata(b))[0, 1])


def structural_similarity(a: np.ndarray, b: np.ndarray, *, sigma: float = 1.5) -> float:
    """SSIM (Wang et al. 2004) of two maps, each scaled to [0, 1] first, as Adebayo et al. compare them.

    Follows scikit-image's ``structural_similarity(..., gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=1)``: Gaussian-weighted local statistics, K1 = 0.01,
    K2 = 0.03, averaged away from a border of the window's half-width. Written out so the numbers
    do not depend on whether scikit-image is installed.
    """
    from scipy.ndimage import gaussian_filter

    def scaled(x):
        x = np.asarray(x, dtype=np.float64)
        span = np.ptp(x)
        return (x - x.min()) / span if span > 0 else np.zeros_like(x)

    x, y = scaled(a), scaled(b)
    c1, c2 = 0.01**2, 0.03**2
    truncate = 3.5

    def blur(image):
        return gaussian_filter(image, sigma=sigma, truncate=truncate)

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    ssim = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    pad = int(truncate * sigma + 0.5)
    inner = ssim[pad:-pad, pad:-pad] if min(ssim.shape) > 2 * pad else ssim
    return float(inner.mean())


def map_similarity(original: np.ndarray, other: np.ndarray) -> dict:
    """Mean over images of the Spearman correlation (absolute and signed) and SSIM of paired maps (N, H, W)."""
    values = {name: [] for name in SIMILARITY_METRICS}
    for a, b in zip(original, other):
        values["spearman_abs"].append(rank_correlation(a, b, absolute=True))
        values["spearman_signed"].append(rank_correlation(a, b, absolute=False))
        values["ssim"].append(structural_similarity(np.abs(a), np.abs(b)))
    return {name: float(np.nanmean(v)) if not np.isnan(v).all() else float("nan") for name, v in values.items()}


def layer_groups(model: nn.Module) -> list[tuple[str, list[nn.Module]]]:
    """The model's layers as (name, modules) groups, input first, each re-initialised as one.

    galmerge networks group a convolution with its BatchNorm (their ``layer_groups``); other
    modules give one group per module that holds parameters.
    """
    network = model.network if isinstance(model, InspectableModel) else model
    owned = [(name, module) for name, module in network.named_modules() if list(module.parameters(recurse=False))]
    if not hasattr(network, "layer_groups"):
        return [(name, [module]) for name, module in owned]
    groups = []
    for parameters in network.layer_groups():
        ids = {id(p) for p in parameters}
        members = [(name, module) for name, module in owned if all(id(p) in ids for p in module.parameters(recurse=False))]
        tops = list(dict.fromkeys(name.split(".")[0] for name, _ in members))
        groups.append(("+".join(tops), [module for _, module in members]))
    return groups


def _reinitialise(modules, *, seed: int) -> None:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for module in modules:
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
            else:  # no initialiser of its own: redraw with the weights' current spread
                with torch.no_grad():
                    for parameter in module.parameters(recurse=False):
                        parameter.normal_(0.0, float(parameter.std()) if parameter.numel() > 1 else 0.01)


@dataclass
class RandomisationCheck:
    """Similarity of each method's maps before and after randomising the model, step by step.

    Attributes
    ----------
    mode : {"cascading", "independent"}
    steps : list of str
        The layer group re-initialised at each step, output first (cascading: all groups up to
        and including this one are random).
    similarity : dict
        ``method -> metric -> list over steps`` with metrics ``spearman_abs``,
        ``spearman_signed`` and ``ssim`` (means over images).
    example_maps : dict
        ``method -> ndarray (1 + steps, H, W)``: the first image's map, trained model first.
    max_similarity : float
        Above this Spearman (absolute) similarity a method counts as insensitive to the weights.
    """

    mode: str
    steps: list
    similarity: dict
    example_maps: dict = field(repr=False)
    max_similarity: float = 0.3

    def final_similarity(self, method: str, metric: str = "spearman_abs") -> float:
        """Cascading: the similarity once every layer is random. Independent: the lowest over layers."""
        values = np.asarray(self.similarity[method][metric], dtype=float)
        if self.mode == "cascading":
            return float(values[-1])
        return float(np.nanmin(values)) if not np.isnan(values).all() else float("nan")

    @property
    def flagged(self) -> list[str]:
        """Methods whose maps stay similar (Spearman of absolute maps above ``max_similarity``)."""
        return [m for m in self.similarity if not self.final_similarity(m) < self.max_similarity]

    def to_dict(self) -> dict:
        return {
            "mode": self.mode,
            "steps": self.steps,
            "similarity": self.similarity,
            "max_similarity": self.max_similarity,
            "final_spearman_abs": {m: self.final_similarity(m) for m in self.similarity},
            "flagged": self.flagged,
        }


def randomisation_check(
    model: nn.Module,
    inputs: torch.Tensor,
    *,
    methods=ATTRIBUTION_METHODS,
    mode: str = "cascading",
    target=1,
    max_similarity: float = 0.3,
    seed: int = 0,
    progress: bool = False,
    **method_options,
) -> RandomisationCheck:
    """Adebayo et al.'s model-parameter randomisation test for attribution methods.

    Parameters
    ----------
    model : nn.Module
        A trained model (not modified: every step works on a copy).
    inputs : Tensor (N, bands, H, W)
        A few network inputs (4-16 images are enough for the mean similarities).
    methods : sequence of str
        From :data:`~galmerge.explain.methods.ATTRIBUTION_METHODS`.
    mode : {"cascading", "independent"}
        Cascading re-initialises the layers from the output down, keeping earlier ones random;
        independent re-initialises one layer at a time in the trained model.
    max_similarity : float
        Flag a method whose absolute-map Spearman similarity stays at or above this after
        randomisation (0.3, the issue's reading of Adebayo et al.: low is good).
    seed : int
        Seeds the re-initialisation and the methods' noise.
    **method_options
        Passed to :func:`~galmerge.explain.methods.attribution_maps` (``layer``, ``baseline``,
        ``smoothgrad_samples``, ``ig_steps``).
    """
    from galmerge.display import progress_bar

    methods = check_methods(methods)
    if mode not in MODES:
        raise ConfigError(f"unknown randomisation mode {mode!r}; choose one of {', '.join(MODES)}")
    groups = layer_groups(model)[::-1]
    if "layer" in method_options and isinstance(method_options["layer"], nn.Module):
        raise ConfigError("give the Grad-CAM layer by name for a randomisation check: each step works on a copy of the model")

    def maps_of(network):
        return {m: attribution_maps(network, inputs, method=m, target=target, seed=seed, **method_options) for m in methods}

    original = maps_of(model)
    similarity = {m: {metric: [] for metric in SIMILARITY_METRICS} for m in methods}
    examples = {m: [original[m][0]] for m in methods}
    cascade = copy.deepcopy(model)
    for step, (_name, _) in enumerate(progress_bar(groups, desc=f"{mode} randomisation", unit="layer", enabled=progress)):
        current = cascade if mode == "cascading" else copy.deepcopy(model)
        # Find this group's modules in the copy by position: the copy has its own modules.
        _reinitialise(layer_groups(current)[::-1][step][1], seed=seed + step)
        randomised = maps_of(current)
        for m in methods:
            for metric, value in map_similarity(original[m], randomised[m]).items():
                similarity[m][metric].append(value)
            examples[m].append(randomised[m][0])
    return RandomisationCheck(
        mode=mode,
        steps=[name for name, _ in groups],
        similarity=similarity,
        example_maps={m: np.stack(v) for m, v in examples.items()},
        max_similarity=max_similarity,
    )
