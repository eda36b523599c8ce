"""Few-label transfer: fine-tune a trained model with K labelled images of the target domain.

A few hundred labelled target galaxies can rescue a model trained elsewhere (seed 001: 1 % of
the labels between SDSS and DES; DeepMerge II's "TL"). :func:`finetune_curve` measures how
much: for K in e.g. {0, 25, 50, 100, 200} it fine-tunes copies of a run's model on the first K
images of one fixed, class-balanced pool drawn from the labelled target set, and scores every
copy on the same held-out rest of that set.

Why a plain loop rather than Lightning: with K in the tens there is no validation split to
select on and an epoch is one or two steps; a fixed number of epochs of a short loop is the
whole job.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from galmerge.data.imageset import ImageSet
from galmerge.data.transforms import random_dihedral
from galmerge.errors import ConfigError, DataError, OutputExistsError

__all__ = ["finetune", "finetune_curve", "FinetuneOptions", "draw_label_pool"]


@dataclass
class FinetuneOptions:
    """How a model is fine-tuned.

    Attributes
    ----------
    mode : {"full", "head"}
        Train every layer (with layer-wise learning-rate decay) or only the dense head.
    lr : float
        Learning rate of the last layer.
    layer_decay : float
        Each layer towards the input trains at ``layer_decay`` times the rate of the one after it
        (earlier layers hold generic features worth keeping).
    epochs : int
    batch_size : int
    weight_decay : float
    seed : int
    """

    mode: str = "full"
    lr: float = 3e-4
    layer_decay: float = 0.5
    epochs: int = 40
    batch_size: int = 32
    weight_decay: float = 1e-4
    seed: int = 0

    def __post_init__(self):
        if self.mode not in ("full", "head"):
            raise ConfigError(f"fine-tuning mode must be 'full' or 'head', got {self.mode!r}")
        if not 0 < self.layer_decay <= 1:
            raise ConfigError(f"layer_decay must be in (0, 1], got {self.layer_decay}")


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


def _optimiser(model: nn.Module, options: FinetuneOptions) -> torch.optim.Optimizer:
    if options.mode == "head":
        head = {id(p) for p in model.head_parameters()}
        for parameter in model.parameters():
            parameter.requires_grad_(id(parameter) in head)
        groups = [{"params": model.head_parameters(), "lr": options.lr}]
    else:
        layers = model.layer_groups()
        groups = [{"params": params, "lr": options.lr * options.layer_decay ** (len(layers) - 1 - depth)} for depth, params in enumerate(layers)]
    return torch.optim.Adam(groups, weight_decay=options.weight_decay)


def finetune(trained, images: np.ndarray, labels: np.ndarray, *, options: FinetuneOptions | None = None):
    """A copy of a :class:`~galmerge.models.TrainedModel` fine-tuned on labelled images (raw, as loaded).

    BatchNorm keeps the running statistics of the original training (batches of a few dozen
    images would give noisy ones); the loss weighs the classes equally; every image gets a random
    flip/rotation each epoch. Preprocessing and thresholds are the original model's.
    """
    from galmerge.models.trained import TrainedModel

    options = options or FinetuneOptions()
    torch.manual_seed(options.seed)
    generator = torch.Generator().manual_seed(options.seed)
    model = copy.deepcopy(trained.model).train()
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()
    optimiser = _optimiser(model, options)
    processed = torch.from_numpy(trained.preprocessor.transform(images))
    targets = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    counts = torch.bincount(targets, minlength=2).float()
    weights = torch.where(counts > 0, len(targets) / (2 * counts.clamp(min=1)), torch.zeros(2))
    for _epoch in range(options.epochs):
        order = torch.randperm(len(targets), generator=generator)
        for start in range(0, len(order), options.batch_size):
            rows = order[start : start + options.batch_size]
            batch = random_dihedral(processed[rows], generator)
            loss = F.cross_entropy(model(batch)[1], targets[rows], weight=weights)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    return TrainedModel(model.eval(), copy.deepcopy(trained.spec))


def finetune_curve(run, labelled, *, n_labels=(0, 25, 50, 100, 200), out=None, options: FinetuneOptions | None = None, n_bootstrap: int = 500, progress: bool = True) -> dict:
    """Target ROC-AUC and PR-AUC against the number of labelled target images used for fine-tuning.

    Parameters
    ----------
    run : path
        A run directory (or model file) trained on the source domain.
    labelled : ImageSet or str
        Labelled images of the target domain; images the run trained on are dropped first.
    n_labels : sequence of int
        The K values (0: the model as it is).
    out : path, optional
        Folder for ``finetune.json``, ``finetune_curve.png`` and ``model_K<k>.safetensors``
        (default ``<run>/finetune``; must not exist).

    Returns
    -------
    dict
        Per K: ROC-AUC, PR-AUC and recall at 5 % false positives with bootstrap intervals, on
        the evaluation set (the labelled set minus the pool of the largest K).
    """
    from galmerge.catalog.predict import predict_proba
    from galmerge.data.sources import load_imageset
    from galmerge.evaluation.evaluate import used_image_hashes
    from galmerge.evaluation.metrics import score_predictions
    from galmerge.models.trained import TrainedModel

    options = options or FinetuneOptions()
    trained = TrainedModel.load(run)
    n_labels = sorted({int(k) for k in n_labels})
    if n_labels[0] < 0:
        raise ConfigError("numbers of labels must be >= 0")
    out = Path(out) if out is not None else Path(run) / "finetune"
    if out.exists():
        raise OutputExistsError(f"{out}: already exists; choose another --out")
    imageset = labelled if isinstance(labelled, ImageSet) else load_imageset(labelled, size=trained.spec.loading_size, progress=progress)
    imageset.require_both_classes(purpose="fine-tuning")
    if Path(run).is_dir():
        imageset = imageset[~np.isin(imageset.image_hashes(), used_image_hashes(run))]
    pool = draw_label_pool(imageset.labels, max(n_labels), seed=options.seed)
    evaluation = np.setdiff1d(np.arange(len(imageset)), pool)
    eval_labels = imageset.labels[evaluation]
    out.mkdir(parents=True)
    curve = {"n_evaluation": int(len(evaluation)), "n_evaluation_mergers": int(eval_labels.sum()), "mode": options.mode, "points": {}}
    for k in n_labels:
        model = trained if k == 0 else finetune(trained, imageset.images[pool[:k]], imageset.labels[pool[:k]], options=options)
        if k:
            model.save(out / f"model_K{k}.safetensors")
        p_merger, _ = predict_proba(model, imageset.images, rows=evaluation, backend="torch", source=imageset.source)
        report = score_predictions(eval_labels, p_merger, thresholds=model.spec.thresholds, n_bootstrap=n_bootstrap, seed=options.seed, false_positive_rates=(0.05,))
        curve["points"][str(k)] = {
            "n_mergers_used": int(imageset.labels[pool[:k]].sum()),
            "roc_auc": report["roc_auc"], "pr_auc": report["pr_auc"], "recall_at_5pct_fpr": report.get("recall_at_fpr", {}).get("0.05"),
        }
        if progress:
            print(f"K = {k:4d}: target ROC-AUC {report['roc_auc']['value']:.3f}, PR-AUC {report['pr_auc']['value']:.3f}")
    (out / "finetune.json").write_text(json.dumps(curve, indent=2))
    _plot_curve(curve, out / "finetune_curve.png")
    curve["path"] = str(out)
    return curve


def _plot_curve(curve: dict, path: Path) -> None:
    from matplotlib.figure import Figure

    ks = [int(k) for k in curve["points"]]
    figure = Figure(figsize=(5, 3.8), dpi=110, layout="constrained")
    axes = figure.add_subplot()
    for metric, label in (("roc_auc", "ROC-AUC"), ("pr_auc", "PR-AUC")):
        values = np.array([curve["points"][str(k)][metric]["value"] for k in ks])
        lows = np.array([curve["points"][str(k)][metric].get("ci95", [v, v])[0] for k, v in zip(ks, values)])
        highs = np.array([curve["points"][str(k)][metric].get("ci95", [v, v])[1] for k, v in zip(ks, values)])
        axes.errorbar(ks, values, yerr=[values - lows, highs - values], marker="o", capsize=3, label=label)
    axes.set(xlabel="labelled target images used for fine-tuning (K)", ylabel="score on held-out target images", ylim=(0, 1.02), title=f"Few-label transfer ({curve['mode']})")
    axes.legend()
    figure.savefig(path)
