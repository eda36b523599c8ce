"""Classical merger baselines: classifiers on statistics of the light, beside the CNNs.

- :class:`NonParametricMergerClassifier`: the statistics every merger paper compares against
  (CAS, Gini-M20, MID, shape asymmetry; Conselice 2003; Lotz et al. 2004, 2008; Freeman et al.
  2013; Pawlik et al. 2016), measured by statmorph (:func:`galmerge.morphology.measure_morphology`),
  in a random forest. Unmeasured statistics (flagged images) are imputed with the training
  median, so flagged images still get a probability.
- :class:`~galmerge.models.statistics_classifier.StatisticsMergerClassifier` (in
  :func:`statistics_probabilities`): a logistic regression on galmerge's fast image
  statistics (:mod:`galmerge.mocks.image_statistics`: size, concentration, asymmetry, peaks,
  framing), measured in about a millisecond per stamp where statmorph takes seconds.

Their settings are fixed here, not tuned on any data.

The functions return merger probabilities; the evaluation code turns them into its usual metrics
with bootstrap intervals.
"""

from __future__ import annotations

import numpy as np
from astropy.table import Table

from galmerge.errors import LabelError
from galmerge.models.statistics_classifier import StatisticsMergerClassifier

__all__ = [
    "BASELINE_FEATURES",
    "NonParametricMergerClassifier",
    "cross_validated_probabilities",
    "feature_matrix",
    "baseline_probabilities",
    "statistics_probabilities",
]


BASELINE_FEATURES = (
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
    "ellipticity_asymmetry",
)


def feature_matrix(table: Table) -> np.ndarray:
    """(N, 13) statistics of :data:`BASELINE_FEATURES`, NaN where unmeasured (and for infinities)."""
    matrix = np.stack([np.asarray(table[name], dtype=np.float64) for name in BASELINE_FEATURES], axis=1)
    return np.where(np.isfinite(matrix), matrix, np.nan)


class NonParametricMergerClassifier:
    """Median imputation + random forest (500 trees, balanced class weights), scikit-learn style.

    Parameters
    ----------
    n_estimators : int
    min_samples_leaf : int
    random_state : int
    """

    def __init__(self, *, n_estimators: int = 500, min_samples_leaf: int = 3, random_state: int = 0):
        self.n_estimators = n_estimators
        self.min_samples_leaf = min_samples_leaf
        self.random_state = random_state

    def _pipeline(self):
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import make_pipeline

        forest = RandomForestClassifier(
            n_estimators=self.n_estimators,
            min_samples_leaf=self.min_samples_leaf,
            class_weight="balanced_subsample",
            random_state=self.random_state,
            n_jobs=1,
        )
        return make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), forest)

    def fit(self, statistics: Table, labels) -> "NonParametricMergerClassifier":
        labels = np.asarray(labels).astype(int)
        if len(np.unique(labels)) < 2:
            raise LabelError("the non-parametric baseline needs mergers and non-mergers to learn from")
        self.pipeline_ = self._pipeline().fit(feature_matrix(statistics), labels)
        importances = self.pipeline_[-1].feature_importances_
        self.feature_importances_ = dict(zip(BASELINE_FEATURES, importances.tolist()))
        return self

    def predict_proba(self, statistics: Table) -> np.ndarray:
        """p(merger) of each row."""
        return self.pipeline_.predict_proba(feature_matrix(statistics))[:, 1]


def statistics_probabilities(train, train_labels, scored: dict) -> dict:
    """Fit :class:`StatisticsMergerClassifier` on the ImageSet ``train`` and return p(merger) of each ImageSet in ``scored``, by name."""
    model = StatisticsMergerClassifier().fit(train.images, train_labels)
    return {name: model.predict_proba(images.images) for name, images in scored.items()}


def cross_validated_probabilities(statistics: Table, labels, *, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Out-of-fold p(merger) of every row by stratified ``folds``-fold cross-validation.

    Each row is scored by a forest that never saw it; nothing is tuned, so scoring the whole set
    this way is an honest estimate for a supervised baseline trained on such data.
    """
    from sklearn.model_selection import StratifiedKFold

    labels = np.asarray(labels).astype(int)
    counts = np.bincount(labels, minlength=2)
    if counts.min() < folds:
        raise LabelError(f"{folds}-fold cross-validation needs at least {folds} images of each class; got {counts.tolist()}")
    p_merger = np.empty(len(labels))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(np.zeros(len(labels)), labels):
        model = NonParametricMergerClassifier(random_state=seed).fit(statistics[train], labels[train])
        p_merger[test] = model.predict_proba(statistics[test])
    return p_merger


def baseline_probabilities(train, train_labels, scored: dict, *, workers: int | None = 1, seed: int = 0, progress: bool = True) -> dict:
    """Measure the statistics of ImageSets, fit the forest on ``train`` and return p(merger) of each set in ``scored``.

    Parameters
    ----------
    train : ImageSet
        Labelled training images (e.g. the source training split of an experiment).
    train_labels : array of 0/1
    scored : dict of str to ImageSet
        Sets to score, by name.
    """
    from galmerge.morphology.statistics import measure_morphology

    statistics = measure_morphology(train, workers=workers, progress=progress)
    model = NonParametricMergerClassifier(random_state=seed).fit(statistics, train_labels)
    return {name: model.predict_proba(measure_morphology(images, workers=workers, progress=progress)) for name, images in scored.items()}
