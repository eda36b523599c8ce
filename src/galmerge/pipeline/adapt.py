"""``galmerge adapt-bn`` and ``galmerge pretrain``: a run's BatchNorm statistics for a new survey, and a network pretrained on one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from galmerge.data.sources import as_imageset
from galmerge.errors import OutputExistsError
from galmerge.models.trained import TrainedModel
from galmerge.runs import Run

__all__ = ["SurveyAdaptation", "adapt_run_to_survey", "adapted_model"]


@dataclass(frozen=True)
class SurveyAdaptation:
    """What :func:`adapt_run_to_survey` did.

    Attributes
    ----------
    model_path : Path
        The model file now predicting with the new statistics.
    domain : str
        Name of the BatchNorm domain that holds them.
    domains : tuple of str
        All domains of the model (the earlier ones are kept: ``--domain`` of a later call can
        switch back).
    n_images : int
        Unlabelled images the statistics were computed on.
    source : str
    """

    model_path: Path
    domain: str
    domains: tuple[str, ...]
    n_images: int
    source: str

    def summary(self) -> str:
        return f"{self.model_path}: predicts with BatchNorm domain {self.domain!r} ({self.n_images} images of {self.source}); domains {', '.join(self.domains)}"


def adapted_model(run, images, *, domain: str = "survey", progress: bool = True) -> TrainedModel:
    """A run's model with AdaBN statistics of ``images`` (unlabelled; labels are ignored), in memory."""
    trained = TrainedModel.load(Run.open(run).path if Path(run).is_dir() else run)
    imageset = as_imageset(images, size=trained.spec.loading_size, progress=progress)
    trained.adapt_to_survey(imageset, domain=domain, progress=progress)
    return trained


def adapt_run_to_survey(run, images, *, domain: str = "survey", overwrite: bool = False, progress: bool = True) -> SurveyAdaptation:
    """AdaBN for a run: recompute its BatchNorm statistics on a survey's unlabelled images and keep them in the run's model.

    The run's model file gains a BatchNorm domain ``domain`` with the survey's statistics and
    predicts with it from then on (``galmerge evaluate`` and ``galmerge predict`` need no option);
    its other domains stay in the file. A domain of that name already in the model is replaced
    only with ``overwrite``.
    """
    run = Run.open(run)
    trained = TrainedModel.load(run.path)
    if domain in trained.spec.batchnorm_domains and not overwrite:
        raise OutputExistsError(f"{run.model}: already has a BatchNorm domain {domain!r}; choose another --domain or pass --overwrite")
    imageset = as_imageset(images, size=trained.spec.loading_size, progress=progress)
    used = trained.adapt_to_survey(imageset, domain=domain, progress=progress)
    trained.save(run.model)
    return SurveyAdaptation(run.model, domain, tuple(trained.spec.batchnorm_domains), used, str(imageset.source))
