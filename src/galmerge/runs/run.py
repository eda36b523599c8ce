"""A run directory as an object: every path in it, the images it used, how it is made and reopened.

A run directory is galmerge's central output. Training writes it; evaluation, interpretation,
fine-tuning, prediction, experiments and the report read it. None of them spells a file name:
they ask a :class:`Run`.

::

    <run>/
      .galmerge-run              marker: this folder is a galmerge run
      config.toml                the resolved configuration and a [run] table of provenance
      model.safetensors          the chosen checkpoint, its preprocessing and thresholds
      preprocessing.json         normalisation fitted on the training split
      split.npz                  split indices and content hashes of the images
      history.csv                one row per epoch
      metrics.json               validation and test scores (a RunRecord)
      test_predictions.ecsv      id, label and p(merger) of the source test split
      target_test_predictions.ecsv
      figures/  figures/target/  evaluation figures of the test splits
      checkpoints/last.ckpt      for --resume
      evaluations/<data>/        galmerge evaluate
      explain/<data>/            galmerge explain
      finetune/                  galmerge finetune
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np

from galmerge.errors import CheckpointError, DataError
from galmerge.runs.outputs import is_output_of_kind, marker_name, new_output_folder
from galmerge.tomlfiles import read_toml

__all__ = ["Run", "images_not_used", "data_name"]

_USED_HASHES = ("train_hashes", "val_hashes", "target_train_hashes", "target_val_hashes")


def data_name(data) -> str:
    """A short, file-safe name for a data argument or ImageSet source (``gz1.h5`` -> ``gz1``)."""
    text = str(getattr(data, "source", data))
    stem = Path(text.split(",")[0]).stem
    return re.sub(r"[^\w.-]+", "_", stem).strip("_") or "data"


class Run:
    """A galmerge run directory.

    Parameters
    ----------
    path : path
        The directory (it need not exist yet; see :meth:`create` and :meth:`open`).
    """

    KIND = "run"
    MODEL_FILENAME = "model.safetensors"

    def __init__(self, path):
        self.path = Path(path)

    def __fspath__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Run) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    # ------------------------------------------------------------------ the files
    @property
    def marker(self) -> Path:
        return self.path / marker_name(self.KIND)

    @property
    def config(self) -> Path:
        return self.path / "config.toml"

    @property
    def model(self) -> Path:
        return self.path / self.MODEL_FILENAME

    @property
    def preprocessing(self) -> Path:
        return self.path / "preprocessing.json"

    @property
    def split(self) -> Path:
        return self.path / "split.npz"

    @property
    def history(self) -> Path:
        return self.path / "history.csv"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.json"

    @property
    def statistics_model(self) -> Path:
        """The statistics classifier fitted beside the network (``p_merger_statistics`` in catalogs)."""
        return self.path / "statistics_model.json"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / "last.ckpt"

    def predictions(self, part: str = "test") -> Path:
        """Predictions of a test split: ``test`` (source) or ``target_test``."""
        return self.path / f"{part}_predictions.ecsv"

    def figures(self, part: str = "test") -> Path:
        """Evaluation figures of a test split: ``figures/`` (source) or ``figures/target/``."""
        return self.path / "figures" if part == "test" else self.path / "figures" / "target"

    @property
    def evaluations(self) -> Path:
        return self.path / "evaluations"

    @property
    def explanations(self) -> Path:
        return self.path / "explain"

    @property
    def finetunes(self) -> Path:
        return self.path / "finetune"

    # ------------------------------------------------------------------ making and opening
    @classmethod
    def create(cls, out=None, *, name: str = "run", overwrite: bool = False, root="runs") -> "Run":
        """A fresh run directory: ``out``, or ``<root>/<YYYYmmdd-HHMMSS>-<name>`` (see :func:`new_output_folder`)."""
        default = Path(root) / f"{time.strftime('%Y%m%d-%H%M%S')}-{name}"
        return cls(new_output_folder(out, kind=cls.KIND, default=default, overwrite=overwrite, what="galmerge run directory"))

    @classmethod
    def is_run(cls, path) -> bool:
        path = Path(path)
        return path.is_dir() and is_output_of_kind(path, cls.KIND) and (path / "config.toml").exists()

    @classmethod
    def open(cls, path) -> "Run":
        """An existing (finished or resumable) run directory; CheckpointError when ``path`` is none."""
        path = Path(path)
        if not path.is_dir():
            raise CheckpointError(f"{path}: no such run directory")
        if not cls.is_run(path):
            raise CheckpointError(f"{path}: not a galmerge run directory (no {marker_name(cls.KIND)} and config.toml)")
        return cls(path)

    def model_file(self) -> Path:
        """The model file, or CheckpointError when the run has none (yet)."""
        if not self.model.exists():
            raise CheckpointError(f"{self.model}: no such model file (a run directory holds {self.MODEL_FILENAME})")
        return self.model

    # ------------------------------------------------------------------ what it recorded
    def read_config(self) -> tuple[dict, dict]:
        """The configuration values and the provenance (``[run]`` table: data, target, versions) of ``config.toml``."""
        values = read_toml(self.config)
        provenance = values.pop("run", {})
        return values, provenance

    def write_config(self, values: dict, provenance: dict | None = None) -> None:
        import tomli_w

        table = dict(values)
        if provenance:
            table["run"] = {k: v for k, v in provenance.items() if v is not None}
        self.config.write_text(tomli_w.dumps(table))

    def save_split(self, split, **arrays) -> None:
        """Write the split's indices with any extra arrays (content hashes, target split, fingerprint)."""
        split.save(self.split, **arrays)

    def load_split(self):
        from galmerge.data.splits import Split

        return Split.load(self.split)

    def split_arrays(self) -> dict[str, np.ndarray]:
        """Every array of ``split.npz`` (indices, hashes, target split, fingerprint)."""
        try:
            with np.load(self.split, allow_pickle=False) as data:
                return {name: data[name] for name in data.files}
        except (OSError, ValueError) as error:
            raise CheckpointError(f"{self.split}: not a readable split file ({error})") from None

    def used_image_hashes(self) -> np.ndarray:
        """Content hashes of every image the run trained on or chose its checkpoint with (target images included)."""
        arrays = self.split_arrays()
        return np.concatenate([arrays[name] for name in _USED_HASHES if name in arrays] or [np.zeros(0, np.uint64)])

    def read_record(self):
        """``metrics.json`` as a :class:`~galmerge.runs.records.RunRecord`."""
        from galmerge.runs.records import RunRecord

        return RunRecord.read(self.metrics)

    # ------------------------------------------------------------------ outputs made from a run
    def new_evaluation_folder(self, data, *, out=None, overwrite: bool = False) -> Path:
        return new_output_folder(out, kind="evaluation", default=self.evaluations / data_name(data), overwrite=overwrite)

    def new_explanation_folder(self, data, *, out=None, overwrite: bool = False) -> Path:
        return new_output_folder(out, kind="explanation", default=self.explanations / data_name(data), overwrite=overwrite)

    def new_finetune_folder(self, *, out=None, overwrite: bool = False) -> Path:
        return new_output_folder(out, kind="finetune", default=self.finetunes, overwrite=overwrite)


def images_not_used(model_path, imageset, *, purpose: str) -> tuple[np.ndarray, int]:
    """The one rule for "the images this run used": rows of ``imageset`` it neither trained nor selected on.

    Images are recognised by content (:meth:`~galmerge.data.ImageSet.image_hashes`), whatever file
    they come from. A bare model file carries no split, so every row is kept.

    Returns
    -------
    rows : ndarray of int64
        The rows that may be used for ``purpose`` (evaluation, interpretation, fine-tuning).
    n_excluded : int

    Raises
    ------
    DataError
        Every image was used by the run.
    """
    path = Path(model_path)
    if not (Run.is_run(path) and Run(path).split.exists()):
        return np.arange(len(imageset), dtype=np.int64), 0
    used = np.isin(imageset.image_hashes(), Run(path).used_image_hashes())
    if len(used) and used.all():
        raise DataError(f"{imageset.source}: every image was used to train or validate {path}; nothing left for {purpose}")
    return np.flatnonzero(~used).astype(np.int64), int(used.sum())
