"""The trained models behind a survey catalog, and the one place the catalog calls them.

:func:`member_outputs` is the single adapter between the survey catalog and galmerge's models
(``TrainedModel`` and the prediction backends): everything else in the catalog works on the
arrays it returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from galmerge.errors import ConfigError
from galmerge.runs import Run

if TYPE_CHECKING:
    from galmerge.data.imageset import ImageSet
    from galmerge.data.splits import Split
    from galmerge.models.statistics_classifier import StatisticsMergerClassifier
    from galmerge.models.trained import TrainedModel

__all__ = ["Member", "load_member", "member_outputs", "statistics_probabilities", "training_prior", "fit_ood_reference"]

_OOD_FIT_IMAGES = 4000
_OOD_HELD_OUT_IMAGES = 2000


@dataclass
class Member:
    """One model of a catalog (several make an ensemble)."""

    path: Path  # the model file
    trained: TrainedModel
    sha256: str
    runner: Any  # a backend from galmerge.catalog.backends.make_backend (TorchBackend or OnnxBackend)
    statistics: StatisticsMergerClassifier | None = None  # the run's statistics classifier, when it has one
    statistics_record: dict | None = None  # how it was trained and scored, and its file's sha256

    @property
    def run(self) -> Run | None:
        """The run directory the model file sits in, or None for a bare model file."""
        folder = self.path.parent
        return Run(folder) if Run.is_run(folder) else None


def load_member(run, *, backend: str, device: str = "auto") -> Member:
    from galmerge.catalog.backends import make_backend
    from galmerge.catalog.export import model_file_sha256
    from galmerge.models.trained import TrainedModel, model_file_path

    path = model_file_path(run)
    trained = TrainedModel.load(path)
    spec = trained.spec
    runner = make_backend(trained.model, backend=backend, device=device, input_shape=(spec.in_bands, spec.input_size, spec.input_size))
    member = Member(path=path, trained=trained, sha256=model_file_sha256(path), runner=runner)
    run_folder = member.run
    if run_folder is not None and run_folder.statistics_model.exists():
        from galmerge.models.statistics_classifier import load_statistics_model

        member.statistics, record = load_statistics_model(run_folder.statistics_model)
        member.statistics_record = {**record, "sha256": model_file_sha256(run_folder.statistics_model)}
    return member


def member_outputs(member: Member, images: np.ndarray, *, tta: bool, features: bool, batch_size: int, source: str) -> tuple[np.ndarray, np.ndarray | None]:
    """p(merger) of every view of every image, and the network features of the unrotated view.

    Returns
    -------
    views : ndarray (V, N)
        V = 8 dihedral views with ``tta``, else 1.
    features : ndarray (N, D) or None
    """
    from galmerge.data.transforms import DIHEDRAL_GROUP_SIZE, dihedral_element
    from galmerge.models.inference import softmax_merger

    member.trained.check_bands(images.shape[1], source=source)
    n_views = DIHEDRAL_GROUP_SIZE if tta else 1
    views = np.empty((n_views, len(images)))
    feature_rows = []
    for start in range(0, len(images), batch_size):
        batch = member.trained.preprocessor.transform(images[start : start + batch_size], source=source)
        stop = start + len(batch)
        if features:
            logits, batch_features = member.runner.outputs(batch)
            feature_rows.append(batch_features)
        else:
            logits = member.runner.logits(batch)
        views[0, start:stop] = softmax_merger(logits)
        for element in range(1, n_views):
            views[element, start:stop] = softmax_merger(member.runner.logits(np.ascontiguousarray(dihedral_element(batch, element))))
    return views, (np.concatenate(feature_rows) if feature_rows else None)


def statistics_probabilities(members, images: np.ndarray) -> list[np.ndarray]:
    """p(merger) of each member's statistics classifier (members without one are skipped), on the prior it was trained with.

    The images come from a catalog input's reader, which has filled their non-finite pixels.
    The image statistics, the costly part, are measured once for all members that use the same
    statistics at the same stamp side (an ensemble of runs).
    """
    measured: dict[tuple, np.ndarray] = {}
    probabilities = []
    for member in members:
        model = member.statistics
        if model is None:
            continue
        key = (model.names, model.image_size)
        if key not in measured:
            measured[key] = model.statistics(images)
        probabilities.append(model.predict_proba_statistics(measured[key]))
    return probabilities


def training_prior(member: Member) -> tuple[float, str]:
    """The merger fraction the model's probabilities assume, and how it is known."""
    run = member.run
    if run is None:
        return 0.5, "assumed: a model file without its run directory (balanced training, as for mocks)"
    values, provenance = run.read_config()
    if _class_weighting(values) == "balanced":
        return 0.5, "balanced class weights in training"
    imageset, split = _training_data(run, values, provenance, member)
    if imageset is None or split is None or imageset.labels is None:
        raise ConfigError(f"{run.path}: trained without class weights, and its training data ({provenance.get('data')}) are not readable to tell their merger fraction")
    return float(imageset.labels[split.train].mean()), "merger fraction of the training split"


def _class_weighting(values: dict) -> str:
    """The run's ``class_weighting``: nested under ``[optimisation]`` in config.toml (flat in older runs)."""
    section = values.get("optimisation", {})
    return str(section.get("class_weighting", values.get("class_weighting", "balanced")))


def _training_data(run: Run, values: dict, provenance: dict, member: Member) -> tuple[ImageSet, Split] | tuple[None, None]:
    """(ImageSet, Split) the run trained on, or (None, None) when its data are no longer there."""
    from galmerge.data.sources import load_imageset
    from galmerge.errors import GalmergeError

    data = provenance.get("data")
    if data is None or not run.split.exists():
        return None, None
    seed = int(values.get("seed", 0))  # the built-in toy set is drawn from the run's seed
    try:
        imageset = load_imageset(data, size=member.trained.spec.loading_size, seed=seed, progress=False)
        split = run.load_split()
    except GalmergeError:
        return None, None
    return imageset, split


def fit_ood_reference(member: Member, *, batch_size: int = 512):
    """A :class:`FeatureDensity` of the run's training images, or (None, reason) when it cannot be made.

    Fitted on up to 4,000 images of the training split; its threshold is the 99th percentile
    over up to 2,000 images of the validation split (never used for fitting).
    """
    from galmerge.catalog.uncertainty import FeatureDensity

    run = member.run
    if run is None:
        return None, "a model file without its run directory: no training images to compare with"
    values, provenance = run.read_config()
    imageset, split = _training_data(run, values, provenance, member)
    if imageset is None or split is None:
        return None, f"the run's training data ({provenance.get('data')}) are not readable here"

    def features_of(rows, limit):
        rows = rows[np.linspace(0, len(rows) - 1, min(limit, len(rows))).astype(int)] if len(rows) else rows
        images = np.asarray(imageset.images[np.sort(rows)], dtype=np.float32)
        return member_outputs(member, images, tta=False, features=True, batch_size=batch_size, source=imageset.source)[1]

    try:
        density = FeatureDensity().fit(features_of(split.train, _OOD_FIT_IMAGES), held_out=features_of(split.val, _OOD_HELD_OUT_IMAGES))
    except ConfigError as error:
        return None, str(error)
    return density, f"Mahalanobis distance in {len(density.components_)} principal components of the features of {run.path}'s training split; threshold: 99th percentile of its validation split"
