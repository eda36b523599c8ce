"""Training: configuration, the LightningModule, in-memory batches, run directories.

``MergerClassifier`` and ``StepOutputs`` (which need Lightning, a ~2 s import) are loaded on
first use, so that :func:`train` can import Lightning in the background while it checks the data.
"""

import importlib

from galmerge.training.batches import InMemoryBatches
from galmerge.training.config import TrainConfig
from galmerge.training.rundir import RunFiles, new_run_directory
from galmerge.training.train import TrainingResult, train

_LAZY = {"MergerClassifier": "galmerge.training.module", "StepOutputs": "galmerge.training.module"}

__all__ = ["InMemoryBatches", "MergerClassifier", "RunFiles", "StepOutputs", "TrainConfig", "TrainingResult", "new_run_directory", "train"]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'galmerge.training' has no attribute {name!r}")
