"""Few-label transfer: fine-tune a trained model with K labelled images of the target domain.

A few hundred labelled target galaxies can rescue a model trained elsewhere (seed 001: 1 % of
the labels between SDSS and DES; DeepMerge II's "TL"). :func:`finetune` makes one fine-tuned copy;
:func:`galmerge.pipeline.finetuning` measures how much it helps for several K.

Fine-tuning runs alone (cross-entropy on the K labelled target images) or, with an
:class:`AdaptationData`, together with the domain-adaptation losses the run was trained with:
every step then also takes a batch of the run's labelled source training images (cross-entropy)
and a batch of its unlabelled target training images, and adds the run's transfer, Fisher and
entropy terms between the source and unlabelled-target features (DeepMerge II's "transfer +
MMD"). Both use the loss composition of Lightning training (:func:`galmerge.training.losses.step_loss`).

Why a plain loop rather than Lightning: with K in the tens there is no validation split to
select on and an epoch is one or two steps; a fixed number of epochs of a short loop is the
whole job.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from galmerge.adapt.registry import build_loss_terms
from galmerge.data.transforms import random_dihedral
from galmerge.errors import ConfigError, DataError
from galmerge.runs import Run
from galmerge.training.config import AdaptationConfig, FinetuneOptions
from galmerge.training.losses import LabelledBatch, balanced_class_weights, step_loss

__all__ = ["finetune", "FinetuneOptions", "AdaptationData", "draw_label_pool", "run_adaptation_data", "run_training_images"]


def draw_label_pool(labels: np.ndarray, size: int, *, seed: int = 0) -> np.ndarray:
    """Rows of a labelled pool of ``size`` images, ordered so that every prefix is as balanced as possible.

    Mergers and non-mergers alternate while both last; at most half of each class is taken, so
    the evaluation set keeps the other half. Nested prefixes let the curve's points share images.
    """
    rng = np.random.default_rng(seed)
    by_class = [rng.permutation(np.flatnonzero(labels == value)) for value in (1, 0)]
    available = [members[: len(members) // 2] for members in by_class]
    order = []
    for index in range(max(len(a) for a in available)):
        for members in available:
            if index < len(members):
                order.append(members[index])
    if len(order) < size:
        raise DataError(f"only {len(order)} labelled images can be spared for fine-tuning (half of each class); asked for {size}")
    return np.asarray(order[:size], dtype=np.int64)


@dataclass
class AdaptationData:
    """What fine-tuning with the domain-adaptation losses needs besides the K labelled images.

    Attributes
    ----------
    source_images, source_labels : ndarray
        Labelled source images (raw, as loaded) and their 0/1 labels: the run's training split.
    target_images : ndarray
        Unlabelled target images (raw): the run's target training split.
    adaptation : AdaptationConfig
        The run's adaptation section: which loss terms, with which weights.
    """

    source_images: np.ndarray
    source_labels: np.ndarray
    target_images: np.ndarray
    adaptation: AdaptationConfig


def _trainable_groups(model: Any, options: FinetuneOptions) -> list[dict]:
    """Optimiser groups of the layers ``options.mode`` trains; the other parameters are frozen."""
    layers = model.layer_groups()
    if options.mode == "head":
        chosen = [model.head_parameters()]
    elif options.mode == "last":  # the last convolutional stage and everything after it
        head = {id(p) for p in model.head_parameters()}
        first_head = next(i for i, group in enumerate(layers) if any(id(p) in head for p in group))
        chosen = layers[max(0, first_head - 1) :]
    else:
        chosen = layers
    trained_ids = {id(p) for group in chosen for p in group}
    for parameter in model.parameters():
        parameter.requires_grad_(id(parameter) in trained_ids)
    return [{"params": group, "lr": options.lr * options.layer_decay ** (len(chosen) - 1 - depth)} for depth, group in enumerate(chosen)]


def finetune(
    trained,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    options: FinetuneOptions | None = None,
    adaptation: AdaptationData | None = None,
    unlabelled: np.ndarray | None = None,
    train_batchnorm: bool = False,
):
    """A copy of a :class:`~galmerge.models.TrainedModel` fine-tuned on labelled survey images (raw, as loaded).

    Steps: (1) with ``options.adapt_bn``, AdaBN: the BatchNorm statistics of the model's
    prediction domain are recomputed on the survey's unlabelled images (``unlabelled``, else the
    labelled images themselves); (2) the layers of ``options.mode`` train for ``options.steps``
    steps on batches drawn from the labelled images (each with a random flip/rotation), the
    classes weighed equally, BatchNorm statistics fixed; with ``adaptation`` every step also
    takes a source batch and an unlabelled survey batch with the run's adaptation losses (their
    own parameters, such as DANN's domain classifier, start afresh). Preprocessing and
    thresholds are the original model's. ``train_batchnorm`` lets BatchNorm follow the batches
    instead (for a network trained from random weights, whose statistics mean nothing yet).
    """
    from galmerge.models.domain_bn import DomainBatchNorm2d, adapt_batchnorm, model_domains, using_domain
    from galmerge.models.trained import TrainedModel

    options = options or FinetuneOptions()
    seed = options.seed if options.seed is not None else 0
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = copy.deepcopy(trained.model)
    spec = copy.deepcopy(trained.spec)
    domain = spec.prediction_domain or ("target" if model_domains(model) else None)
    processed = torch.from_numpy(trained.preprocessor.transform(images))
    if options.adapt_bn:
        survey = processed if unlabelled is None else torch.from_numpy(trained.preprocessor.transform(unlabelled))
        if len(survey) >= 2:
            adapt_batchnorm(model, survey, domain=domain or "target", batch_size=256)
            domain = domain or "target"
            spec.batchnorm_domains, spec.prediction_domain = list(model_domains(model)), domain
    model.train()
    for module in model.modules():  # statistics stay those of the survey (or of training)
        if not train_batchnorm and isinstance(module, (nn.modules.batchnorm._BatchNorm, DomainBatchNorm2d)):
            module.eval()
    targets = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    weights = balanced_class_weights(targets)
    adapting = _AdaptationSteps(trained, adaptation, options, generator) if adaptation is not None else None
    groups = _trainable_groups(model, options) + (adapting.parameter_groups() if adapting else [])
    optimiser = torch.optim.Adam(groups, weight_decay=options.weight_decay)
    size = min(options.batch_size, len(targets))
    with using_domain(model, domain):
        for step in range(options.steps):
            rows = torch.randint(len(targets), (size,), generator=generator)
            labelled = LabelledBatch(random_dihedral(processed[rows], generator), targets[rows], weights, domain=domain or "source")
            if adapting is None:
                loss, _ = step_loss(model, labelled)
            else:
                loss = adapting.loss(model, labelled, progress=step / options.steps)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    return TrainedModel(model.eval(), spec)


class _AdaptationSteps:
    """The source and unlabelled-target half of a fine-tuning step with the run's adaptation losses."""

    def __init__(self, trained, adaptation: AdaptationData, options: FinetuneOptions, generator):
        self.source = torch.from_numpy(trained.preprocessor.transform(adaptation.source_images))
        self.source_labels = torch.from_numpy(np.asarray(adaptation.source_labels, dtype=np.int64))
        self.target = torch.from_numpy(trained.preprocessor.transform(adaptation.target_images))
        self.source_weights = balanced_class_weights(self.source_labels)
        self.size, self.generator, self.lr = options.batch_size, generator, options.lr
        if not len(self.source) or not len(self.target):
            raise ConfigError("semi-supervised fine-tuning needs the run's source images and unlabelled target images")
        self.terms = nn.ModuleDict(build_loss_terms(adaptation.adaptation, feature_dim=trained.model.feature_dim))

    def parameter_groups(self) -> list[dict]:
        return [{"params": list(term.parameters()), "lr": self.lr * getattr(term, "lr_multiplier", 1.0)} for term in self.terms.values() if any(True for _ in term.parameters())]

    def loss(self, model, labelled: LabelledBatch, *, progress: float) -> torch.Tensor:
        source_rows = torch.randint(len(self.source), (self.size,), generator=self.generator)
        target_rows = torch.randint(len(self.target), (self.size,), generator=self.generator)
        source = random_dihedral(self.source[source_rows], self.generator)
        target = random_dihedral(self.target[target_rows], self.generator)
        source_batch = LabelledBatch(source, self.source_labels[source_rows], self.source_weights)
        loss, _ = step_loss(model, source_batch, target=target, terms=self.terms, extra_labelled=[labelled], progress=progress)
        return loss


def run_training_images(run, loading_size: int, *, progress: bool, purpose: str) -> tuple[np.ndarray, np.ndarray]:
    """The labelled images of a run's training split and their labels, read from the data the run recorded."""
    from galmerge.data.sources import load_imageset

    if not Run.is_run(run):
        raise ConfigError(f"{run}: {purpose} needs a run directory (it reads the run's data and split)")
    run = Run(run)
    _, recorded = run.read_config()
    rows = run.split_arrays()["train"]
    source = load_imageset(recorded["data"], size=loading_size, progress=progress)
    return source.images[rows], source.require_labels(purpose=purpose)[rows]


def run_adaptation_data(run, loading_size: int, *, progress: bool) -> AdaptationData:
    """The run's source training images and unlabelled target training images, as it trained on them."""
    from galmerge.data.sources import load_imageset
    from galmerge.training.config import TrainConfig

    if not Run.is_run(run):
        raise ConfigError(f"{run}: fine-tuning with adaptation needs a run directory (it reads the run's data and split)")
    run = Run(run)
    values, recorded = run.read_config()
    config = TrainConfig.from_dict(values, source=str(run.config))
    if not recorded.get("target"):
        raise ConfigError(f"{run.path}: trained without target images; fine-tune it without --with-adaptation")
    images, labels = run_training_images(run.path, loading_size, progress=progress, purpose="fine-tuning with adaptation")
    target = load_imageset(recorded["target"], size=loading_size, progress=progress)
    return AdaptationData(images, labels, target.images[run.split_arrays()["target_train"]], config.adaptation)
