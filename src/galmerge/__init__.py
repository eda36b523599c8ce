"""galmerge: find merging galaxies in telescope images with CNNs.

The public API lives in the subpackages, lowest layer first: ``galmerge.data`` and
``galmerge.runs``; ``galmerge.mocks``, ``galmerge.models``, ``galmerge.adapt``;
``galmerge.training``, ``galmerge.catalog``, ``galmerge.evaluation``, ``galmerge.explain``;
``galmerge.pipeline`` (what each command does) and ``galmerge.report``. The most used names are
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
    "Run": "galmerge.runs",
    "TrainConfig": "galmerge.training",
    "train": "galmerge.training",
    "train_and_evaluate": "galmerge.pipeline",
    "evaluate_run": "galmerge.pipeline",
    "score_predictions": "galmerge.evaluation",
    "predict_catalog": "galmerge.catalog",
    "predict_proba": "galmerge.catalog",
}


def lazy_exports(package: str, names: dict[str, str]):
    """A package's ``__getattr__`` for names imported on first use (``name -> module``), and its ``__all__``.

    Used by the packages whose imports are heavy (torch, lightning), so that the command line and
    the configuration load fast. An exported name must not also be a submodule's name: importing
    the submodule would replace the name on the package (``tests/test_package_names.py`` checks).
    """

    def __getattr__(name: str):
        if name in names:
            return getattr(importlib.import_module(names[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__, sorted(names)


__getattr__, _names = lazy_exports(__name__, _LAZY)
__all__ = ["__version__", *_names]
