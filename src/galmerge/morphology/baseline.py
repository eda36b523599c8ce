"""Classical merger baselines: classifiers on statistics of the light, beside the CNNs.

- :class:`NonParametricMergerClassifier`: the statistics every merger paper compares against
  (CAS, Gini-M20, MID, shape asymmetry; Conselice 2003; Lotz et al. 2004, 2008; Freeman et al.
  2013; Pawlik et al. 2016), measured by statmorph (:func:`galmerge.morphology.measure_morphology`),
  in a random forest. Unmeasured statistics (flagged images) are imputed with the training
  median, so flagged images still get a probability.
- :class:`StatisticsMergerClassifier`: a logistic regression on galmerge's fast image
  statistics (:mod:`galmerge.mocks.image_statistics`: size, concentration, asymmetry, peaks,
  framing), measured in milliseconds per thousand stamps where statmorph takes seconds.

Their settings are fixed here, not tuned on any data.

The functions return merger probabilities; the evaluation code turns them into its usual metrics
with bootstrap intervals.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from astropy.table import Table
from scipy.special import expit

from galmerge.errors import CheckpointError, LabelError

__all__ = [
    "BASELINE_FEATURES",
    "NonParametricMergerClassifier",
    "StatisticsMergerClassifier",
    "cross_validated_probabilities",
    "feature_matrix",
    "baseline_probabilities",
    "statistics_probabilities",
    "save_statistics_model",
    "load_statistics_model",
]

_STATISTICS_FORMAT = "galmerge.StatisticsMergerClassifier/1"

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


class StatisticsMergerClassifier:
    """Standardised logistic regression (scikit-learn's L2 default, C = 1) on the framing and morphology image statistics.

    The *nuisance* statistics of :mod:`galmerge.mocks.image_statistics` (background, noise,
    saturation, sub-pixel position) are left out by design: they say nothing about the galaxy,
    so they could only carry differences between the training images and a survey. Trained on
    ``sim2real-sdss`` mocks, this classifier ranks real Galaxy Zoo 1 mergers better than the CNNs
    trained on the same mocks (README, "Where this stands on real images").

    Parameters
    ----------
    names : sequence of str, optional
        The statistics to use (default: every framing and morphology statistic).
    image_size : int, optional
        Side in pixels of the stamps it is fitted on (set by :meth:`fit`). Statistics are
        measured in pixels, so stamps of another side are resized to it before measuring.
    """

    def __init__(self, *, names=None, image_size: int | None = None):
        from galmerge.mocks.image_statistics import STATISTIC_KINDS

        self.names = tuple(names) if names is not None else tuple(name for name, (kind, _) in STATISTIC_KINDS.items() if kind != "nuisance")
        self.image_size = image_size

    def statistics(self, images) -> np.ndarray:
        """(N, len(names)) statistics of ``images`` (N, bands, H, W), resized to ``image_size`` first."""
        from galmerge.mocks.image_statistics import measure_image_statistics

        images = np.asarray(images, dtype=np.float32)
        if self.image_size is not None and images.ndim == 4 and images.shape[-1] != self.image_size:
            import torch

            from galmerge.data.transforms import crop_and_resize

            images = crop_and_resize(torch.from_numpy(images), size=self.image_size).numpy()
        return measure_image_statistics(images, names=self.names).values

    def fit(self, images, labels) -> "StatisticsMergerClassifier":
        """Fit on ``images`` (N, bands, H, W) with 0/1 ``labels``."""
        if self.image_size is None:
            self.image_size = int(np.shape(images)[-1])
        return self.fit_statistics(self.statistics(images), labels)

    def fit_statistics(self, values: np.ndarray, labels, *, sample_weight=None) -> "StatisticsMergerClassifier":
        """Fit on measured :meth:`statistics`, optionally weighting the images."""
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        labels = np.asarray(labels).astype(int)
        if len(np.unique(labels)) < 2:
            raise LabelError("the statistics classifier needs mergers and non-mergers to learn from")
        imputer, scaler, regression = make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler(), LogisticRegression(max_iter=5000)).fit(
            values, labels, logisticregression__sample_weight=sample_weight
        )
        # Only the fitted numbers are kept: prediction is three lines of numpy, and they save as JSON.
        return self._set(imputer.statistics_, scaler.mean_, scaler.scale_, regression.coef_[0], float(regression.intercept_[0]))

    def _set(self, medians, mean, scale, coefficients, intercept: float) -> "StatisticsMergerClassifier":
        self.medians_, self.mean_, self.scale_ = (np.asarray(a, dtype=np.float64) for a in (medians, mean, scale))
        self.coef_, self.intercept_ = np.asarray(coefficients, dtype=np.float64), float(intercept)
        self.coefficients_ = dict(zip(self.names, self.coef_.tolist()))
        return self

    def predict_proba(self, images) -> np.ndarray:
        """p(merger) of each image."""
        return self.predict_proba_statistics(self.statistics(images))

    def predict_proba_statistics(self, values: np.ndarray) -> np.ndarray:
        """p(merger) from measured :meth:`statistics` (NaN imputed with the training median)."""
        values = np.asarray(values, dtype=np.float64)
        filled = np.where(np.isfinite(values), values, self.medians_)
        logit = ((filled - self.mean_) / self.scale_) @ self.coef_ + self.intercept_
        return expit(logit)

    def to_dict(self) -> dict:
        """The fitted model as plain numbers (JSON), so a saved one loads without executing code."""
        arrays = {"medians": self.medians_, "mean": self.mean_, "scale": self.scale_, "coefficients": self.coef_}
        values = {"format": _STATISTICS_FORMAT, "names": list(self.names), "image_size": self.image_size}
        return {**values, **{k: v.tolist() for k, v in arrays.items()}, "intercept": self.intercept_}

    @classmethod
    def from_dict(cls, values: dict, *, source: str = "statistics model") -> "StatisticsMergerClassifier":
        """The inverse of :meth:`to_dict`; a clear error for anything else."""
        from galmerge.mocks.image_statistics import STATISTIC_KINDS

        if not isinstance(values, dict) or values.get("format") != _STATISTICS_FORMAT:
            raise CheckpointError(f"{source}: not a galmerge statistics classifier ({_STATISTICS_FORMAT})")
        try:
            names = [str(name) for name in values["names"]]
            arrays = [np.asarray(values[key], dtype=np.float64) for key in ("medians", "mean", "scale", "coefficients")]
            intercept = float(values["intercept"])
            image_size = None if values.get("image_size") is None else int(values["image_size"])
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(f"{source}: incomplete statistics classifier ({error})") from None
        unknown = [name for name in names if name not in STATISTIC_KINDS]
        if unknown or any(a.shape != (len(names),) or not np.isfinite(a).all() for a in arrays):
            raise CheckpointError(f"{source}: statistics classifier with unknown statistics {unknown} or arrays that do not match its {len(names)} names")
        medians, mean, scale, coefficients = arrays
        return cls(names=names, image_size=image_size)._set(medians, mean, scale, coefficients, intercept)


def save_statistics_model(model: StatisticsMergerClassifier, path, **record) -> Path:
    """Write a fitted classifier as JSON, with ``record`` (e.g. how it was trained and scored) beside its numbers."""
    path = Path(path)
    path.write_text(json.dumps({**model.to_dict(), **record}, indent=2))
    return path


def load_statistics_model(path) -> tuple[StatisticsMergerClassifier, dict]:
    """The classifier saved by :func:`save_statistics_model` and the record saved with it."""
    try:
        values = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise CheckpointError(f"{path}: not a readable statistics classifier ({error})") from None
    model = StatisticsMergerClassifier.from_dict(values, source=str(path))
    known = set(model.to_dict())
    return model, {key: value for key, value in values.items() if key not in known}


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
