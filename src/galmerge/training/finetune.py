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

__all__ = ["finetune", "FinetuneOptions", "AdaptationData", "draw_label_pool", "run_adaptation_data"]


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


def _optimiser(model: Any, options: FinetuneOptions, extra: list | None = None) -> torch.optim.Optimizer:
    if options.mode == "head":
        head = {id(p) for p in model.head_parameters()}
        for parameter in model.parameters():
            parameter.requires_grad_(id(parameter) in head)
        groups = [{"params": model.head_parameters(), "lr": options.lr}]
    else:
        layers = model.layer_groups()
        groups = [{"params": params, "lr": options.lr * options.layer_decay ** (len(layers) - 1 - depth)} for depth, params in enumerate(layers)]
    return torch.optim.Adam(groups + (extra or []), weight_decay=options.weight_decay)


def finetune(trained, images: np.ndarray, labels: np.ndarray, *, options: FinetuneOptions | None = None, adaptation: AdaptationData | None = None):
    """A copy of a :class:`~galmerge.models.TrainedModel` fine-tuned on labelled images (raw, as loaded).

    BatchNorm keeps the running statistics of the original training (batches of a few dozen
    images would give noisy ones); the loss weighs the classes equally; every image gets a random
    flip/rotation each epoch. Preprocessing and thresholds are the original model's. With
    ``adaptation`` each step adds a source batch and an unlabelled target batch of ``batch_size``
    images and the run's domain-adaptation terms (their own parameters, such as DANN's domain
    classifier, start afresh).
    """
    from galmerge.models.trained import TrainedModel

    options = options or FinetuneOptions()
    torch.manual_seed(options.seed)
    generator = torch.Generator().manual_seed(options.seed)
    model = copy.deepcopy(trained.model).train()
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()
    processed = torch.from_numpy(trained.preprocessor.transform(images))
    targets = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    weights = balanced_class_weights(targets)
    adapting = _AdaptationSteps(trained, adaptation, options, generator) if adaptation is not None else None
    optimiser = _optimiser(model, options, adapting.parameter_groups() if adapting else None)
    steps_per_epoch = -(-len(targets) // options.batch_size)
    for epoch in range(options.epochs):
        order = torch.randperm(len(targets), generator=generator)
        for step, start in enumerate(range(0, len(order), options.batch_size)):
            rows = order[start : start + options.batch_size]
            batch = random_dihedral(processed[rows], generator)
            labelled = LabelledBatch(batch, targets[rows], weights)
            if adapting is None:
                loss, _ = step_loss(model, labelled)
            else:
                progress = (epoch * steps_per_epoch + step) / (options.epochs * steps_per_epoch)
                loss = adapting.loss(model, labelled, progress=progress)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    return TrainedModel(model.eval(), copy.deepcopy(trained.spec))


class _AdaptationSteps:
    """The source and unlabelled-target half of a fine-tuning step with the run's adaptation losses."""

    def __init__(self, trained, adaptation: AdaptationData, options: FinetuneOptions, generator):
        self.source = torch.from_numpy(trained.preprocessor.transform(adaptation.source_images))
        self.source_labels = torch.from_numpy(np.asarray(adaptation.source_labels, dtype=np.int64))
        self.target = torch.from_numpy(trained.preprocessor.transform(adaptation.target_images))
        self.source_weights = balanced_class_weights(self.source_labels)
        self.size, self.generator, self.lr = options.batch_size, generator, options.lr
        if adaptation.adaptation.method == "none" or not len(self.source) or not len(self.target):
            raise ConfigError("fine-tuning with adaptation needs a run trained with a domain-adaptation method, and its source and target images")
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


def run_adaptation_data(run, loading_size: int, *, progress: bool) -> AdaptationData:
    """The run's source training images and unlabelled target training images, as it trained on them."""
    from galmerge.data.sources import load_imageset
    from galmerge.training.config import TrainConfig

    if not Run.is_run(run):
        raise ConfigError(f"{run}: fine-tuning with adaptation needs a run directory (it reads the run's data and split)")
    run = Run(run)
    values, recorded = run.read_config()
    config = TrainConfig.from_dict(values, source=str(run.config))
    if config.adaptation.method == "none" or not recorded.get("target"):
        raise ConfigError(f"{run.path}: trained without domain adaptation (method {config.adaptation.method!r}); fine-tune it without --with-adaptation")
    arrays = run.split_arrays()
    source = load_imageset(recorded["data"], size=loading_size, progress=progress)
    target = load_imageset(recorded["target"], size=loading_size, progress=progress)
    labels = source.require_labels(purpose="fine-tuning with adaptation")
    return AdaptationData(source.images[arrays["train"]], labels[arrays["train"]], target.images[arrays["target_train"]], config.adaptation)
