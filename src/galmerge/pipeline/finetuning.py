"""``galmerge finetune``: how much a few labelled survey images help, against training on them alone.

For K in e.g. {0, 10, 25, 50, 100} labelled survey images, three methods are measured by repeated
stratified cross-validation over the labelled set (:mod:`galmerge.pipeline.few_label`: every
labelled image, every merger included, is scored by models that never saw it):

- ``fine-tuned run``: the run's model, AdaBN on the survey's unlabelled images, then its last
  block and head fine-tuned on the K labels (:func:`galmerge.training.finetune.finetune`; with
  ``with_adaptation``, semi-supervised: the run's mocks and unlabelled survey images join every
  step); at K = 0 the run as it is (after AdaBN);
- ``from scratch``: the same architecture trained on the K labels alone (what the labels buy
  without any simulation);
- ``statistics``: gradient boosting on simple image statistics of the K labelled images;
- ``mock statistics``: the logistic regression on image statistics
  (:class:`~galmerge.models.statistics_classifier.StatisticsMergerClassifier`) trained on the run's own
  mock training split; at K = 0 applied as it is (what the simulations give without the CNN or
  a label), at K > 0 refitted with the K labelled survey images added to the mocks, each
  weighing as :data:`SURVEY_LABEL_WEIGHT` mocks.

The curve (``finetune.json``, ``finetune_curve.png``) carries paired bootstrap differences of
ROC-AUC between the fine-tuned run and each baseline at every K.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from galmerge.data.imageset import ImageSet
from galmerge.data.sources import as_imageset
from galmerge.evaluation.compare import paired_bootstrap
from galmerge.evaluation.metrics import score_predictions
from galmerge.models.trained import TrainedModel
from galmerge.pipeline.few_label import FewLabelCurve, FewLabelOptions, few_label_curve
from galmerge.plotting import new_figure, save_figure
from galmerge.runs import FinetuneCurve, FinetunePoint, Run, images_not_used
from galmerge.runs.records import PairedComparison
from galmerge.training.config import FinetuneOptions
from galmerge.training.finetune import AdaptationData, finetune, run_adaptation_data, run_training_images

__all__ = ["finetune_curve", "plot_finetune_curve", "FineTunedRun", "FromScratch", "StatisticsBaseline", "MockStatistics", "RUN_METHOD", "SURVEY_LABEL_WEIGHT"]

RUN_METHOD = "fine-tuned run"


@dataclass
class FineTunedRun:
    """The run's model fine-tuned on the K labels (after AdaBN on the survey's unlabelled images)."""

    trained: TrainedModel
    options: FinetuneOptions
    unlabelled: np.ndarray | None = None
    adaptation: AdaptationData | None = None
    name: str = RUN_METHOD
    needs_labels: bool = False

    def fit_predict(self, labelled: ImageSet, evaluation: ImageSet, *, seed: int) -> np.ndarray:
        options = _replace(self.options, seed=seed)
        if len(labelled) == 0:
            model = self.trained
            if options.adapt_bn and self.unlabelled is not None:
                model = TrainedModel(copy.deepcopy(self.trained.model), copy.deepcopy(self.trained.spec))
                model.adapt_to_survey(self.unlabelled, domain=self.trained.spec.prediction_domain or "target")
        else:
            model = finetune(self.trained, labelled.images, labelled.require_labels(purpose="fine-tuning"), options=options, adaptation=self.adaptation, unlabelled=self.unlabelled)
        return model.predict(evaluation).p_merger


@dataclass
class FromScratch:
    """The run's architecture trained from random weights on the K labelled images alone."""

    trained: TrainedModel
    options: FinetuneOptions
    name: str = "from scratch"
    needs_labels: bool = True

    def fit_predict(self, labelled: ImageSet, evaluation: ImageSet, *, seed: int) -> np.ndarray:
        import torch

        from galmerge.models.registry import build_model

        spec = self.trained.spec
        torch.manual_seed(seed)
        fresh = build_model(spec.architecture, in_bands=spec.in_bands, input_size=spec.input_size)
        plain = copy.deepcopy(spec)
        plain.batchnorm_domains, plain.prediction_domain = [], None
        options = _replace(self.options, seed=seed, mode="full", layer_decay=1.0, adapt_bn=False)
        return finetune(TrainedModel(fresh, plain), labelled.images, labelled.require_labels(purpose="training from scratch"), options=options, train_batchnorm=True).predict(evaluation).p_merger


@dataclass
class StatisticsBaseline:
    """Gradient boosting on simple image statistics (flux, size, concentration, asymmetry, colour, ...)."""

    name: str = "statistics"
    needs_labels: bool = True

    def _features(self, images: ImageSet) -> np.ndarray:
        from galmerge.mocks.image_statistics import measure_image_statistics

        return measure_image_statistics(images.images).values

    def fit_predict(self, labelled: ImageSet, evaluation: ImageSet, *, seed: int) -> np.ndarray:
        from sklearn.ensemble import HistGradientBoostingClassifier

        # leaves of >= 10 % of the labels: scikit-learn's default of 20 images cannot split a
        # pool of 25 at all, and the baseline then scored exactly 0.5 on real Galaxy Zoo images
        leaf = max(2, min(20, len(labelled) // 10))
        model = HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, max_depth=3, min_samples_leaf=leaf, class_weight="balanced", random_state=seed)
        model.fit(self._features(labelled), labelled.labels)
        return model.predict_proba(self._features(evaluation))[:, 1]


# Weight of one labelled survey image against one mock in ``mock statistics``: chosen on the
# choosing part of gz1_dev between 10 and 40 (K = 10: 0.921 against 0.910; K = 20: 0.928 and 0.929).
SURVEY_LABEL_WEIGHT = 10.0


@dataclass
class MockStatistics:
    """:class:`~galmerge.models.statistics_classifier.StatisticsMergerClassifier` fitted on labelled mocks, and on the K labelled survey images beside them."""

    images: np.ndarray
    labels: np.ndarray
    name: str = "mock statistics"
    needs_labels: bool = False

    def __post_init__(self):
        from galmerge.models.statistics_classifier import StatisticsMergerClassifier

        self.model = StatisticsMergerClassifier()
        self.mock_statistics = self.model.statistics(self.images)
        self.mock_only = StatisticsMergerClassifier().fit_statistics(self.mock_statistics, self.labels)

    def fit_predict(self, labelled: ImageSet, evaluation: ImageSet, *, seed: int) -> np.ndarray:
        if len(labelled) == 0:
            return self.mock_only.predict_proba(evaluation.images)
        values = np.concatenate([self.mock_statistics, self.model.statistics(labelled.images)])
        labels = np.concatenate([self.labels, labelled.require_labels(purpose="the mock statistics baseline")])
        weights = np.r_[np.ones(len(self.labels)), np.full(len(labelled), SURVEY_LABEL_WEIGHT)]
        return self.model.fit_statistics(values, labels, sample_weight=weights).predict_proba(evaluation.images)


def _replace(options: FinetuneOptions, **changes) -> FinetuneOptions:
    import dataclasses

    return dataclasses.replace(options, **changes)


def finetune_curve(
    run,
    labelled,
    *,
    n_labels=(0, 10, 25, 50, 100),
    unlabelled=None,
    baselines: bool = True,
    n_folds: int = 5,
    n_repeats: int = 2,
    out=None,
    overwrite: bool = False,
    options: FinetuneOptions | None = None,
    n_bootstrap: int = 1000,
    progress: bool = True,
) -> FinetuneCurve:
    """Survey ROC-AUC and PR-AUC against the number of labels, for the run and the baselines (see the module notes).

    Parameters
    ----------
    run : path
        A run directory trained on mocks (with or without a target survey).
    labelled : ImageSet or str
        Labelled images of the survey; images the run trained or selected on are dropped first.
    n_labels : sequence of int
        The K values (0: the run as it is; baselines start at the first K > 0).
    unlabelled : ImageSet or str, optional
        Unlabelled images of the survey for AdaBN (default: the run's target images when it has
        them, else the labelled images themselves, labels unread).
    baselines : bool
        Also measure ``from scratch`` and ``statistics``.
    n_folds, n_repeats : int
        Stratified folds and repeats of the cross-validation.
    out : path, optional
        Folder for ``finetune.json`` and ``finetune_curve.png`` (default ``<run>/finetune``).
    options : FinetuneOptions, optional
        Fine-tuning options; ``seed`` defaults to the run's seed.
    n_bootstrap : int
        Resamples for the intervals and the paired comparisons (0: neither).

    Returns
    -------
    FinetuneCurve
    """
    run_path = Path(run)
    trained = TrainedModel.load(run_path)
    options = options or FinetuneOptions()
    run_seed = _run_seed(run_path)
    if options.seed is None:
        options = _replace(options, seed=run_seed)
    imageset = as_imageset(labelled, size=trained.spec.loading_size, progress=progress)
    imageset.require_both_classes(purpose="few-label transfer")
    if Run.is_run(run_path):
        kept, _ = images_not_used(run_path, imageset, purpose="few-label transfer")
        imageset = imageset[kept]
    survey = _unlabelled_images(run_path, unlabelled, imageset, trained, progress=progress)
    adaptation = run_adaptation_data(run_path, trained.spec.loading_size, progress=progress) if options.with_adaptation else None
    methods: list = [FineTunedRun(trained, options, survey, adaptation)]
    if baselines:
        methods += [FromScratch(trained, options), StatisticsBaseline()]
        mocks = _run_training_mocks(run_path, trained.spec.loading_size, adaptation, progress=progress)
        if mocks is not None:
            methods.append(MockStatistics(*mocks))
    folder = Run(run_path if run_path.is_dir() else run_path.parent).new_finetune_folder(out=out, overwrite=overwrite)
    measured = few_label_curve(
        imageset, methods, options=FewLabelOptions(n_labels=tuple(sorted({int(k) for k in n_labels})), n_folds=n_folds, n_repeats=n_repeats, seed=int(options.seed or 0)), progress=progress
    )
    curve = _curve_record(measured, options, n_bootstrap=n_bootstrap)
    curve.write(folder / FinetuneCurve.FILENAME)
    plot_finetune_curve(curve, folder / FinetuneCurve.FIGURE)
    curve.path = folder
    return curve


def _run_seed(path: Path) -> int:
    if not Run.is_run(path):
        return 0
    values, _ = Run(path).read_config()
    return int(values.get("seed", 0))


def _run_training_mocks(run_path: Path, size: int, adaptation: AdaptationData | None, *, progress: bool) -> tuple[np.ndarray, np.ndarray] | None:
    """The run's labelled training images and labels, or None (with a note) when they cannot be read."""
    from galmerge.errors import GalmergeError

    if adaptation is not None:
        return adaptation.source_images, adaptation.source_labels
    try:
        return run_training_images(run_path, size, progress=progress, purpose="the mock statistics baseline")
    except (GalmergeError, OSError) as error:
        print(f"{error}; the mock statistics line is left out")
        return None


def _unlabelled_images(run_path: Path, unlabelled, labelled: ImageSet, trained: TrainedModel, *, progress: bool) -> np.ndarray:
    """Raw unlabelled survey images for AdaBN: given, else the run's target training images, else the labelled set's images."""
    if unlabelled is not None:
        return as_imageset(unlabelled, size=trained.spec.loading_size, progress=progress).images
    if Run.is_run(run_path):
        _, recorded = Run(run_path).read_config()
        if recorded.get("target"):
            target = as_imageset(recorded["target"], size=trained.spec.loading_size, progress=progress)
            return target.images[Run(run_path).split_arrays()["target_train"]]
    return labelled.images


def _curve_record(measured: FewLabelCurve, options: FinetuneOptions, *, n_bootstrap: int) -> FinetuneCurve:
    labels = measured.labels
    curve = FinetuneCurve(len(labels), int(labels.sum()), measured.options.n_folds, measured.options.n_repeats, options.mode, options.with_adaptation)
    for point in measured.points:
        p_merger = point.predictions.mean(axis=0)
        scores = score_predictions(labels, p_merger, n_bootstrap=n_bootstrap, seed=measured.options.seed, false_positive_rates=(0.05,))
        used = float(np.mean(point.n_mergers_in_pools)) if point.n_mergers_in_pools else 0.0
        curve.methods.setdefault(point.method, {})[point.n_labels] = FinetunePoint(point.n_labels, used, scores.roc_auc, scores.pr_auc, scores.recall_at_fpr.get("0.05"))
    for k in sorted({p.n_labels for p in measured.points}) if n_bootstrap > 0 else ():  # paired intervals need resamples
        for other in (name for name in curve.methods if name != RUN_METHOD and k in curve.methods[name]):
            if k not in curve.methods.get(RUN_METHOD, {}):
                continue
            diff = paired_bootstrap(labels, measured.mean_prediction(RUN_METHOD, k), measured.mean_prediction(other, k), n_bootstrap=n_bootstrap, seed=measured.options.seed)
            curve.comparisons.append(PairedComparison(RUN_METHOD, other, diff.difference, diff.ci95, diff.p_value, k=k))
    return curve


def plot_finetune_curve(curve: FinetuneCurve, path) -> Path:
    """ROC-AUC with 95 % intervals against K, one line per method; PR-AUC beside it."""
    figure = new_figure(9, 3.8)
    for index, (metric, label) in enumerate((("roc_auc", "ROC-AUC"), ("pr_auc", "PR-AUC"))):
        axes = figure.add_subplot(1, 2, index + 1)
        for name, points in curve.methods.items():
            ks = sorted(points)
            scores = [getattr(points[k], metric) for k in ks]
            values = np.array([s.value for s in scores])
            lows = np.array([(s.ci95 or (s.value, s.value))[0] for s in scores])
            highs = np.array([(s.ci95 or (s.value, s.value))[1] for s in scores])
            axes.errorbar(ks, values, yerr=[values - lows, highs - values], marker="o", capsize=3, label=name)
        axes.set(xlabel="labelled survey images (K)", ylabel=f"{label}, out of fold", ylim=(0, 1.02))
        if index == 0:
            axes.legend(fontsize=8)
    figure.suptitle(f"Few-label transfer: {curve.n_labelled} labelled images ({curve.n_labelled_mergers} mergers), {curve.n_folds}-fold x {curve.n_repeats}")
    return save_figure(figure, path)
