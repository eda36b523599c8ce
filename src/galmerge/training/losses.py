"""The one loss composition of galmerge: task cross-entropy plus the adaptation terms, for Lightning training and fine-tuning alike."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from galmerge.adapt.terms import StepOutputs
from galmerge.models.domain_bn import model_domains, using_domain

__all__ = ["LabelledBatch", "step_loss", "balanced_class_weights"]


def balanced_class_weights(labels) -> torch.Tensor:
    """Cross-entropy weights N / (2 N_class) for 0/1 labels, so both classes weigh the same; 0 for an absent class."""
    counts = torch.bincount(torch.as_tensor(labels, dtype=torch.int64), minlength=2).double()
    return torch.where(counts > 0, counts.sum() / (2 * counts.clamp(min=1)), torch.zeros(2, dtype=torch.float64)).float()


@dataclass
class LabelledBatch:
    """Labelled images of one step with the class weights of their cross-entropy (``None``: unweighted).

    ``domain`` names the BatchNorm statistics that normalise them in a network with
    domain-specific BatchNorm (``"source"`` for mocks, ``"target"`` for labelled survey images).
    """

    images: torch.Tensor
    labels: torch.Tensor
    class_weights: torch.Tensor | None = None
    domain: str = "source"


def _forward(model: nn.Module, labelled: Sequence[LabelledBatch], target, *, target_needs_grad: bool):
    """Features and logits of ``[*labelled, target]`` in order.

    With plain BatchNorm all images go through in one pass, so BatchNorm in training mode
    normalises the domains together (DeepMerge II, ``batchnorm = "mixed"``). With domain-specific
    BatchNorm each batch goes through with its own domain's statistics; a target batch that no
    loss uses still goes through (without gradients) so the target statistics follow the survey.
    """
    if not model_domains(model):
        images = [batch.images for batch in labelled] + ([] if target is None else [target])
        return model(images[0] if len(images) == 1 else torch.cat(images))
    parts = []
    for batch in labelled:
        with using_domain(model, batch.domain):
            parts.append(model(batch.images))
    if target is not None:
        with using_domain(model, "target"), torch.set_grad_enabled(target_needs_grad and torch.is_grad_enabled()):
            parts.append(model(target))
    return torch.cat([f for f, _ in parts]), torch.cat([logit for _, logit in parts])


def step_loss(
    model: nn.Module,
    source: LabelledBatch,
    *,
    target: torch.Tensor | None = None,
    terms: Mapping[str, nn.Module] | nn.ModuleDict | None = None,
    extra_labelled: Sequence[LabelledBatch] = (),
    progress: float = 0.0,
    target_rows: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The loss of one training step and what to log of it.

    The images go through ``model`` in the order ``[*extra_labelled, source, target]``: in one
    forward pass for plain BatchNorm, or batch by batch with each batch's domain for
    domain-specific BatchNorm (:func:`_forward`). The loss is the cross-entropy of
    each labelled batch (extra batches first, then the source), plus every term of ``terms``
    (built by :func:`galmerge.adapt.registry.build_loss_terms`) called with the source and target
    halves.

    Parameters
    ----------
    model : nn.Module
        Returns ``(features, logits)``.
    source : LabelledBatch
        The labelled batch the adaptation terms treat as the source domain.
    target : Tensor, optional
        Unlabelled images of the target domain.
    terms : mapping of str to nn.Module, optional
    extra_labelled : sequence of LabelledBatch
        Further labelled batches that count in the task loss only (fine-tuning's K labelled
        target images).
    progress : float
        Fraction of the planned steps done (schedules such as DANN's ramp).
    target_rows : Tensor of int64, optional
        Rows of the target images in their set (for terms that keep per-image state, such as
        self-training's pseudo-labels).

    Returns
    -------
    loss : Tensor
    logged : dict of str to Tensor
        ``task_loss``, ``<term>_loss`` and ``<term>_<metric>`` of every term, and ``loss``.
    """
    labelled = [*extra_labelled, source]
    features, logits = _forward(model, labelled, target, target_needs_grad=bool(terms))
    parts, start = [], 0
    for batch in labelled:
        stop = start + len(batch.images)
        parts.append(F.cross_entropy(logits[start:stop], batch.labels, weight=batch.class_weights))
        start = stop
    task_loss = parts[0]
    for part in parts[1:]:
        task_loss = task_loss + part
    source_start = start - len(source.images)
    loss = task_loss
    logged = {"task_loss": task_loss}
    if terms:
        outputs = StepOutputs(
            features_source=features[source_start:start],
            logits_source=logits[source_start:start],
            labels_source=source.labels,
            features_target=None if target is None else features[start:],
            logits_target=None if target is None else logits[start:],
            progress=progress,
            target_images=target,
            target_rows=target_rows,
            forward_target=None if target is None else functools.partial(_forward_domain, model, "target"),
        )
        for name, term in terms.items():
            value = term(outputs)
            logged[f"{name}_loss"] = value
            for key, metric in getattr(term, "last_metrics", {}).items():
                logged[f"{name}_{key}"] = metric
            loss = loss + value
    logged["loss"] = loss
    return loss, logged


def _forward_domain(model: nn.Module, domain: str, images: torch.Tensor):
    """``model(images)`` normalised with ``domain``'s statistics (plain BatchNorm: as it is)."""
    with using_domain(model, domain):
        return model(images)
