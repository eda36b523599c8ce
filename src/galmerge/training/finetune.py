"""Few-label transfer: fine-tune a trained model with K labelled images of the target domain.

A few hundred labelled target galaxies can rescue a model trained elsewhere (seed 001: 1 % of
the labels between SDSS and DES; DeepMerge II's "TL"). :func:`finetune_curve` measures how
much: for K in e.g. {0, 25, 50, 100, 200} it fine-tunes copies of a run's model on the first K
images of one fixed, class-balanced pool drawn from the labelled target set, and scores every
copy on the same held-out rest of that set.

Fine-tuning runs alone (cross-entropy on the K labelled target images) or, with
``with_adaptation``, together with the domain-adaptation losses the run was trained with: every
step then also takes a batch of the run's labelled source training images (cross-entropy) and a
batch of its unlabelled target training images, and adds the run's transfer, Fisher and entropy
terms between the source and unlabelled-target features (DeepMerge II's "transfer + MMD").

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

__all__ = ["finetune", "finetune_curve", "FinetuneOptions", "AdaptationData", "draw_label_pool"]


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
    with_adaptation : bool
        Keep the run's domain-adaptation losses while fine-tuning (see the module docstring).
    """

    mode: str = "full"
    lr: float = 3e-4
    layer_decay: float = 0.5
    epochs: int = 40
    batch_size: int = 32
    weight_decay: float = 1e-4
    seed: int = 0
    with_adaptation: bool = False

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


@dataclass
class AdaptationData:
    """What fine-tuning with the domain-adaptation losses needs besides the K labelled images.

    Attributes
    ----------
    source_images, source_labels : ndarray
        Labelled source images (raw, as loaded) and their 0/1 labels: the run's training split.
    target_images : ndarray
        Unlabelled target images (raw): the run's target training split.
    config : TrainConfig
        The run's configuration: which loss terms, with which weights.
    """

    source_images: np.ndarray
    source_labels: np.ndarray
    target_images: np.ndarray
    config: object


def _optimiser(model: nn.Module, options: FinetuneOptions, extra: list | None = None) -> torch.optim.Optimizer:
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
    from galmerge.training.module import balanced_class_weights

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
            if adapting is None:
                loss = F.cross_entropy(model(batch)[1], targets[rows], weight=weights)
            else:
                progress = (epoch * steps_per_epoch + step) / (options.epochs * steps_per_epoch)
                loss = adapting.loss(model, batch, targets[rows], weights, progress=progress)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    return TrainedModel(model.eval(), copy.deepcopy(trained.spec))


class _AdaptationSteps:
    """The source and unlabelled-target half of a fine-tuning step with the run's adaptation losses."""

    def __init__(self, trained, adaptation: AdaptationData, options: FinetuneOptions, generator):
        from galmerge.adapt.terms import build_loss_terms
        from galmerge.training.module import balanced_class_weights

        self.source = torch.from_numpy(trained.preprocessor.transform(adaptation.source_images))
        self.source_labels = torch.from_numpy(np.asarray(adaptation.source_labels, dtype=np.int64))
        self.target = torch.from_numpy(trained.preprocessor.transform(adaptation.target_images))
        self.source_weights = balanced_class_weights(self.source_labels)
        self.size, self.generator, self.lr = options.batch_size, generator, options.lr
        if adaptation.config.method == "none" or not len(self.source) or not len(self.target):
            raise ConfigError("fine-tuning with adaptation needs a run trained with a domain-adaptation method, and its source and target images")
        self.terms = nn.ModuleDict(build_loss_terms(adaptation.config, feature_dim=trained.model.feature_dim))

    def parameter_groups(self) -> list[dict]:
        return [{"params": list(term.parameters()), "lr": self.lr * getattr(term, "lr_multiplier", 1.0)} for term in self.terms.values() if any(True for _ in term.parameters())]

    def loss(self, model, labelled_batch, labels, weights, *, progress: float) -> torch.Tensor:
        from galmerge.training.module import StepOutputs

        source_rows = torch.randint(len(self.source), (self.size,), generator=self.generator)
        target_rows = torch.randint(len(self.target), (self.size,), generator=self.generator)
        source = random_dihedral(self.source[source_rows], self.generator)
        target = random_dihedral(self.target[target_rows], self.generator)
        n_labelled, n_source = len(labelled_batch), len(source)
        features, logits = model(torch.cat([labelled_batch, source, target]))
        loss = F.cross_entropy(logits[:n_labelled], labels, weight=weights)
        loss = loss + F.cross_entropy(logits[n_labelled : n_labelled + n_source], self.source_labels[source_rows], weight=self.source_weights)
        outputs = StepOutputs(
            features_source=features[n_labelled : n_labelled + n_source], logits_source=logits[n_labelled : n_labelled + n_source],
            labels_source=self.source_labels[source_rows], features_target=features[n_labelled + n_source :],
            logits_target=logits[n_labelled + n_source :], progress=progress,
        )
        for term in self.terms.values():
            loss = loss + term(outputs)
        return loss


def _run_adaptation_data(run: Path, loading_size: int, *, progress: bool) -> AdaptationData:
    """The run's source training images and unlabelled target training images, as it trained on them."""
    from galmerge.data.sources import load_imageset
    from galmerge.training.rundir import RunFiles, read_run_config

    if not Path(run).is_dir():
        raise ConfigError(f"{run}: fine-tuning with adaptation needs a run directory (it reads the run's data and split)")
    config, recorded = read_run_config(run)
    if config.method == "none" or not recorded.get("target"):
        raise ConfigError(f"{run}: trained without domain adaptation (method {config.method!r}); fine-tune it without --with-adaptation")
    with np.load(Path(run) / RunFiles.split, allow_pickle=False) as split:
        source_rows, target_rows = split["train"], split["target_train"]
    source = load_imageset(recorded["data"], size=loading_size, progress=progress)
    target = load_imageset(recorded["target"], size=loading_size, progress=progress)
    return AdaptationData(source.images[source_rows], source.labels[source_rows], target.images[target_rows], config)


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
    adaptation = _run_adaptation_data(run, trained.spec.loading_size, progress=progress) if options.with_adaptation else None
    pool = draw_label_pool(imageset.labels, max(n_labels), seed=options.seed)
    evaluation = np.setdiff1d(np.arange(len(imageset)), pool)
    eval_labels = imageset.labels[evaluation]
    out.mkdir(parents=True)
    curve = {"n_evaluation": int(len(evaluation)), "n_evaluation_mergers": int(eval_labels.sum()), "mode": options.mode, "with_adaptation": options.with_adaptation, "points": {}}
    for k in n_labels:
        model = trained if k == 0 else finetune(trained, imageset.images[pool[:k]], imageset.labels[pool[:k]], options=options, adaptation=adaptation)
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
    axes.set(xlabel="labelled target images used for fine-tuning (K)", ylabel="score on held-out target images", ylim=(0, 1.02), title=f"Few-label transfer ({curve['mode']}{', with adaptation' if curve.get('with_adaptation') else ''})")
    axes.legend()
    figure.savefig(path)
