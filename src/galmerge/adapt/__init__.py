"""Domain adaptation: MMD, adversarial (DANN), Fisher loss, entropy minimisation, Deep CORAL.

Each loss is a small ``nn.Module`` with DeepMerge II's choices as defaults
(:mod:`~galmerge.adapt.mmd`, :mod:`~galmerge.adapt.adversarial`, :mod:`~galmerge.adapt.fisher`,
:mod:`~galmerge.adapt.entropy`, :mod:`~galmerge.adapt.coral`); :mod:`~galmerge.adapt.terms`
plugs them into training, :mod:`~galmerge.adapt.selection` scores checkpoints without target labels.
"""

from galmerge.adapt.adversarial import DomainAdversarialLoss, DomainClassifier, GradientReversal, ganin_coefficient, reverse_gradient
from galmerge.adapt.coral import CORALLoss
from galmerge.adapt.entropy import EntropyLoss, prediction_entropy
from galmerge.adapt.fisher import FisherLoss
from galmerge.adapt.mmd import DEEPMERGE_BANDWIDTHS, MMDLoss
from galmerge.adapt.terms import METHODS, build_loss_terms

__all__ = [
    "CORALLoss", "DEEPMERGE_BANDWIDTHS", "DomainAdversarialLoss", "DomainClassifier", "EntropyLoss", "FisherLoss",
    "GradientReversal", "METHODS", "MMDLoss", "build_loss_terms", "ganin_coefficient", "prediction_entropy", "reverse_gradient",
]
