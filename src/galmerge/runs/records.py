"""Typed records of what galmerge measured, as saved in run and experiment folders.

One dataclass per result, with ``to_dict`` / ``from_dict`` for its JSON file and one text form
(:meth:`Score.format`, :meth:`Evaluation.summary`, :meth:`ExperimentRecord.table`) that the
command line, the HTML report and the tests all use:

- :class:`Score`: a value with its 68 % and 95 % bootstrap intervals;
- :class:`ThresholdScores`: accuracy, precision, recall, F1 at one decision threshold;
- :class:`Evaluation`: every score of a classifier on one labelled set (``metrics.json`` of an
  evaluation folder);
- :class:`RunRecord`: a run's ``metrics.json`` (validation and test evaluations, thresholds,
  the chosen checkpoint);
- :class:`FinetuneCurve`: target scores against the number of labels (``finetune.json``);
- :class:`ExperimentRecord`: methods x seeds and their summary (``experiment.json``);
- :class:`Explanation`: what ``galmerge explain`` found (``explain.json``).

These live beside :class:`~galmerge.runs.Run` (a low layer) so that every stage writes them and
the report reads them without importing the stage that made them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from galmerge.display import format_interval, format_number, format_seed_mean
from galmerge.errors import CheckpointError

__all__ = [
    "Score",
    "ThresholdScores",
    "Evaluation",
    "RunRecord",
    "FinetunePoint",
    "FinetuneCurve",
    "SeedSummary",
    "MethodResult",
    "ExperimentRecord",
    "Explanation",
    "TABLE_METRICS",
    "RANKING_METRICS",
    "THRESHOLD_METRICS",
]

RANKING_METRICS = ("roc_auc", "pr_auc", "brier")
THRESHOLD_METRICS = ("accuracy", "precision", "recall", "f1", "false_positive_rate")
TABLE_METRICS = ("roc_auc", "pr_auc", "accuracy", "precision", "recall", "f1", "brier")
METRIC_TITLES = {"roc_auc": "ROC-AUC", "pr_auc": "PR-AUC", "accuracy": "accuracy", "precision": "precision", "recall": "recall", "f1": "F1", "brier": "Brier"}


def _read_json(path) -> dict:
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such file")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{path}: not valid JSON ({error})") from None


def _write_json(path, values: dict) -> Path:
    path = Path(path)
    path.write_text(json.dumps(values, indent=2, default=_json_default))
    return path


def _json_default(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _pair(values) -> tuple[float, float] | None:
    return None if values is None else (float(values[0]), float(values[1]))


# ---------------------------------------------------------------------------- one classifier, one set
@dataclass(frozen=True)
class Score:
    """A metric's value with its bootstrap percentile intervals (``None`` without a bootstrap)."""

    value: float
    ci68: tuple[float, float] | None = None
    ci95: tuple[float, float] | None = None

    def format(self, *, digits: int = 3) -> str:
        """``0.912 [0.880, 0.940]`` (the 95 % interval), or ``0.912`` without one."""
        return format_interval(self.value, self.ci95, digits=digits)

    def to_dict(self) -> dict:
        values: dict[str, Any] = {"value": self.value}
        if self.ci68 is not None:
            values["ci68"] = list(self.ci68)
        if self.ci95 is not None:
            values["ci95"] = list(self.ci95)
        return values

    @classmethod
    def from_dict(cls, values: dict) -> "Score":
        return cls(float(values["value"]), _pair(values.get("ci68")), _pair(values.get("ci95")))


@dataclass(frozen=True)
class ThresholdScores:
    """Scores of the calls ``p >= threshold``; ``confusion`` is ``[[TN, FP], [FN, TP]]``."""

    threshold: float
    confusion: tuple[tuple[int, int], tuple[int, int]]
    accuracy: Score
    precision: Score
    recall: Score
    f1: Score
    false_positive_rate: Score

    def to_dict(self) -> dict:
        values: dict[str, Any] = {"threshold": self.threshold, "confusion": [list(row) for row in self.confusion]}
        values.update({name: getattr(self, name).to_dict() for name in THRESHOLD_METRICS})
        return values

    @classmethod
    def from_dict(cls, values: dict) -> "ThresholdScores":
        confusion = tuple(tuple(int(c) for c in row) for row in values["confusion"])
        return cls(float(values["threshold"]), confusion, **{name: Score.from_dict(values[name]) for name in THRESHOLD_METRICS})  # type: ignore[arg-type]


@dataclass
class Evaluation:
    """Every score of a merger classifier on one labelled set.

    Attributes
    ----------
    n, n_mergers : int
    roc_auc, pr_auc, brier : Score
    thresholds : dict of str to ThresholdScores
        Per named decision threshold (``default``: 0.5; ``target_recall``: chosen on validation data).
    recall_at_fpr : dict of str to float
        Recall at fixed false-positive rates (keys ``"0.01"``, ``"0.05"``, ...).
    n_bootstrap : int
        Resamples behind the intervals (0: none).
    figures : dict of str to str
        Figures drawn for it, by name.
    run, data : str or None
        What was scored on what (evaluations of a run on a data set).
    n_excluded : int
        Images dropped because the run trained or validated on them.
    statistics : Evaluation or None
        The run's statistics classifier scored on the same images (``galmerge evaluate``).
    combined : Evaluation or None
        The network and the statistics classifier pooled
        (:func:`~galmerge.models.statistics_classifier.combined_probability`), on the same images.
    comparisons : list of PairedComparison
        The network minus the statistics classifier, and the pooled score minus each, paired on those images.
    path : Path or None
        Where it was written (not saved in the file).
    """

    n: int
    n_mergers: int
    roc_auc: Score
    pr_auc: Score
    brier: Score
    thresholds: dict[str, ThresholdScores]
    recall_at_fpr: dict[str, float] = field(default_factory=dict)
    n_bootstrap: int = 0
    figures: dict[str, str] = field(default_factory=dict)
    run: str | None = None
    data: str | None = None
    n_excluded: int = 0
    statistics: Evaluation | None = None
    combined: Evaluation | None = None
    comparisons: list[PairedComparison] = field(default_factory=list)
    path: Path | None = field(default=None, compare=False)

    FILENAME: ClassVar[str] = "metrics.json"
    PREDICTIONS: ClassVar[str] = "predictions.ecsv"  # id, is_merger, p_merger of every scored image
    STATISTICS_PREDICTIONS: ClassVar[str] = "statistics_predictions.ecsv"  # the same for the run's statistics classifier
    COMBINED_PREDICTIONS: ClassVar[str] = "combined_predictions.ecsv"  # the same for the two pooled

    def metric(self, name: str, *, threshold: str = "default") -> Score:
        """A ranking metric (``roc_auc``, ``pr_auc``, ``brier``) or a metric at a named threshold."""
        if name in RANKING_METRICS:
            return getattr(self, name)
        return getattr(self.thresholds[threshold], name)

    def summary(self) -> str:
        """Lines for a person: n, ranking scores with 95 % intervals, and the calls at each threshold."""
        lines = [f"n = {self.n} ({self.n_mergers} mergers); values with 95% bootstrap intervals"]
        lines += [f"  {name:<10} {getattr(self, name).format()}" for name in RANKING_METRICS]
        for name, entry in self.thresholds.items():
            calls = ", ".join(f"{m} {getattr(entry, m).value:.3f}" for m in ("accuracy", "precision", "recall", "f1"))
            lines.append(f"  at p >= {entry.threshold:.3f} ({name}): {calls}")
        if self.statistics is not None:
            lines.append(f"  the run's statistics classifier on the same images: roc_auc {self.statistics.roc_auc.format()}, pr_auc {self.statistics.pr_auc.format()}")
        if self.combined is not None:
            lines.append(f"  network and statistics pooled (p_merger_combined): roc_auc {self.combined.roc_auc.format()}, pr_auc {self.combined.pr_auc.format()}")
        lines += [f"  paired: {comparison.format()}" for comparison in self.comparisons]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        values: dict[str, Any] = {"n": self.n, "n_mergers": self.n_mergers}
        values.update({name: getattr(self, name).to_dict() for name in RANKING_METRICS})
        values["thresholds"] = {name: entry.to_dict() for name, entry in self.thresholds.items()}
        if self.recall_at_fpr:
            values["recall_at_fpr"] = dict(self.recall_at_fpr)
        if self.n_bootstrap:
            values["n_bootstrap"] = self.n_bootstrap
        if self.figures:
            values["figures"] = dict(self.figures)
        if self.run is not None or self.data is not None:
            values.update({"run": self.run, "data": self.data, "n_excluded": self.n_excluded})
        if self.statistics is not None:
            values["statistics"] = self.statistics.to_dict()
        if self.combined is not None:
            values["combined"] = self.combined.to_dict()
        if self.comparisons:
            values["comparisons"] = [c.to_dict() for c in self.comparisons]
        return values

    @classmethod
    def from_dict(cls, values: dict) -> "Evaluation":
        return cls(
            n=int(values["n"]),
            n_mergers=int(values["n_mergers"]),
            **{name: Score.from_dict(values[name]) for name in RANKING_METRICS},  # type: ignore[arg-type]
            thresholds={name: ThresholdScores.from_dict(entry) for name, entry in values["thresholds"].items()},
            recall_at_fpr={key: float(v) for key, v in values.get("recall_at_fpr", {}).items()},
            n_bootstrap=int(values.get("n_bootstrap", 0)),
            figures=dict(values.get("figures", {})),
            run=values.get("run"),
            data=values.get("data"),
            n_excluded=int(values.get("n_excluded", 0)),
            statistics=Evaluation.from_dict(values["statistics"]) if "statistics" in values else None,
            combined=Evaluation.from_dict(values["combined"]) if "combined" in values else None,
            comparisons=[PairedComparison.from_dict(c) for c in values.get("comparisons", [])],
        )

    def write(self, path) -> Path:
        self.path = _write_json(path, self.to_dict())
        return self.path

    @classmethod
    def read(cls, path) -> "Evaluation":
        evaluation = cls.from_dict(_read_json(path))
        evaluation.path = Path(path)
        return evaluation


# ---------------------------------------------------------------------------- a run
@dataclass
class RunRecord:
    """A run's ``metrics.json``: how it was trained and chosen, and its scores.

    Attributes
    ----------
    adaptation : dict
        ``{"method": name, "extras": [...]}``: the transfer loss and extra terms it trained with.
    best_checkpoint : dict
        ``{"monitor": name, "value": float or None, "path": str}``.
    n_images : dict of str to int
        Sizes of the source (``train``, ``val``, ``test``) and target (``target_*``) splits.
    thresholds : dict of str to float
    validation, test, target_test : Evaluation or None
        Source validation split (no intervals), source test split, target test split (when the
        target came with labels, kept apart for this score only).
    epoch_time_s_median : float or None
    """

    adaptation: dict
    best_checkpoint: dict
    n_images: dict[str, int]
    thresholds: dict[str, float]
    validation: Evaluation | None = None
    test: Evaluation | None = None
    target_test: Evaluation | None = None
    epoch_time_s_median: float | None = None

    FILENAME: ClassVar[str] = "metrics.json"

    def to_dict(self) -> dict:
        values: dict[str, Any] = {
            "adaptation": self.adaptation,
            "best_checkpoint": self.best_checkpoint,
            "n_images": self.n_images,
            "thresholds": self.thresholds,
            "epoch_time_s_median": self.epoch_time_s_median,
        }
        for key, evaluation in (("val", self.validation), ("test", self.test), ("target_test", self.target_test)):
            if evaluation is not None:
                values[key] = evaluation.to_dict()
        return values

    @classmethod
    def from_dict(cls, values: dict) -> "RunRecord":
        def evaluation(key):
            return Evaluation.from_dict(values[key]) if key in values else None

        return cls(
            adaptation=values.get("adaptation", {}),
            best_checkpoint=values["best_checkpoint"],
            n_images=values["n_images"],
            thresholds=values["thresholds"],
            validation=evaluation("val"),
            test=evaluation("test"),
            target_test=evaluation("target_test"),
            epoch_time_s_median=values.get("epoch_time_s_median"),
        )

    def write(self, path) -> Path:
        return _write_json(path, self.to_dict())

    @classmethod
    def read(cls, path) -> "RunRecord":
        return cls.from_dict(_read_json(path))


# ---------------------------------------------------------------------------- few-label transfer
@dataclass(frozen=True)
class FinetunePoint:
    """Scores of one method fine-tuned (or trained) on ``k`` labelled survey images (k = 0: as trained).

    The scores are of out-of-fold predictions: every labelled image scored by a model that did
    not see it (averaged over the repeats), with stratified bootstrap intervals.
    """

    k: int
    n_mergers_used: float
    roc_auc: Score
    pr_auc: Score
    recall_at_5pct_fpr: float | None = None

    def to_dict(self) -> dict:
        return {"n_mergers_used": self.n_mergers_used, "roc_auc": self.roc_auc.to_dict(), "pr_auc": self.pr_auc.to_dict(), "recall_at_5pct_fpr": self.recall_at_5pct_fpr}

    @classmethod
    def from_dict(cls, k: int, values: dict) -> "FinetunePoint":
        return cls(int(k), float(values["n_mergers_used"]), Score.from_dict(values["roc_auc"]), Score.from_dict(values["pr_auc"]), values.get("recall_at_5pct_fpr"))


@dataclass(frozen=True)
class PairedComparison:
    """ROC-AUC of method ``a`` minus method ``b`` on the same images (paired stratified bootstrap); ``k`` labels for few-label points."""

    a: str
    b: str
    difference: float
    ci95: tuple[float, float]
    p_value: float
    k: int | None = None

    def to_dict(self) -> dict:
        return {"a": self.a, "b": self.b, "difference": self.difference, "ci95": list(self.ci95), "p_value": self.p_value, "k": self.k}

    @classmethod
    def from_dict(cls, values: dict) -> "PairedComparison":
        k = values.get("k")
        return cls(values["a"], values["b"], float(values["difference"]), _pair(values["ci95"]), float(values["p_value"]), None if k is None else int(k))  # type: ignore[arg-type]

    def format(self) -> str:
        where = f"K={self.k}: " if self.k is not None else ""
        return f"{where}{self.a} - {self.b} = {format_interval(self.difference, self.ci95)} (p = {self.p_value:.3f})"


@dataclass
class FinetuneCurve:
    """Survey ROC-AUC and PR-AUC against the number of labels K, per method, by repeated cross-validation.

    Attributes
    ----------
    n_labelled, n_labelled_mergers : int
        The labelled set every point is scored on (each image out of fold).
    n_folds, n_repeats : int
    mode : str
        Which layers fine-tuning trained.
    with_adaptation : bool
        Whether fine-tuning also used the run's mocks and unlabelled survey (semi-supervised).
    methods : dict of str to dict of int to FinetunePoint
        ``fine-tuned run`` (the run, adapted), ``from scratch`` (the same network on the K labels
        alone), ``statistics`` (gradient boosting on image statistics), as measured.
    comparisons : list of PairedComparison
        The fine-tuned run against each baseline at every K.
    """

    n_labelled: int
    n_labelled_mergers: int
    n_folds: int
    n_repeats: int
    mode: str
    with_adaptation: bool
    methods: dict[str, dict[int, FinetunePoint]] = field(default_factory=dict)
    comparisons: list[PairedComparison] = field(default_factory=list)
    path: Path | None = field(default=None, compare=False)

    FILENAME: ClassVar[str] = "finetune.json"
    FIGURE: ClassVar[str] = "finetune_curve.png"

    def to_dict(self) -> dict:
        return {
            "n_labelled": self.n_labelled,
            "n_labelled_mergers": self.n_labelled_mergers,
            "n_folds": self.n_folds,
            "n_repeats": self.n_repeats,
            "mode": self.mode,
            "with_adaptation": self.with_adaptation,
            "methods": {name: {str(k): point.to_dict() for k, point in points.items()} for name, points in self.methods.items()},
            "comparisons": [c.to_dict() for c in self.comparisons],
        }

    @classmethod
    def from_dict(cls, values: dict) -> "FinetuneCurve":
        methods = {name: {int(k): FinetunePoint.from_dict(int(k), p) for k, p in points.items()} for name, points in values["methods"].items()}
        comparisons = [PairedComparison.from_dict(c) for c in values.get("comparisons", [])]
        return cls(
            int(values["n_labelled"]),
            int(values["n_labelled_mergers"]),
            int(values["n_folds"]),
            int(values["n_repeats"]),
            values["mode"],
            bool(values.get("with_adaptation", False)),
            methods,
            comparisons,
        )

    def summary(self) -> str:
        lines = [f"{self.n_labelled} labelled images ({self.n_labelled_mergers} mergers), {self.n_folds}-fold x {self.n_repeats}; ROC-AUC [95 % interval]:"]
        for name, points in self.methods.items():
            lines.append(f"  {name}: " + "; ".join(f"K={k} {p.roc_auc.format()}" for k, p in sorted(points.items())))
        lines += [f"  {c.format()}" for c in self.comparisons]
        return "\n".join(lines)

    def write(self, path) -> Path:
        return _write_json(path, self.to_dict())

    @classmethod
    def read(cls, path) -> "FinetuneCurve":
        curve = cls.from_dict(_read_json(path))
        curve.path = Path(path).parent
        return curve


# ---------------------------------------------------------------------------- experiments
@dataclass(frozen=True)
class SeedSummary:
    """Mean and standard deviation of one number over the seeds of a method."""

    mean: float | None
    std: float | None = None
    n_seeds: int = 1

    def format(self, *, digits: int = 3) -> str:
        """``0.912 ± 0.010`` over seeds; ``0.912`` for one seed."""
        return format_seed_mean(self.mean, self.std, n_seeds=self.n_seeds, digits=digits)

    @classmethod
    def of(cls, values) -> "SeedSummary":
        import numpy as np

        values = [float(v) for v in values if v is not None]
        if not values:
            return cls(None, None, 0)
        return cls(float(np.mean(values)), float(np.std(values)), len(values))

    def to_dict(self) -> dict:
        return {"mean": self.mean, "std": self.std, "n_seeds": self.n_seeds}

    @classmethod
    def from_dict(cls, values: dict) -> "SeedSummary":
        return cls(values.get("mean"), values.get("std"), int(values.get("n_seeds", 1)))


@dataclass
class MethodResult:
    """One row of an experiment: a method's options, its runs (one per seed) and their summary.

    ``summary`` holds :class:`SeedSummary` per ``<domain>_<metric>`` and ``epoch_time_s``;
    ``gap_closure`` and ``a_distance`` are plain numbers (or None).
    """

    options: dict
    runs: list[dict] = field(default_factory=list)
    summary: dict[str, SeedSummary] = field(default_factory=dict)
    gap_closure: float | None = None
    a_distance: float | None = None

    @property
    def is_finetuned(self) -> bool:
        return "finetune_k" in self.options

    @property
    def first_run_dir(self) -> str | None:
        """The first seed's run directory; None for a row without a network (a classical baseline, a fine-tuned row)."""
        return self.runs[0].get("run_dir") if self.runs else None

    def run_evaluations(self, domain: str) -> list[Evaluation]:
        """The per-seed evaluations of one domain (``source`` or ``target``)."""
        return [run[domain] for run in self.runs if run.get(domain) is not None]

    def to_dict(self) -> dict:
        runs = [{key: (value.to_dict() if isinstance(value, Evaluation) else value) for key, value in run.items()} for run in self.runs]
        return {
            "options": self.options,
            "runs": runs,
            "summary": {key: value.to_dict() for key, value in self.summary.items()},
            "gap_closure": self.gap_closure,
            "a_distance": self.a_distance,
        }

    @classmethod
    def from_dict(cls, values: dict) -> "MethodResult":
        runs = [{key: (Evaluation.from_dict(value) if key in ("source", "target") else value) for key, value in run.items()} for run in values.get("runs", [])]
        summary = {key: SeedSummary.from_dict(value) for key, value in values.get("summary", {}).items()}
        return cls(values.get("options", {}), runs, summary, values.get("gap_closure"), values.get("a_distance"))


@dataclass
class ExperimentRecord:
    """An experiment (``experiment.json``): methods x seeds on a source/target pair.

    Attributes
    ----------
    name : str
    seeds : list of int
    files : dict
        ``source``, ``target`` and ``evaluation`` data (``evaluation``: a labelled target set scored
        instead of the target test split).
    methods : dict of str to MethodResult
        In protocol order; fine-tuned rows follow their method's runs.
    reference : str or None
        The method without adaptation that defines the domain gap.
    domain_gap_roc_auc : float or None
        Source minus target ROC-AUC of the reference.
    finetune : dict of str to list of FinetuneCurve
    comparisons : list of PairedComparison
        Target ROC-AUC of each trained method minus the reference's on the same images (the
        predictions averaged over seeds), with a paired stratified bootstrap interval.
    description : dict
        What a person needs to read the numbers: the training options shared by all methods,
        data sizes, the model.
    """

    name: str
    seeds: list[int]
    files: dict
    methods: dict[str, MethodResult] = field(default_factory=dict)
    reference: str | None = None
    domain_gap_roc_auc: float | None = None
    finetune: dict[str, list[FinetuneCurve]] = field(default_factory=dict)
    comparisons: list[PairedComparison] = field(default_factory=list)
    description: dict = field(default_factory=dict)
    report: str | None = None
    path: Path | None = field(default=None, compare=False)

    FILENAME: ClassVar[str] = "experiment.json"

    def table(self, part: str = "all", *, intervals: bool = True) -> tuple[list[str], list[list[str]]]:
        """Header and rows of the results table, as text.

        ``part``: ``source`` or ``target`` (the seven metrics of one domain), ``transfer`` (target
        ROC-AUC and PR-AUC, gap closure, seconds per epoch, proxy A-distance), or ``all`` (the
        18 columns of DeepMerge II's table: table.csv and table.md). Several seeds show mean ±
        standard deviation; one seed shows the run's value with its 95 % bootstrap interval
        (``intervals``) or alone.
        """
        if part not in ("source", "target", "transfer", "all"):
            raise ValueError(f"unknown table part {part!r}")
        columns = {"source": [("source", m) for m in TABLE_METRICS], "target": [("target", m) for m in TABLE_METRICS]}
        columns["all"] = columns["source"] + columns["target"]
        columns["transfer"] = [("target", "roc_auc"), ("target", "pr_auc")]
        chosen = columns[part]
        header = ["method"] + [f"{d} {METRIC_TITLES[m] if part != 'all' else m}" for d, m in chosen]
        extra = part in ("all", "transfer")
        if extra:
            header += ["gap closure", "epoch s", "A-distance"]
        rows = []
        for name, method in self.methods.items():
            row = [name] + [self._cell(method, domain, metric, intervals=intervals) for domain, metric in chosen]
            if extra:
                epoch = method.summary.get("epoch_time_s")
                row += [format_number(method.gap_closure), epoch.format(digits=2) if epoch is not None else "-", format_number(method.a_distance)]
            rows.append(row)
        return header, rows

    @staticmethod
    def _cell(method: MethodResult, domain: str, metric: str, *, intervals: bool) -> str:
        summary = method.summary.get(f"{domain}_{metric}")
        if summary is None:
            return "-"
        evaluations = method.run_evaluations(domain)
        if intervals and summary.n_seeds == 1 and len(evaluations) == 1:
            return evaluations[0].metric(metric).format()
        return summary.format()

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "seeds": list(self.seeds),
            "files": self.files,
            "description": self.description,
            "methods": {name: method.to_dict() for name, method in self.methods.items()},
            "reference": self.reference,
            "domain_gap_roc_auc": self.domain_gap_roc_auc,
            "finetune": {name: [curve.to_dict() | {"path": str(curve.path) if curve.path else None} for curve in curves] for name, curves in self.finetune.items()},
            "comparisons": [c.to_dict() for c in self.comparisons],
            "report": self.report,
        }

    @classmethod
    def from_dict(cls, values: dict) -> "ExperimentRecord":
        finetune: dict[str, list[FinetuneCurve]] = {}
        for name, curves in values.get("finetune", {}).items():
            finetune[name] = []
            for entry in curves:
                curve = FinetuneCurve.from_dict(entry)
                curve.path = Path(entry["path"]) if entry.get("path") else None
                finetune[name].append(curve)
        return cls(
            name=values["name"],
            seeds=list(values["seeds"]),
            files=values.get("files", {}),
            methods={name: MethodResult.from_dict(m) for name, m in values.get("methods", {}).items()},
            reference=values.get("reference"),
            domain_gap_roc_auc=values.get("domain_gap_roc_auc"),
            finetune=finetune,
            comparisons=[PairedComparison.from_dict(c) for c in values.get("comparisons", [])],
            description=values.get("description", {}),
            report=values.get("report"),
        )

    def write(self, path) -> Path:
        self.path = _write_json(path, self.to_dict())
        return self.path

    @classmethod
    def read(cls, path) -> "ExperimentRecord":
        record = cls.from_dict(_read_json(path))
        record.path = Path(path)
        return record


# ---------------------------------------------------------------------------- interpretation
@dataclass
class Explanation:
    """What ``galmerge explain`` found (``explain.json``).

    Attributes
    ----------
    run, data : str
    n_excluded : int
        Images dropped because the run trained or validated on them.
    methods : list of str
    images : dict
        ``id``, ``class`` and ``p_merger`` of the images shown in the montages.
    options : dict
        Grad-CAM layer, Integrated Gradients baseline, seed.
    figures : dict of str to str
    dead_filters : list of dict, optional
        Per layer: ``layer``, ``n_filters``, ``dead`` (indices).
    mask_scores : dict, optional
        Per feature (tidal, companion), per method: share of |attribution| in the mask and
        pointing game, with the same against shuffled masks.
    randomisation : dict, optional
        Per mode (cascading, independent): similarities after each step and the flagged methods.
    tcav : dict, optional
    compare : dict, optional
    """

    run: str
    data: str
    n_excluded: int
    methods: list[str]
    images: dict
    options: dict
    figures: dict[str, str] = field(default_factory=dict)
    dead_filters: list[dict] | None = None
    mask_scores: dict | None = None
    randomisation: dict | None = None
    tcav: dict | None = None
    compare: dict | None = None
    path: Path | None = field(default=None, compare=False)

    FILENAME: ClassVar[str] = "explain.json"
    ATTRIBUTIONS: ClassVar[str] = "attributions.npz"
    _OPTIONAL: ClassVar[tuple[str, ...]] = ("dead_filters", "mask_scores", "randomisation", "tcav", "compare")

    def summary(self) -> str:
        """Lines for a person: what was explained, dead filters, mask scores, sanity checks, TCAV."""
        classes = self.images["class"]
        lines = [f"explained {len(classes)} images ({sum(classes)} mergers) of {self.data} with {', '.join(self.methods)}"]
        if self.n_excluded:
            lines.append(f"excluded {self.n_excluded} images the run trained or validated on")
        if self.dead_filters is not None:
            lines.append("dead filters: " + ", ".join(f"{r['layer']} {len(r['dead'])}/{r['n_filters']}" for r in self.dead_filters))
        for feature, methods in (self.mask_scores or {}).items():
            lines.append(f"{feature} mask (share of |attribution| inside / pointing game; shuffled masks in brackets):")
            for method, entry in methods.items():
                lines.append(
                    f"  {method:<16} {entry['share_in_mask']:.3f} ({entry['shuffled_share_in_mask']:.3f})  {entry['pointing_game']:.3f} ({entry['shuffled_pointing_game']:.3f})  n={entry['n_images']}"
                )
        for mode, check in (self.randomisation or {}).items():
            finals = ", ".join(f"{m} {v:.2f}" for m, v in check["final_spearman_abs"].items())
            lines.append(f"{mode} randomisation, Spearman |map| after: {finals}; flagged: {', '.join(check['flagged']) or 'none'}")
        if self.tcav is not None:
            lines.append(f"TCAV significant concepts (merger class): {', '.join(self.tcav['significant']) or 'none'}")
        if self.path is not None:
            lines.append(f"figures and explain.json in {Path(self.path).parent}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        values: dict[str, Any] = {
            "run": self.run,
            "data": self.data,
            "n_excluded": self.n_excluded,
            "methods": list(self.methods),
            "images": self.images,
            "options": self.options,
            "figures": dict(self.figures),
        }
        values.update({name: getattr(self, name) for name in self._OPTIONAL if getattr(self, name) is not None})
        return values

    @classmethod
    def from_dict(cls, values: dict) -> "Explanation":
        known = {"run", "data", "n_excluded", "methods", "images", "options", "figures", *cls._OPTIONAL}
        return cls(**{key: value for key, value in values.items() if key in known})

    def write(self, path) -> Path:
        self.path = _write_json(path, self.to_dict())
        return self.path

    @classmethod
    def read(cls, path) -> "Explanation":
        explanation = cls.from_dict(_read_json(path))
        explanation.path = Path(path)
        return explanation
