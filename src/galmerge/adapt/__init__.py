"""Domain adaptation: MMD, adversarial (DANN), Fisher loss, entropy minimisation, Deep CORAL.

Each loss is a small ``nn.Module`` with DeepMerge II's choices as defaults
(:mod:`~galmerge.adapt.mmd`, :mod:`~galmerge.adapt.adversarial`, :mod:`~galmerge.adapt.fisher`,
:mod:`~galmerge.adapt.entropy`, :mod:`~galmerge.adapt.coral`); :mod:`~galmerge.adapt.registry`
names them with their options and builds their training terms (:mod:`~galmerge.adapt.terms`);
:mod:`~galmerge.adapt.selection` scores checkpoints without target labels.

Names are imported on first use, so the registry (which the command line reads) loads without torch.
"""

from galmerge import lazy_exports

_LAZY = {
    "DomainAdversarialLoss": "galmerge.adapt.adversarial",
    "DomainClassifier": "galmerge.adapt.adversarial",
    "GradientReversal": "galmerge.adapt.adversarial",
    "ganin_coefficient": "galmerge.adapt.adversarial",
    "reverse_gradient": "galmerge.adapt.adversarial",
    "CORALLoss": "galmerge.adapt.coral",
    "EntropyLoss": "galmerge.adapt.entropy",
    "prediction_entropy": "galmerge.adapt.entropy",
    "FisherLoss": "galmerge.adapt.fisher",
    "DEEPMERGE_BANDWIDTHS": "galmerge.adapt.mmd",
    "MMDLoss": "galmerge.adapt.mmd",
    "METHODS": "galmerge.adapt.registry",
    "AdaptationMethod": "galmerge.adapt.registry",
    "build_loss_terms": "galmerge.adapt.registry",
    "register": "galmerge.adapt.registry",
    "StepOutputs": "galmerge.adapt.terms",
}

__getattr__, __all__ = lazy_exports(__name__, _LAZY)
