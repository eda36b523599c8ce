"""Morphometry and non-parametric morphology.

- :func:`measure_morphology`: CAS, Gini-M20, MID and shape asymmetry of every image (statmorph).
- :class:`NonParametricMergerClassifier`, :func:`cross_validated_probabilities`: the classical
  merger baseline on those statistics.
- :func:`train_morphometry`, :func:`predict_morphometry`: a CNN that measures Sersic parameters
  with uncertainties.
- :func:`fit_sersic`: the classical PSF-convolved Sersic fit (Imfit) on the same stamps.
- :func:`benchmark_morphometry`: the two side by side; :func:`finetune_morphometry_curve`: few-label transfer.

Heavy libraries (statmorph, photutils, pyimfit, lightning) are imported inside the functions.
"""

from galmerge.morphology.baseline import BASELINE_FEATURES, NonParametricMergerClassifier, cross_validated_probabilities
from galmerge.morphology.benchmark import benchmark_morphometry
from galmerge.morphology.catalog import predict_morphometry, predict_morphometry_file
from galmerge.morphology.fitter import fit_sersic
from galmerge.morphology.statistics import MorphologyOptions, measure_morphology
from galmerge.morphology.training import MorphometryConfig, train_morphometry

__all__ = [
    "BASELINE_FEATURES",
    "MorphologyOptions",
    "MorphometryConfig",
    "NonParametricMergerClassifier",
    "benchmark_morphometry",
    "cross_validated_probabilities",
    "fit_sersic",
    "measure_morphology",
    "predict_morphometry",
    "predict_morphometry_file",
    "train_morphometry",
]
