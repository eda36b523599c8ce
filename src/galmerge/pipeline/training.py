"""``galmerge train``: train a model, then score its test splits (the evaluation step of a training run)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from galmerge.evaluation.evaluate import write_evaluation
from galmerge.evaluation.metrics import score_predictions
from galmerge.models.domain_bn import using_domain
from galmerge.models.inference import TorchBackend
from galmerge.runs import RunRecord
from galmerge.training.fit import EVAL_BATCH, TrainingResult, train

__all__ = ["train_and_evaluate", "evaluate_training", "fit_statistics_model", "predictions_of", "write_predictions"]


def train_and_evaluate(source=None, **options) -> TrainingResult:
    """:func:`galmerge.training.fit`, then :func:`evaluate_training`: what ``galmerge train`` does.

    Takes the arguments of :func:`~galmerge.training.fit`. Returns its result with
    ``result.record`` holding the validation, source-test and target-test evaluations (also in
    ``metrics.json``, ``*_predictions.ecsv`` and ``figures/``).
    """
    result = train(source, **options)
    if result.trained is None:  # a worker process of multi-device training: rank 0 evaluates
        return result
    evaluate_training(result)
    fit_statistics_model(result)
    return result


def evaluate_training(result: TrainingResult) -> RunRecord:
    """Score a fresh run on its held-out splits, once: source test split, and the target test split when the target came with labels.

    Writes figures (``figures/``, ``figures/target/``), the predictions of each test split and the
    completed ``metrics.json``.
    """
    run, config, trained, split, labels, source, record, validation = (result.run, result.config, result.trained, result.split, result.labels, result.source, result.record, result.validation)
    if trained is None or split is None or labels is None or source is None or record is None or validation is None:
        raise ValueError("evaluate_training needs the result of a finished training")  # a programming error, not the user's
    runner = TorchBackend(trained.model)
    thresholds = result.thresholds
    record.validation = score_predictions(labels[split.val], validation.p_merger, thresholds=thresholds, n_bootstrap=0)
    n_bootstrap, seed = config.evaluation.n_bootstrap, config.seed
    if len(split.test):
        with using_domain(trained.model, "source"):  # source images, source statistics
            p_test = trained.predict(source, rows=split.test, runner=runner, batch_size=EVAL_BATCH).p_merger
        record.test = write_evaluation(
            run.figures("test"),
            labels=labels[split.test],
            p_merger=p_test,
            thresholds=thresholds,
            images=source.images,
            image_rows=split.test,
            bands=source.bands,
            name="test split",
            n_bootstrap=n_bootstrap,
            seed=seed,
            history_csv=run.history,
        )
        write_predictions(run.predictions("test"), source.meta["id"][split.test], labels[split.test], p_test)
    domain = result.target
    if domain is not None and domain.held_out_labels is not None and len(domain.split.test):
        test_labels = domain.held_out_labels[domain.split.test]
        if test_labels.min() != test_labels.max():  # labels kept apart until now, for scoring only
            p_target = trained.predict(domain.images, rows=domain.split.test, runner=runner, batch_size=EVAL_BATCH).p_merger
            record.target_test = write_evaluation(
                run.figures("target_test"),
                labels=test_labels,
                p_merger=p_target,
                thresholds=thresholds,
                images=domain.images.images,
                image_rows=domain.split.test,
                bands=source.bands,
                name="target test split",
                n_bootstrap=n_bootstrap,
                seed=seed,
            )
            write_predictions(run.predictions("target_test"), domain.images.meta["id"][domain.split.test], test_labels, p_target)
    record.write(run.metrics)
    return record


def fit_statistics_model(result: TrainingResult) -> Path:
    """Fit the statistics classifier on the run's source training split and save it beside the network.

    :class:`~galmerge.models.statistics_classifier.StatisticsMergerClassifier` costs about a
    millisecond per image and, trained on the Galaxy Zoo mocks, ranks real Galaxy Zoo mergers
    better than the networks (README); catalogs give its ``p_merger_statistics`` beside ``p_merger``.
    Its ROC-AUC on the source test split (and on the target test split when that has labels) is
    saved with it, in ``statistics_model.json``.
    """
    from galmerge.models.statistics_classifier import StatisticsMergerClassifier, save_statistics_model

    run, split, labels, source = result.run, result.split, result.labels, result.source
    if split is None or labels is None or source is None:
        raise ValueError("fit_statistics_model needs the result of a finished training")  # a programming error
    train_rows, test_rows = np.sort(split.train), np.sort(split.test)
    model = StatisticsMergerClassifier().fit(source.images[train_rows], labels[train_rows])
    scores = {}
    if len(test_rows) and np.ptp(labels[test_rows]) > 0:
        scores["source_test_roc_auc"] = roc_auc_score(labels[test_rows], model.predict_proba(source.images[test_rows]))
    domain = result.target
    if domain is not None and domain.held_out_labels is not None and len(domain.split.test):
        target_rows = np.sort(domain.split.test)
        if np.ptp(domain.held_out_labels[target_rows]) > 0:
            scores["target_test_roc_auc"] = roc_auc_score(domain.held_out_labels[target_rows], model.predict_proba(domain.images.images[target_rows]))
    return save_statistics_model(
        model,
        run.statistics_model,
        trained_on="source training split",
        n_train=int(len(train_rows)),
        training_merger_fraction=float(labels[train_rows].mean()),
        **{name: float(value) for name, value in scores.items()},
    )


def write_predictions(path, ids, labels, p_merger) -> None:
    """Write the predictions table of a scored split (``id``, ``is_merger``, ``p_merger``; ECSV), as :func:`predictions_of` reads it."""
    from astropy.table import Table

    Table({"id": ids, "is_merger": labels, "p_merger": np.asarray(p_merger).astype(np.float32)}).write(path, format="ascii.ecsv", overwrite=True)


def predictions_of(path) -> tuple[np.ndarray, np.ndarray]:
    """Labels and p(merger) of a predictions table written for a test split or an evaluation."""
    from astropy.table import Table

    table = Table.read(path)
    return np.asarray(table["is_merger"]), np.asarray(table["p_merger"])
