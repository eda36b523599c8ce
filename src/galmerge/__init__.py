"""galmerge: find merging galaxies in telescope images with CNNs.

The public API lives in the subpackages (``galmerge.data``, ``galmerge.models``,
``galmerge.training``, ``galmerge.evaluation``, ``galmerge.catalog``); the most used names are
also available here, imported on first use so that ``import galmerge`` (and ``galmerge --help``)
stays fast.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "ImageSet": "galmerge.data",
    "load_imageset": "galmerge.data",
    "make_toy_mergers": "galmerge.data",
    "stratified_split": "galmerge.data",
    "Preprocessor": "galmerge.data",
    "build_model": "galmerge.models",
    "TrainedModel": "galmerge.models",
    "TrainConfig": "galmerge.training",
    "train": "galmerge.training",
    "evaluate_run": "galmerge.evaluation",
    "score_predictions": "galmerge.evaluation",
    "predict_catalog": "galmerge.catalog",
    "predict_proba": "galmerge.catalog",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'galmerge' has no attribute {name!r}")
