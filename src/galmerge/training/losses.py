"""The one loss composition of galmerge: task cross-entropy plus the adaptation terms, for Lightning training and fine-tuning alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from galmerge.adapt.terms import StepOutputs

__all__ = ["LabelledBatch", "step_loss", "balanced_class_weights"]


def balanced_class_weights(labels) -> torch.Tensor:
    """Cross-entropy weights N / (2 N_class) for 0/1 labels, so both classes weigh the same; 0 for an absent class."""
    counts = torch.bincount(torch.as_tensor(labels, dtype=torch.int64), minlength=2).double()
    return torch.where(counts > 0, counts.sum() / (2 * counts.clamp(min=1)), torch.zeros(2, dtype=torch.float64)).float()


@dataclass
class LabelledBatch:
    """Labelled images of one step with the class weights of their cross-entropy (``None``: unweighted)."""

    images: torch.Tensor
    labels: torch.Tensor
    class_weights: torch.Tensor | None = None


def step_loss(
    model: nn.Module,
    source: LabelledBatch,
    *,
    target: torch.Tensor | None = None,
    terms: Mapping[str, nn.Module] | nn.ModuleDict | None = None,
    extra_labelled: Sequence[LabelledBatch] = (),
    progress: float = 0.0,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The loss of one training step and what to log of it.

    All images go through ``model`` in one forward pass, ``[*extra_labelled, source, target]``, so
    BatchNorm in training mode sees both domains (DeepMerge II). The loss is the cross-entropy of
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

    Returns
    -------
    loss : Tensor
    logged : dict of str to Tensor
        ``task_loss``, ``<term>_loss`` and ``<term>_<metric>`` of every term, and ``loss``.
    """
    labelled = [*extra_labelled, source]
    images = [batch.images for batch in labelled] + ([] if target is None else [target])
    features, logits = model(images[0] if len(images) == 1 else torch.cat(images))
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
        )
        for name, term in terms.items():
            value = term(outputs)
            logged[f"{name}_loss"] = value
            for key, metric in getattr(term, "last_metrics", {}).items():
                logged[f"{name}_{key}"] = metric
            loss = loss + value
    logged["loss"] = loss
    return loss, logged
