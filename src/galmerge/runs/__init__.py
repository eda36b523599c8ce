"""Run directories and what is saved in them: paths, the images a run used, the output policy, typed records.

- :class:`Run`: every path of a run directory; :meth:`Run.create`, :meth:`Run.open`.
- :func:`images_not_used`: the one rule for the images a run trained or selected on.
- :func:`new_output_folder`, :func:`output_file`: the one output policy (new by default,
  ``overwrite`` only over galmerge's own outputs).
- :mod:`galmerge.runs.records`: typed results (:class:`Score`, :class:`Evaluation`,
  :class:`RunRecord`, :class:`FinetuneCurve`, :class:`ExperimentRecord`, :class:`Explanation`).
"""

from galmerge.runs.outputs import first_free_path, new_output_folder, output_file
from galmerge.runs.records import (
    Evaluation,
    ExperimentRecord,
    Explanation,
    FinetuneCurve,
    FinetunePoint,
    MethodResult,
    PairedComparison,
    RunRecord,
    Score,
    SeedSummary,
    ThresholdScores,
)
from galmerge.runs.run import Run, data_name, images_not_used

__all__ = [
    "Evaluation",
    "ExperimentRecord",
    "Explanation",
    "FinetuneCurve",
    "FinetunePoint",
    "MethodResult",
    "PairedComparison",
    "Run",
    "RunRecord",
    "Score",
    "SeedSummary",
    "ThresholdScores",
    "data_name",
    "first_free_path",
    "images_not_used",
    "new_output_folder",
    "output_file",
]
