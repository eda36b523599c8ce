"""Experiment protocols: methods x seeds on a source/target pair, and DeepMerge II's results table.

A protocol is a TOML file::

    name = "sim2sim"
    seeds = [0, 1, 2]
    baselines = ["statistics"]     # optional rows: "statistics" (image statistics + logistic
                                   # regression), "nonparametric" (statmorph + random forest)
    [data]
    benchmark = "sim2sim"          # made into <out>/data when the files are not given
    n = 4000
    # source = "source.h5"         # or explicit files
    # target = "target.h5"         # unlabelled, or labelled (labels then used for scoring only)
    # target_evaluation = "gz1.h5" # a labelled target set to score on instead of the target test split
    # target_evaluation_part = "report"  # only its reporting part (galmerge.data.splits.choosing_part)
    [train]                        # TrainConfig options shared by all methods (flat names)
    epochs = 20
    [methods]                      # name = TrainConfig options of that method
    noDA = { method = "none" }
    MMD = { method = "mmd" }
    [finetune]                     # optional: few-label variants
    methods = ["noDA", "MMD"]
    n_labels = [0, 25, 50, 100, 200]
    table_k = 50
    folds = 5                      # repeated stratified cross-validation over the labelled target
    repeats = 1
    steps = 300                    # fine-tuning steps per K and fold
    baselines = true               # from scratch and statistics on the same K labels (first seed)

Each run is scored on the held-out source test split and on the target (its test split, or
``target_evaluation``); target labels never reach training or checkpoint selection. The result
is an :class:`~galmerge.runs.ExperimentRecord` (``experiment.json``), its tables
(``table.md``, ``table.csv``) and figures, and the report (:func:`galmerge.report.write_report`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from galmerge.errors import ConfigError
from galmerge.runs import Evaluation, ExperimentRecord, MethodResult, Run, SeedSummary, new_output_folder
from galmerge.runs.records import TABLE_METRICS
from galmerge.tomlfiles import read_toml

__all__ = ["ExperimentConfig", "run_experiment", "DEFAULT_METHODS", "BASELINE_ROWS", "TABLE_METRICS", "gap_closure"]

# Classical baselines an experiment can add as rows (``baselines = [...]``), by their row names.
BASELINE_ROWS = {"statistics": "image statistics LR", "nonparametric": "CAS+Gini-M20 RF"}
DEFAULT_METHODS = {
    "noDA": {"method": "none"},
    "MMD": {"method": "mmd"},
    "MMD+Fisher+entropy": {"method": "mmd", "fisher": True, "entropy": True},
    "DANN": {"method": "dann"},
    "DANN+Fisher+entropy": {"method": "dann", "fisher": True, "entropy": True},
}


@dataclass
class ExperimentConfig:
    """A protocol (see the module docstring)."""

    name: str = "experiment"
    seeds: list = field(default_factory=lambda: [0])
    source: str | None = None
    target: str | None = None
    target_evaluation: str | None = None
    target_evaluation_part: str = "all"
    benchmark: str | None = None
    benchmark_n: int = 4000
    train: dict = field(default_factory=dict)
    methods: dict = field(default_factory=lambda: dict(DEFAULT_METHODS))
    finetune: dict | None = None
    tsne_per_domain: int = 400
    baselines: list = field(default_factory=list)
    base_dir: str = "."

    @classmethod
    def from_toml(cls, path) -> "ExperimentConfig":
        path = Path(path)
        values = read_toml(path, what="experiment file")
        data = values.pop("data", {})
        known = {"name", "seeds", "train", "methods", "finetune", "tsne_per_domain", "baselines"}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)}")
        config = cls(
            **values,
            source=data.get("source"),
            target=data.get("target"),
            target_evaluation=data.get("target_evaluation"),
            target_evaluation_part=data.get("target_evaluation_part", "all"),
            benchmark=data.get("benchmark"),
            benchmark_n=int(data.get("n", 4000)),
            base_dir=str(path.parent),
        )
        config.validate()
        return config

    def train_config(self, name: str, *, seed: int):
        """The TrainConfig of one method and seed: the shared ``[train]`` options, then the method's."""
        from galmerge.training.config import TrainConfig

        return TrainConfig.from_dict({**self.train, **self.methods[name], "seed": seed}, source=f"method {name}")

    def validate(self) -> None:
        if self.target_evaluation_part not in ("all", "choose", "report"):
            raise ConfigError(f"target_evaluation_part must be all, choose or report, got {self.target_evaluation_part!r}")
        if not (self.benchmark or (self.source and self.target)):
            raise ConfigError("an experiment needs [data] benchmark = NAME, or source and target files")
        if not self.methods:
            raise ConfigError("an experiment needs at least one method")
        configs = {name: self.train_config(name, seed=0) for name in self.methods}  # raises on bad options
        unknown = sorted(set(self.baselines) - set(BASELINE_ROWS))
        if unknown:
            raise ConfigError(f"unknown baseline(s) {', '.join(unknown)}; known: {', '.join(BASELINE_ROWS)}")
        if not any(config.adaptation.method == "none" for config in configs.values()):
            raise ConfigError('an experiment needs a method without adaptation (method = "none") as the reference')

    def resolve(self, path: str | None) -> str | None:
        if path is None or "," in path or Path(path).is_absolute():
            return path
        return str(Path(self.base_dir) / path)


def _data_files(config: ExperimentConfig, out: Path, *, workers, progress) -> dict:
    if config.source and config.target:
        files = {"source": config.resolve(config.source), "target": config.resolve(config.target), "evaluation": config.resolve(config.target_evaluation)}
    else:
        from galmerge.mocks.benchmarks import make_benchmark

        if config.benchmark is None:
            raise ConfigError("an experiment needs [data] benchmark = NAME, or source and target files")
        manifest = make_benchmark(config.benchmark, out / "data", n=config.benchmark_n, seed=0, workers=workers, progress=progress)
        if config.benchmark == "sim2real-sdss":
            real = manifest.get("real_files")
            if not real:
                raise ConfigError(f"sim2real-sdss needs the real SDSS images: {manifest['real_data']}")
            files = {"source": manifest["files"]["source"], "target": real["target"], "evaluation": real["evaluation"]}
        else:
            files = {"source": manifest["files"]["source"], "target": manifest["files"]["target"], "evaluation": None}
    if files["evaluation"] and config.target_evaluation_part != "all":
        size = config.train_config(next(iter(config.methods)), seed=0).loading_size
        files["evaluation"] = _evaluation_part(files["evaluation"], config.target_evaluation_part, out / "data", size=size, progress=progress)
    return files


def _evaluation_part(data: str, part: str, folder: Path, *, size: int, progress: bool) -> str:
    """The choosing or reporting part of a labelled real set, written as an ImageSet file."""
    from galmerge.data.sources import load_imageset
    from galmerge.data.splits import choosing_part

    imageset = load_imageset(data, size=size, progress=progress)
    chosen = choosing_part(imageset.ids)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"evaluation_{part}.h5"
    imageset[chosen if part == "choose" else ~chosen].save(path, overwrite=True)
    return str(path)


def run_experiment(config, out=None, *, overwrite: bool = False, workers: int | None = None, progress: bool = True, report: bool = True) -> ExperimentRecord:
    """Run a protocol and write its table, figures and (unless ``report=False``) report into a new folder ``out``.

    Returns the :class:`~galmerge.runs.ExperimentRecord` (also ``experiment.json``): per method
    the per-seed evaluations and their mean and standard deviation over seeds, the gap-closure
    ratio, per-epoch time and proxy A-distance. ``out`` defaults to a new
    ``runs/experiment-<name>``; ``overwrite`` replaces an earlier experiment folder.
    """
    from galmerge.pipeline.training import train_and_evaluate

    config = config if isinstance(config, ExperimentConfig) else ExperimentConfig.from_toml(config)
    config.validate()
    out = new_output_folder(out, kind="experiment", default=Path("runs") / f"experiment-{config.name}", overwrite=overwrite)
    files = _data_files(config, out, workers=workers, progress=progress)
    record = ExperimentRecord(name=config.name, seeds=list(config.seeds), files=files)
    for name, options in config.methods.items():
        results = []
        for seed in config.seeds:
            train_config = config.train_config(name, seed=seed)
            run = train_and_evaluate(files["source"], target=files["target"], config=train_config, out=out / "runs" / _slug(name) / f"seed{seed}", progress=progress)
            results.append(_score_run(run, files, progress=progress))
            record.description = record.description or _description(config, run)
        record.methods[name] = MethodResult(options=options, runs=results, summary=_summarise(results))
    _finetuned_rows(config, record, files, out, progress=progress)
    for kind in config.baselines:
        record.methods[BASELINE_ROWS[kind]] = _baseline_row(config, files, kind=kind, workers=workers, progress=progress, folder=out / "baselines" / kind)
    gap_closure(record)
    _paired_comparisons(record, files)
    _figures(config, record, files, out)
    _write_tables(record, out)
    record.write(out / ExperimentRecord.FILENAME)
    if report:
        from galmerge.report import write_report

        record.report = str(write_report(out))
        record.write(out / ExperimentRecord.FILENAME)
    return record


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


def _description(config: ExperimentConfig, run) -> dict:
    """What a reader of the report needs to know about the runs: model, data sizes, shared options."""
    return {
        "model": run.config.model.architecture,
        "epochs": run.config.optimisation.epochs,
        "train": dict(config.train),
        "benchmark": config.benchmark,
        "n_images": dict(run.record.n_images) if run.record else {},
    }


def _score_run(run, files: dict, *, progress: bool) -> dict:
    from galmerge.pipeline.evaluate import evaluate_run

    record = run.record
    result = {"run_dir": str(run.run_dir), "source": record.test, "epoch_time_s": record.epoch_time_s_median}
    if files.get("evaluation"):
        result["target"] = evaluate_run(run.run, files["evaluation"], out=run.run.evaluations / "target_evaluation", progress=progress)
    elif record.target_test is not None:
        result["target"] = record.target_test
    return result


def _summarise(results: list[dict]) -> dict[str, SeedSummary]:
    summary = {}
    for domain in ("source", "target"):
        for metric in TABLE_METRICS:
            evaluations: list[Evaluation] = [r[domain] for r in results if r.get(domain) is not None]
            if evaluations:
                summary[f"{domain}_{metric}"] = SeedSummary.of(e.metric(metric).value for e in evaluations)
    summary["epoch_time_s"] = SeedSummary.of(r["epoch_time_s"] for r in results)
    return summary


def gap_closure(record: ExperimentRecord) -> None:
    """(AUC_target,DA - AUC_target,noDA) / (AUC_source,noDA - AUC_target,noDA) for every method, in place."""
    reference = next(name for name, m in record.methods.items() if m.options.get("method") == "none" and not m.is_finetuned)
    base = record.methods[reference].summary
    source_auc, target_auc = (base[key].mean if key in base else None for key in ("source_roc_auc", "target_roc_auc"))
    if source_auc is None or target_auc is None:
        return
    gap = source_auc - target_auc
    record.reference = reference
    record.domain_gap_roc_auc = gap
    for method in record.methods.values():
        target = method.summary.get("target_roc_auc")
        # Fine-tuned rows are scored on the target images left after drawing their label pool, not
        # on the reference's set: their gain is read from the K = 0 point of their own curve instead.
        if target is None or target.mean is None or gap <= 0 or method.is_finetuned:
            method.gap_closure = None
        else:
            method.gap_closure = (target.mean - target_auc) / gap


def _baseline_row(config: ExperimentConfig, files, *, kind: str, workers, progress, folder: Path | None = None) -> MethodResult:
    """A classical baseline (:data:`BASELINE_ROWS`) scored like a CNN row: trained on the source
    training split of the first seed, scored on the same source test split and target images as
    the networks; with ``folder``, their predictions are written there as a run's are."""
    from galmerge.data.sources import load_imageset
    from galmerge.data.splits import stratified_split
    from galmerge.evaluation.metrics import score_predictions
    from galmerge.morphology.baseline import baseline_probabilities, statistics_probabilities
    from galmerge.pipeline.training import write_predictions
    from galmerge.training.config import TrainConfig

    seed = config.seeds[0]
    fractions = TrainConfig.from_dict(dict(config.train), source="[train]").data.split
    source = load_imageset(files["source"], progress=False)
    labels = source.require_both_classes(purpose=f"the {BASELINE_ROWS[kind]} baseline")
    groups = np.asarray(source.meta["group"]) if "group" in source.meta.colnames else None
    split = stratified_split(labels, fractions=fractions, seed=seed, groups=groups)
    target = load_imageset(files.get("evaluation") or files["target"], progress=False)
    if not files.get("evaluation"):  # the networks are scored on the target's own test split
        target_groups = np.asarray(target.meta["group"]) if "group" in target.meta.colnames else None
        target = target[stratified_split(None, n_images=len(target), fractions=fractions, seed=seed, groups=target_groups).test]
    scored = {"source": source[split.test], "target": target}
    if kind == "nonparametric":
        p_merger = baseline_probabilities(source[split.train], labels[split.train], scored, workers=workers, seed=seed, progress=progress)
    else:
        p_merger = statistics_probabilities(source[split.train], labels[split.train], scored)
    scores: dict = {"source": score_predictions(labels[split.test], p_merger["source"], seed=seed), "epoch_time_s": None, "predictions": {}}
    if folder is not None:  # the same tables as a run's, for the figures and the paired comparisons
        folder.mkdir(parents=True, exist_ok=True)
        for domain, images in scored.items():
            if images.labels is not None:
                scores["predictions"][domain] = str(folder / f"{domain}_predictions.ecsv")
                write_predictions(scores["predictions"][domain], images.ids, images.labels, p_merger[domain])
    if target.labels is not None and target.labels.min() != target.labels.max():
        scores["target"] = score_predictions(target.labels, p_merger["target"], seed=seed)
    return MethodResult(options={"baseline": kind}, runs=[scores], summary=_summarise([scores]))


def _prediction_file(result: dict, domain: str, files) -> Path | None:
    """The predictions table of one row's run (or baseline) on the ``source`` test split or the ``target`` images it was scored on."""
    if "run_dir" not in result:  # a baseline row
        path = result.get("predictions", {}).get(domain)
        return Path(path) if path else None
    run = Run(result["run_dir"])
    if domain == "source":
        return run.predictions("test")
    return run.evaluations / "target_evaluation" / Evaluation.PREDICTIONS if files.get("evaluation") else run.predictions("target_test")


def _seed_mean_target_predictions(method: MethodResult, files) -> tuple[np.ndarray, np.ndarray] | None:
    """Labels and seed-averaged p(merger) of a method's runs on the target images it was scored on."""
    from galmerge.pipeline.training import predictions_of

    arrays = []
    for result in method.runs:
        path = _prediction_file(result, "target", files)
        if path is None or not path.exists():
            return None
        arrays.append(predictions_of(path))
    if not arrays or any(len(a[0]) != len(arrays[0][0]) or not np.array_equal(a[0], arrays[0][0]) for a in arrays):
        return None  # not the same images in every seed (a target test split depends on the seed)
    return arrays[0][0], np.mean([a[1] for a in arrays], axis=0)


def _paired_comparisons(record: ExperimentRecord, files) -> None:
    """Target ROC-AUC of every trained method minus the reference's, paired on the same images."""
    from galmerge.evaluation.compare import paired_bootstrap
    from galmerge.runs.records import PairedComparison

    if record.reference is None:
        return
    reference = _seed_mean_target_predictions(record.methods[record.reference], files)
    if reference is None:
        return
    for name, method in record.methods.items():
        if name == record.reference or method.is_finetuned or not method.runs:
            continue
        other = _seed_mean_target_predictions(method, files)
        if other is None or not np.array_equal(other[0], reference[0]) or other[0].min() == other[0].max():
            continue
        diff = paired_bootstrap(reference[0], other[1], reference[1], n_bootstrap=2000)
        record.comparisons.append(PairedComparison(name, record.reference, diff.difference, diff.ci95, diff.p_value))


def _finetuned_rows(config: ExperimentConfig, record: ExperimentRecord, files, out, *, progress):
    if not config.finetune:
        return
    from galmerge.pipeline.finetuning import RUN_METHOD, finetune_curve
    from galmerge.training.config import FinetuneOptions

    labelled = files.get("evaluation") or files["target"]
    k_table = int(config.finetune.get("table_k", 50))
    n_labels = sorted({0, k_table, *config.finetune.get("n_labels", [0, 10, 25, 50, 100])})
    baselines = bool(config.finetune.get("baselines", True))
    for name in config.finetune.get("methods", []):
        if name not in record.methods:
            raise ConfigError(f"[finetune] names method {name!r}, which the experiment does not run")
        curves = []
        for index, run in enumerate(record.methods[name].runs):
            curves.append(
                finetune_curve(
                    run["run_dir"],
                    labelled,
                    n_labels=n_labels,
                    baselines=baselines and index == 0,
                    n_folds=int(config.finetune.get("folds", 5)),
                    n_repeats=int(config.finetune.get("repeats", 1)),
                    options=FinetuneOptions(steps=int(config.finetune.get("steps", 300))),
                    out=out / "finetune" / _slug(name) / Path(run["run_dir"]).name,
                    progress=progress,
                )
            )
        record.finetune[name] = curves
        # Rows scored out of fold on the whole labelled survey set: the run adapted with AdaBN
        # only (K = 0) and fine-tuned with K labels; the baselines on the same K labels alone, or,
        # for a baseline that also learns from the mocks (scored at K = 0), with none and with K.
        rows = [(RUN_METHOD, 0, f"{name}, AdaBN only, cross-validated (K=0)"), (RUN_METHOD, k_table, f"{name} + fine-tuned (K={k_table})")]
        for other, by_k in curves[0].methods.items():
            if other != RUN_METHOD and 0 in by_k:
                rows += [(other, 0, f"{other}, no labels"), (other, k_table, f"{other} + K={k_table} labels")]
            elif other != RUN_METHOD:
                rows.append((other, k_table, f"{other}, K={k_table} labels only"))
        for method, k, row in rows:
            points = [c.methods[method][k] for c in curves if k in c.methods.get(method, {})]
            summary = {f"target_{metric}": SeedSummary.of(getattr(p, metric).value for p in points) for metric in ("roc_auc", "pr_auc")}
            record.methods.setdefault(row, MethodResult(options={"finetune_k": k, "from": name}, summary=summary))


def _figures(config: ExperimentConfig, record: ExperimentRecord, files, out: Path) -> None:
    from galmerge.adapt.selection import proxy_a_distance
    from galmerge.data.sources import load_imageset
    from galmerge.evaluation.embedding import extract_features, plot_embedding, tsne
    from galmerge.evaluation.figures import plot_precision_recall, plot_roc
    from galmerge.models import TrainedModel
    from galmerge.pipeline.training import predictions_of

    figures = out / "figures"
    curves: dict[str, dict] = {"source": {}, "target": {}}
    source = load_imageset(files["source"], progress=False)
    target = load_imageset(files.get("evaluation") or files["target"], progress=False)
    rng = np.random.default_rng(0)
    for name, method in record.methods.items():
        if not method.runs:
            continue
        for domain in ("source", "target"):
            path = _prediction_file(method.runs[0], domain, files)
            if path is not None and path.exists():
                curves[domain][name] = predictions_of(path)
        if method.first_run_dir is None:  # a baseline: no network features
            continue
        run = Run(method.first_run_dir)
        trained = TrainedModel.load(run.path)
        split = run.split_arrays()
        source_rows = rng.permutation(split["test"])[: config.tsne_per_domain]
        target_rows = rng.permutation(split["target_test"] if "target_test" in split and not files.get("evaluation") else np.arange(len(target)))[: config.tsne_per_domain]
        features_s = extract_features(trained, source.images, rows=source_rows)
        features_t = extract_features(trained, target.images, rows=target_rows)
        method.a_distance = proxy_a_distance(features_s, features_t)
        if target.labels is not None:
            points = tsne(np.concatenate([features_s, features_t]))
            labels = np.concatenate([source.require_labels(purpose="the t-SNE figure")[source_rows], target.labels[target_rows]])
            domains = np.r_[np.zeros(len(source_rows)), np.ones(len(target_rows))]
            plot_embedding(points, labels, domains, figures / f"tsne_{_slug(name)}.png", title=f"t-SNE of features: {name}")
    for domain, domain_curves in curves.items():
        if domain_curves:
            plot_roc(domain_curves, figures / f"roc_{domain}.png", title=f"ROC curves, {domain} domain (seed {config.seeds[0]})")
            plot_precision_recall(domain_curves, figures / f"pr_{domain}.png", title=f"Precision-recall, {domain} domain (seed {config.seeds[0]})")


def _write_tables(record: ExperimentRecord, out: Path) -> None:
    header, rows = record.table("all")
    with open(out / "table.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(row) + " |" for row in rows]
    (out / "table.md").write_text("\n".join(lines) + "\n")
