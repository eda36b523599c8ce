"""Few-label transfer curves scored by repeated stratified cross-validation over a labelled survey set.

With 58 real mergers, drawing one label pool and scoring the rest leaves ~30 mergers to score on
and a standard error of ~0.05 in ROC-AUC. Here the labelled set is split into stratified folds
instead (group-aware when it has a ``group`` column); for each held-out fold, K labels are drawn
from the other folds (half mergers where available, nested so K = 10 is part of K = 25, ...), each
method is fitted on them and scores the held-out fold. Every labelled image, every merger
included, is thus scored exactly once per repeat by a model that never saw it, and all methods
are scored on the same images, so they can be compared pairwise
(:mod:`galmerge.evaluation.compare`). Repeats use other fold splits and other pools.

A *method* is anything with a ``name`` and ``fit_predict(labelled, evaluation, *, seed)``
returning p(merger) for the evaluation images; ``needs_labels = False`` methods (a run applied
as it is) also give the K = 0 point.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence

import numpy as np

from galmerge.data.imageset import ImageSet
from galmerge.errors import ConfigError, LabelError

__all__ = ["FewLabelMethod", "FewLabelOptions", "FewLabelPoint", "FewLabelCurve", "few_label_curve", "draw_nested_pool"]


class FewLabelMethod(Protocol):
    name: str
    needs_labels: bool

    def fit_predict(self, labelled: ImageSet, evaluation: ImageSet, *, seed: int) -> np.ndarray: ...


@dataclass(frozen=True)
class FewLabelOptions:
    """How the curve is measured.

    Attributes
    ----------
    n_labels : tuple of int
        The K values (0 is scored only for methods that need no labels).
    n_folds : int
        Stratified folds per repeat.
    n_repeats : int
        Fold splits (each with its own pools).
    merger_share : float
        Wanted share of mergers in a pool; fewer when the training folds run out of mergers.
    seed : int
    """

    n_labels: tuple[int, ...] = (0, 10, 25, 50, 100)
    n_folds: int = 5
    n_repeats: int = 2
    merger_share: float = 0.5
    seed: int = 0

    def __post_init__(self):
        if self.n_folds < 2 or self.n_repeats < 1:
            raise ConfigError(f"need at least 2 folds and 1 repeat, got {self.n_folds} and {self.n_repeats}")
        if any(k < 0 for k in self.n_labels) or not self.n_labels:
            raise ConfigError(f"n_labels must be non-negative numbers, got {self.n_labels}")
        if not 0 < self.merger_share < 1:
            raise ConfigError(f"merger_share must be in (0, 1), got {self.merger_share}")


@dataclass
class FewLabelPoint:
    """One method at one K: out-of-fold merger probabilities of every labelled image, per repeat."""

    method: str
    n_labels: int
    predictions: np.ndarray  # (n_repeats, N)
    n_mergers_in_pools: list[int] = field(default_factory=list)


@dataclass
class FewLabelCurve:
    """All points of a few-label experiment on one labelled set."""

    labels: np.ndarray
    points: list[FewLabelPoint]
    options: FewLabelOptions

    def point(self, method: str, n_labels: int) -> FewLabelPoint:
        for p in self.points:
            if p.method == method and p.n_labels == n_labels:
                return p
        raise KeyError(f"no point for {method!r} at K = {n_labels}")

    def mean_prediction(self, method: str, n_labels: int) -> np.ndarray:
        """Out-of-fold p(merger) averaged over repeats: what paired comparisons use."""
        return self.point(method, n_labels).predictions.mean(axis=0)


def draw_nested_pool(labels: np.ndarray, rows: np.ndarray, sizes: Sequence[int], *, merger_share: float, rng: np.random.Generator) -> dict[int, np.ndarray]:
    """Nested class-balanced pools from ``rows``: pool(K) contains pool(K') for K' < K.

    Each pool holds ``min(round(K * merger_share), mergers available)`` mergers and the rest
    non-mergers; the larger pools extend the smaller ones in a fixed random order.
    """
    mergers = rng.permutation(rows[labels[rows] == 1])
    others = rng.permutation(rows[labels[rows] == 0])
    pools = {}
    for size in sorted(sizes):
        n_mergers = min(int(round(size * merger_share)), len(mergers))
        n_others = min(size - n_mergers, len(others))
        pools[size] = np.concatenate([mergers[:n_mergers], others[:n_others]])
    return pools


def _folds(labels: np.ndarray, groups, n_folds: int, seed: int):
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    if groups is not None:
        splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        return list(splitter.split(np.zeros(len(labels)), labels, groups))
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(labels)), labels))


def few_label_curve(labelled: ImageSet, methods: Sequence[FewLabelMethod], *, options: FewLabelOptions = FewLabelOptions(), progress: bool = True) -> FewLabelCurve:
    """Score every method at every K by repeated stratified cross-validation (see the module notes).

    Parameters
    ----------
    labelled : ImageSet
        Labelled images of the survey (both classes, at least ``n_folds`` mergers).
    methods : sequence of FewLabelMethod
    options : FewLabelOptions
    progress : bool

    Returns
    -------
    FewLabelCurve
    """
    from tqdm.auto import tqdm

    labels = labelled.require_both_classes(purpose="a few-label curve").astype(np.int64)
    if labels.sum() < options.n_folds:
        raise LabelError(f"{labelled.source}: {int(labels.sum())} mergers cannot fill {options.n_folds} folds")
    names = [m.name for m in methods]
    if len(set(names)) != len(names):
        raise ConfigError(f"method names must differ, got {names}")
    groups = np.asarray(labelled.meta["group"]) if "group" in labelled.meta.colnames else None
    positive_sizes = sorted(k for k in set(options.n_labels) if k > 0)
    n = len(labels)
    predictions = {(m.name, k): np.full((options.n_repeats, n), np.nan) for m in methods for k in options.n_labels if k > 0 or not m.needs_labels}
    merger_counts: dict[tuple[str, int], list[int]] = {key: [] for key in predictions}
    jobs = [(r, f) for r in range(options.n_repeats) for f in range(options.n_folds)]
    bar = tqdm(jobs, desc="few-label folds", unit="fold", disable=not progress)
    for repeat, fold_index in bar:
        folds = _folds(labels, groups, options.n_folds, options.seed * 1000 + repeat)
        train_rows, test_rows = folds[fold_index]
        rng = np.random.default_rng([options.seed, repeat, fold_index])
        pools = draw_nested_pool(labels, train_rows, positive_sizes, merger_share=options.merger_share, rng=rng)
        evaluation = labelled[test_rows]
        fold_seed = int(rng.integers(2**31))
        for method in methods:
            for k in options.n_labels:
                if (method.name, k) not in predictions:
                    continue
                pool = pools.get(k, np.array([], dtype=np.int64))
                scores = method.fit_predict(labelled[pool], evaluation, seed=fold_seed)
                predictions[(method.name, k)][repeat, test_rows] = np.asarray(scores, dtype=np.float64)
                merger_counts[(method.name, k)].append(int(labels[pool].sum()))
    points = [FewLabelPoint(name, k, values, merger_counts[(name, k)]) for (name, k), values in predictions.items()]
    return FewLabelCurve(labels=labels, points=points, options=options)
