"""Testing with Concept Activation Vectors (TCAV, Kim et al. 2018): does the network use a concept?

A concept is a set of images that show it ("tidal tail", "disky", "busy field"). At a layer, a
linear classifier separates the concept's activations from those of random images; its normal,
the concept activation vector (CAV), is the direction of the concept in that layer. The TCAV
score of a class is the fraction of the class's images whose output increases along the CAV.
Against many random sets it gives a distribution of scores; the CAVs of random sets against
other random sets give the null distribution, and a two-sided t-test (Holm-corrected over every
concept and layer tested) says which concepts matter.

Written here on scikit-learn rather than with ``captum.concept.TCAV``, which saves every CAV
to disk under its working directory, trains its classifiers by SGD (ConvergenceWarnings and
run-to-run scatter) and tests significance only against one random concept at a time; the
layer activations and gradients still come from captum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from galmerge.errors import ConfigError, DataError
from galmerge.explain.network import activation_layer_names, require_captum, resolve_layer

__all__ = ["Concept", "ConceptActivationVector", "TCAVScore", "tcav", "holm_correction"]

MIN_CONCEPT_IMAGES = 5


@dataclass
class Concept:
    """Images that show a concept, as network inputs.

    Attributes
    ----------
    name : str
    inputs : Tensor (N, bands, H, W)
        Preprocessed images (:meth:`InspectableModel.preprocess`).
    description : str
        How the images were chosen.
    """

    name: str
    inputs: torch.Tensor
    description: str = ""


class ConceptActivationVector:
    """The direction of a concept in a layer: the normal of a linear boundary, concept vs random.

    A ridge classifier (closed form: deterministic, no convergence to watch, and fast with far
    more activations than images); ``vector_`` is its unit weight vector pointing towards the
    concept. ``accuracy_`` is measured on a held-out third of the images: a concept the layer
    does not separate from random images has an accuracy near 0.5 and a meaningless direction.

    Parameters
    ----------
    alpha : float
        Ridge regularisation.
    test_fraction : float
        Share of each set held out for ``accuracy_``.
    random_state : int
    """

    def __init__(self, *, alpha: float = 1.0, test_fraction: float = 0.33, random_state: int = 0):
        self.alpha = alpha
        self.test_fraction = test_fraction
        self.random_state = random_state

    def fit(self, concept: np.ndarray, random: np.ndarray) -> "ConceptActivationVector":
        """Fit on flattened activations (n_concept, D) and (n_random, D); returns ``self``."""
        from sklearn.linear_model import RidgeClassifier
        from sklearn.model_selection import train_test_split

        features = np.concatenate([concept, random]).astype(np.float64)
        labels = np.concatenate([np.ones(len(concept), int), np.zeros(len(random), int)])
        train_x, test_x, train_y, test_y = train_test_split(features, labels, test_size=self.test_fraction, stratify=labels, random_state=self.random_state)
        classifier = RidgeClassifier(alpha=self.alpha).fit(train_x, train_y)
        self.accuracy_ = float(classifier.score(test_x, test_y))
        weights = classifier.coef_.ravel()
        norm = np.linalg.norm(weights)
        self.vector_ = weights / norm if norm > 0 else weights
        return self


@dataclass
class TCAVScore:
    """A concept's TCAV scores at one layer against its random runs, and their significance.

    Attributes
    ----------
    concept, layer : str
    scores : ndarray (runs,)
        TCAV score against each random set: the fraction of class images whose output rises
        along the CAV.
    null_scores : ndarray (runs,)
        Scores of random-vs-random CAVs at the same layer (other random sets each run).
    cav_accuracy : float
        Mean held-out accuracy of the concept's CAVs.
    p_value, p_adjusted : float
        Two-sided Welch t-test of ``scores`` against ``null_scores``; Holm-adjusted over every
        (concept, layer) tested together.
    significant : bool
        ``p_adjusted < alpha``.
    """

    concept: str
    layer: str
    scores: np.ndarray
    null_scores: np.ndarray
    cav_accuracy: float
    p_value: float
    p_adjusted: float = float("nan")
    significant: bool = False

    @property
    def mean(self) -> float:
        return float(np.mean(self.scores))

    @property
    def std(self) -> float:
        return float(np.std(self.scores))

    def to_dict(self) -> dict:
        return {
            "concept": self.concept,
            "layer": self.layer,
            "mean": self.mean,
            "std": self.std,
            "null_mean": float(np.mean(self.null_scores)),
            "null_std": float(np.std(self.null_scores)),
            "cav_accuracy": self.cav_accuracy,
            "p_value": self.p_value,
            "p_adjusted": self.p_adjusted,
            "significant": self.significant,
            "runs": len(self.scores),
        }


def holm_correction(p_values) -> np.ndarray:
    """Holm's step-down adjusted p-values (controls the family-wise error rate)."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p)
    adjusted = np.empty_like(p)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, (len(p) - rank) * p[index])
        adjusted[index] = min(running, 1.0)
    return adjusted


def _two_sided_t_test(a: np.ndarray, b: np.ndarray) -> float:
    """Welch's two-sided t-test, written out: scipy warns of precision loss when one sample is
    constant (a concept scoring 1.0 in every run), where the test is still well defined."""
    from scipy.stats import t as student

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    var_a, var_b = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    spread = var_a + var_b
    if spread == 0:  # both constant: equal or certainly different
        return 1.0 if a.mean() == b.mean() else 0.0
    statistic = (a.mean() - b.mean()) / np.sqrt(spread)
    dof = spread**2 / (var_a**2 / (len(a) - 1) + var_b**2 / (len(b) - 1))
    return float(2 * student.sf(abs(statistic), dof))


def _flat(tensor: torch.Tensor) -> np.ndarray:
    return tensor.reshape(len(tensor), -1).double().numpy()


def _activations(model, layer_module, inputs, batch_size):
    from captum.attr import LayerActivation

    method = LayerActivation(model, layer_module)
    with torch.no_grad():
        return np.concatenate([_flat(method.attribute(inputs[s : s + batch_size])) for s in range(0, len(inputs), batch_size)])


def _gradients(model, layer_module, inputs, target, batch_size):
    from captum.attr import LayerGradientXActivation

    # multiply_by_inputs=False: the plain gradient of the output with respect to the layer.
    method = LayerGradientXActivation(model, layer_module, multiply_by_inputs=False)
    return np.concatenate([_flat(method.attribute(inputs[s : s + batch_size], target=target).detach()) for s in range(0, len(inputs), batch_size)])


def tcav(
    model: nn.Module,
    class_inputs: torch.Tensor,
    concepts,
    random_inputs: torch.Tensor,
    *,
    layers=None,
    target=1,
    runs: int = 10,
    random_set_size: int | None = None,
    alpha: float = 0.05,
    seed: int = 0,
    batch_size: int = 64,
    progress: bool = False,
) -> list[TCAVScore]:
    """TCAV scores of concepts for one class, with significance against random concepts.

    Parameters
    ----------
    model : nn.Module
    class_inputs : Tensor (N, bands, H, W)
        Images of the class to explain (e.g. mergers), as network inputs.
    concepts : sequence of Concept
    random_inputs : Tensor (M, bands, H, W)
        A pool of images the random counterpart sets are drawn from (without replacement per set).
    layers : sequence of str, optional
        Default: every activation layer of the model.
    target : int or None
        The output whose sensitivity is tested (1: the merger logit).
    runs : int
        Random sets per concept (at least 2; 10 or more for a meaningful t-test). The null
        distribution uses as many random-vs-random CAVs.
    random_set_size : int, optional
        Images per random set (default: the largest concept's size, at most half the pool).
    alpha : float
        Family-wise significance level after Holm's correction.
    seed : int

    Returns
    -------
    list of TCAVScore
        One per (concept, layer), concepts in order within each layer.
    """
    require_captum()
    from galmerge.display import progress_bar

    concepts = list(concepts)
    if not concepts:
        raise ConfigError("TCAV needs at least one concept")
    if runs < 2:
        raise ConfigError(f"TCAV needs at least 2 random runs for its t-test (10 or more recommended), got {runs}")
    for concept in concepts:
        if len(concept.inputs) < MIN_CONCEPT_IMAGES:
            raise DataError(f"concept {concept.name!r}: {len(concept.inputs)} images; a CAV needs at least {MIN_CONCEPT_IMAGES}")
    if len(class_inputs) == 0:
        raise DataError("TCAV needs images of the class to explain, and none were given")
    size = random_set_size or min(max(len(c.inputs) for c in concepts), len(random_inputs) // 2)
    if size < MIN_CONCEPT_IMAGES or len(random_inputs) < 2 * size:
        raise DataError(f"TCAV needs a pool of at least {2 * max(size, MIN_CONCEPT_IMAGES)} random images for sets of {max(size, MIN_CONCEPT_IMAGES)}; got {len(random_inputs)}")
    rng = np.random.default_rng(seed)
    counterparts = [rng.choice(len(random_inputs), size, replace=False) for _ in range(runs)]
    # The null: per run, two disjoint random sets, one playing the concept; new draws every run, so
    # its CAVs vary as much as the concepts' do.
    null_pairs = [np.split(rng.choice(len(random_inputs), 2 * size, replace=False), 2) for _ in range(runs)]
    layers = tuple(layers) if layers is not None else activation_layer_names(model)
    results = []
    for name in progress_bar(layers, desc="TCAV", unit="layer", enabled=progress):
        layer_module = resolve_layer(model, name)
        gradients = _gradients(model, layer_module, class_inputs, target, batch_size)
        pool = _activations(model, layer_module, random_inputs, batch_size)

        def score(concept_acts, counterpart, run):
            cav = ConceptActivationVector(random_state=seed + run).fit(concept_acts, counterpart)
            return float(np.mean(gradients @ cav.vector_ > 0)), cav.accuracy_  # noqa: B023 (called within this iteration)

        null = np.array([score(pool[first], pool[second], run)[0] for run, (first, second) in enumerate(null_pairs)])
        for concept in concepts:
            acts = _activations(model, layer_module, concept.inputs, batch_size)
            pairs = [score(acts, pool[rows], run) for run, rows in enumerate(counterparts)]
            scores = np.array([s for s, _ in pairs])
            results.append(TCAVScore(concept=concept.name, layer=name, scores=scores, null_scores=null, cav_accuracy=float(np.mean([a for _, a in pairs])), p_value=_two_sided_t_test(scores, null)))
    adjusted = holm_correction([r.p_value for r in results])
    for result, p in zip(results, adjusted):
        result.p_adjusted = float(p)
        result.significant = bool(p < alpha)
    return results
