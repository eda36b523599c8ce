"""A merger classifier on galmerge's fast image statistics, saved as plain numbers.

:class:`StatisticsMergerClassifier` is a standardised logistic regression on the framing and
morphology statistics of :mod:`galmerge.mocks.image_statistics` (size, concentration, asymmetry,
peaks, framing), measured in about a millisecond per stamp
(``benchmarks/predict_throughput.py``). Every training run fits one beside
its network (``statistics_model.json``); trained on the Galaxy Zoo mocks it ranks real Galaxy Zoo
mergers better than the networks (README, "Where this stands on real images"). It lives with
the models so that catalogs and evaluations can apply it; the experiment's baseline rows use it
through :mod:`galmerge.morphology.baseline`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy.special import expit, logit

from galmerge.errors import CheckpointError, LabelError

__all__ = ["StatisticsMergerClassifier", "save_statistics_model", "load_statistics_model", "combined_probability"]

_STATISTICS_FORMAT = "galmerge.StatisticsMergerClassifier/1"


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


def combined_probability(p_network, p_statistics) -> np.ndarray:
    """p(merger) of the network and of the statistics classifier pooled: the logistic of their mean log-odds.

    Equal weights, fixed beforehand (not tuned on real labels); the two models read different
    evidence (pixels, a few image statistics), and on the real Galaxy Zoo images the pooled score
    ranked mergers better than the network alone (README). Both probabilities must be on the same
    prior; moving the result to another prior is the same as moving both first.
    """

    def log_odds(p):
        return logit(np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7))

    return expit(0.5 * (log_odds(p_network) + log_odds(p_statistics)))
