"""Orchestration above the stages: what each ``galmerge`` command does, from data to saved records.

The stages below (training, evaluation, catalog, explain) each do one thing and never call each
other; the functions here chain them:

- :func:`train_and_evaluate` (``galmerge train``): train, then score the test splits;
- :func:`evaluate_run` (``galmerge evaluate``): a run on new labelled data;
- :func:`finetune_curve` (``galmerge finetune``): target scores against the number of labels;
- :func:`run_experiment` (``galmerge experiment``): methods x seeds, the table, the report;
- :func:`run_demo` (``galmerge demo``): a reduced sim2sim experiment with its report;
- :func:`write_mock_set`, :func:`write_observed_fits` (``galmerge mock``, ``galmerge observe``);
- :func:`adapt_run_to_survey` (``galmerge adapt-bn``): AdaBN statistics of a new survey for a run.

Names are imported on first use, so ``galmerge --help`` stays fast.
"""

from galmerge import lazy_exports

_LAZY = {
    "train_and_evaluate": "galmerge.pipeline.training",
    "evaluate_training": "galmerge.pipeline.training",
    "evaluate_run": "galmerge.pipeline.evaluate",
    "finetune_curve": "galmerge.pipeline.finetuning",
    "ExperimentConfig": "galmerge.pipeline.experiment",
    "run_experiment": "galmerge.pipeline.experiment",
    "run_demo": "galmerge.pipeline.demo",
    "write_mock_set": "galmerge.pipeline.mock_files",
    "write_observed_fits": "galmerge.pipeline.mock_files",
    "adapt_run_to_survey": "galmerge.pipeline.adapt",
    "adapted_model": "galmerge.pipeline.adapt",
}

__getattr__, __all__ = lazy_exports(__name__, _LAZY)
