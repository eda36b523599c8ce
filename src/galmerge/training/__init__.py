"""Training: configuration sections, the LightningModule, the loss composition, in-memory batches, fine-tuning.

Names are imported on first use: the configuration (which the command line reads) loads without
torch, and :func:`train` can import Lightning in the background while it checks the data. (A
name exported here is never also a submodule's name: importing the submodule would shadow it.)
"""

from galmerge import lazy_exports

_LAZY = {
    "InMemoryBatches": "galmerge.training.batches",
    "TrainConfig": "galmerge.training.config",
    "FinetuneOptions": "galmerge.training.config",
    "LabelledBatch": "galmerge.training.losses",
    "step_loss": "galmerge.training.losses",
    "MergerClassifier": "galmerge.training.module",
    "StepOutputs": "galmerge.adapt.terms",
    "TrainingResult": "galmerge.training.fit",
    "train": "galmerge.training.fit",
}

__getattr__, __all__ = lazy_exports(__name__, _LAZY)
