"""A trained network with everything needed to apply it: bands, preprocessing, decision thresholds."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from galmerge.data.imageset import ImageSet
from galmerge.data.transforms import DIHEDRAL_GROUP_SIZE, Preprocessor, dihedral_element
from galmerge.errors import CheckpointError, ConfigError, ModelMismatchError
from galmerge.models.domain_bn import adapt_batchnorm, convert_to_domain_batchnorm, model_domains, set_domain
from galmerge.models.inference import TorchBackend, merger_probabilities
from galmerge.models.registry import build_model
from galmerge.runs import Run

__all__ = ["TrainedModel", "ModelSpec", "Prediction", "MODEL_FILENAME", "load_state_dict_file", "model_file_path", "read_model_file"]

MODEL_FILENAME = Run.MODEL_FILENAME
_METADATA_KEY = "galmerge"
_FORMAT_VERSION = 1


@dataclass
class ModelSpec:
    """What a saved model is and how to feed it.

    Attributes
    ----------
    architecture : str
        Registry name (``deepmerge``, ``resnet18``).
    in_bands, input_size, num_classes : int
    bands : list of str
        Band names of the training images, in order.
    preprocessing : dict
        :meth:`Preprocessor.to_dict` of the preprocessor fitted on the training split.
    thresholds : dict
        Decision thresholds on p(merger): ``{"default": 0.5, "target_recall": t}`` where ``t``
        was chosen on the validation split to reach ``target_recall``.
    target_recall : float
    pixel_scale_arcsec : float or None
        Pixel scale of the training images, when known.
    batchnorm_domains : list of str
        Domains of a network with domain-specific BatchNorm (:mod:`galmerge.models.domain_bn`);
        empty for plain BatchNorm.
    separate_affine : bool
        Whether those domains also have their own BatchNorm scale and shift.
    prediction_domain : str or None
        The domain whose statistics normalise images at prediction (``target`` after training
        with a target survey, or the survey named when :func:`adapt_to_survey` ran AdaBN).
    train_prior : float
        Merger fraction the posteriors carry (0.5 after class-balanced training).
    survey_prior : float or None
        Merger fraction of the survey the model was adapted to, estimated without labels
        (:mod:`galmerge.adapt.prior`), or given by the user.
    survey_prior_method : str or None
        ``em``, ``bbse`` or ``given``.
    """

    architecture: str
    in_bands: int
    input_size: int
    num_classes: int = 2
    bands: list = field(default_factory=list)
    preprocessing: dict = field(default_factory=dict)
    thresholds: dict = field(default_factory=lambda: {"default": 0.5})
    target_recall: float = 0.9
    pixel_scale_arcsec: float | None = None
    batchnorm_domains: list = field(default_factory=list)
    separate_affine: bool = False
    prediction_domain: str | None = None
    train_prior: float = 0.5
    survey_prior: float | None = None
    survey_prior_method: str | None = None
    format_version: int = _FORMAT_VERSION

    @property
    def loading_size(self) -> int:
        """Side at which per-object files (pictures, FITS) are read: the input size before cropping."""
        return int(math.ceil(self.input_size / self.preprocessing.get("crop_fraction", 1.0)))


@dataclass(frozen=True)
class Prediction:
    """Merger probabilities of a set of images.

    Attributes
    ----------
    p_merger : ndarray (N,)
        p(merger) of each image (with test-time augmentation: the mean over the 8 symmetries).
    p_merger_std : ndarray (N,) or None
        With test-time augmentation, the standard deviation over the 8 flips and rotations: a
        cheap measure of how stable the call is.
    """

    p_merger: np.ndarray
    p_merger_std: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.p_merger)

    def proba(self) -> np.ndarray:
        """(N, 2): p(non-merger), p(merger), as scikit-learn's ``predict_proba``."""
        return np.column_stack([1.0 - self.p_merger, self.p_merger])

    def calls(self, threshold: float = 0.5) -> np.ndarray:
        """Boolean merger calls ``p_merger >= threshold``."""
        return self.p_merger >= threshold


class TrainedModel:
    """A network in evaluation mode plus its preprocessing, loadable without executing code.

    Parameters
    ----------
    model : nn.Module
        Returns ``(features, logits)``.
    spec : ModelSpec
    """

    def __init__(self, model: nn.Module, spec: ModelSpec):
        self.model = model.eval()
        self.spec = spec
        self.preprocessor = Preprocessor.from_dict(spec.preprocessing)

    @property
    def bands(self) -> tuple[str, ...]:
        return tuple(self.spec.bands)

    def save(self, path) -> Path:
        """Write weights and spec to one safetensors file (the spec as JSON metadata)."""
        from safetensors.torch import save_file

        path = Path(path)
        state = {name: tensor.detach().cpu().contiguous() for name, tensor in self.model.state_dict().items()}
        save_file(state, str(path), metadata={_METADATA_KEY: json.dumps(asdict(self.spec))})
        return path

    @classmethod
    def load(cls, path, *, architecture: str | None = None, map_location: str = "cpu") -> "TrainedModel":
        """Load a model file, or the ``model.safetensors`` of a run directory.

        Parameters
        ----------
        path : path
            A ``.safetensors`` file written by :meth:`save`, or a run directory.
        architecture : str, optional
            Refuse a model of any other architecture.

        Raises
        ------
        CheckpointError
            Missing, corrupt or foreign files, and weights that do not fit the architecture.
        ModelMismatchError
            If ``architecture`` is given and the file holds another one.
        """
        path = model_file_path(path)
        spec, state = read_model_file(path)
        if architecture is not None and spec.architecture != architecture:
            raise ModelMismatchError(f"{path}: holds a {spec.architecture} model, not {architecture}")
        try:
            model = build_model(spec.architecture, in_bands=spec.in_bands, input_size=spec.input_size, num_classes=spec.num_classes)
            if spec.batchnorm_domains:
                convert_to_domain_batchnorm(model, domains=spec.batchnorm_domains, separate_affine=spec.separate_affine)
        except ConfigError as error:
            raise CheckpointError(f"{path}: {error}") from None
        _load_strict(model, state, path)
        if spec.prediction_domain is not None:
            if spec.prediction_domain not in spec.batchnorm_domains:
                raise CheckpointError(f"{path}: prediction domain {spec.prediction_domain!r} is not one of {spec.batchnorm_domains}")
            set_domain(model, spec.prediction_domain)
        return cls(model.to(map_location), spec)

    def adapt_to_survey(self, images, *, domain: str = "survey", batch_size: int = 256, progress: bool = False) -> int:
        """AdaBN: recompute BatchNorm statistics on unlabelled images of a survey and predict with them.

        The network's weights stay as trained; a new BatchNorm domain ``domain`` (replaced if it
        exists) gets the statistics of ``images`` (raw, as loaded: they are preprocessed as at
        training) and becomes the prediction domain. :meth:`save` keeps it with the model.
        Returns the number of images used.
        """
        if isinstance(images, ImageSet):
            source, images = images.source, images.images
        else:
            source = "images"
        self.check_bands(images.shape[1], source=source)
        processed = torch.from_numpy(self.preprocessor.transform(images, source=source))
        used = adapt_batchnorm(self.model, processed, domain=domain, batch_size=batch_size, progress=progress)
        set_domain(self.model, domain)
        self.model.eval()
        self.spec.batchnorm_domains = list(model_domains(self.model))
        self.spec.prediction_domain = domain
        return used

    def predict(self, images, *, rows=None, tta: bool = False, batch_size: int = 256, runner=None, source: str | None = None) -> Prediction:
        """p(merger) of raw images (as loaded, not yet normalised), preprocessed as at training.

        Parameters
        ----------
        images : ImageSet or ndarray (N, bands, H, W)
        rows : array of int, optional
            Predict only these rows (default all), without copying the others.
        tta : bool
            Average over the 8 dihedral transforms of each image; the prediction then also holds
            their standard deviation.
        batch_size : int
        runner : object, optional
            What runs the network: anything with ``logits(ndarray) -> ndarray`` (default PyTorch on
            the CPU; :func:`galmerge.catalog.make_backend` makes an ONNX Runtime one).
        source : str, optional
            Names the images in error messages (default the ImageSet's source).

        Raises
        ------
        ModelMismatchError
            Images with another band count than the model's.
        """
        if isinstance(images, ImageSet):
            source = source or images.source
            images = images.images
        source = source or "images"
        self.check_bands(images.shape[1], source=source)
        runner = runner or TorchBackend(self.model)
        rows = np.arange(len(images)) if rows is None else np.asarray(rows)
        p_all, p_std = [], []
        for start in range(0, len(rows), batch_size):
            batch = self.preprocessor.transform(images, rows=rows[start : start + batch_size], source=source)
            if not tta:
                p_all.append(merger_probabilities(runner, batch, batch_size=batch_size))
                continue
            views = np.stack([merger_probabilities(runner, np.ascontiguousarray(dihedral_element(batch, element)), batch_size=batch_size) for element in range(DIHEDRAL_GROUP_SIZE)])
            p_all.append(views.mean(axis=0))
            p_std.append(views.std(axis=0))
        p_merger = np.concatenate(p_all) if p_all else np.zeros(0)
        return Prediction(p_merger, (np.concatenate(p_std) if p_std else np.zeros(0)) if tta else None)

    def check_bands(self, n_bands: int, *, source: str) -> None:
        if n_bands != self.spec.in_bands:
            raise ModelMismatchError(f"{source}: {n_bands} bands, but the model was trained on {self.spec.in_bands} ({', '.join(self.bands)})")


def model_file_path(path) -> Path:
    """The model file of a run directory, or ``path`` itself when it is a model file."""
    path = Path(path)
    if path.is_dir():
        return Run(path).model_file()
    if not path.exists():
        raise CheckpointError(f"{path}: no such model file (a run directory holds {MODEL_FILENAME})")
    return path


def read_model_file(path) -> tuple[ModelSpec, dict]:
    """Read a galmerge model file: (spec, state dict), without building the model."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            state = {name: handle.get_tensor(name) for name in handle.keys()}
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{path}: not a safetensors model file ({error})") from None
    if _METADATA_KEY not in metadata:
        raise CheckpointError(f"{path}: a safetensors file without galmerge metadata; not a galmerge model")
    try:
        fields = json.loads(metadata[_METADATA_KEY])
        spec = ModelSpec(**fields)
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: unreadable galmerge metadata ({error})") from None
    if spec.format_version > _FORMAT_VERSION:
        raise CheckpointError(f"{path}: written by a newer galmerge (model format {spec.format_version})")
    return spec, state


def _load_strict(model: nn.Module, state: dict, path: Path) -> None:
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(n for n in set(own) & set(state) if own[n].shape != state[n].shape)
    if missing or unexpected or wrong:
        details = []
        if missing:
            details.append(f"missing {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}")
        if unexpected:
            details.append(f"unexpected {', '.join(unexpected[:3])}{' ...' if len(unexpected) > 3 else ''}")
        if wrong:
            details.append(f"wrong shape {', '.join(wrong[:3])}")
        raise CheckpointError(f"{path}: weights do not fit a {type(model).__name__}: {'; '.join(details)}")
    model.load_state_dict(state)


def load_state_dict_file(path) -> dict:
    """Read a bare state dict from ``.safetensors`` or a ``.pt/.pth`` file, never executing code."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such file")
    if path.suffix == ".safetensors" or path.is_dir():
        return read_model_file(model_file_path(path))[1]
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # pickle errors of every kind, refused globals included
        raise CheckpointError(f"{path}: not a loadable weights file ({type(error).__name__}: {error})") from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: does not hold a state dict of tensors")
    return state
