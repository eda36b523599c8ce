"""A trained morphometry network with everything needed to use it: preprocessing, target scales, extra inputs.

Saved as one safetensors file (weights) whose metadata holds the specification as JSON, so it
loads without executing code.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from galmerge.errors import CheckpointError, DataError, ModelMismatchError
from galmerge.morphology.apertures import Apertures
from galmerge.morphology.targets import TARGETS

if TYPE_CHECKING:
    from galmerge.models.heads import RegressionNet

__all__ = ["MorphometrySpec", "MorphometryModel", "extra_inputs_from_table", "MODEL_FILE"]

MODEL_FILE = "morphometry.safetensors"
_FORMAT = "galmerge.MorphometryModel/1"


def extra_inputs_from_table(table, names, *, source: str = "table") -> np.ndarray:
    """(N, len(names)) raw extra inputs; ``sky_sigma`` enters as its log10 (it spans decades)."""
    missing = [n for n in names if n not in table.colnames]
    if missing:
        raise DataError(f"{source}: the network takes {', '.join(names)} as inputs; column(s) {', '.join(missing)} missing (give them, e.g. --psf-fwhm)")
    columns = []
    for name in names:
        values = np.asarray(table[name], dtype=np.float64)
        columns.append(np.log10(np.clip(values, 1e-30, None)) if name == "sky_sigma" else values)
    return np.stack(columns, axis=1) if columns else np.zeros((len(table), 0))


@dataclass
class MorphometrySpec:
    """What a saved network needs besides its weights."""

    architecture: str
    in_bands: int
    input_size: int
    bands: list
    pixel_scale_arcsec: float | None
    preprocessing: dict
    target_mean: list
    target_std: list
    extra_names: list = field(default_factory=list)
    extra_mean: list = field(default_factory=list)
    extra_std: list = field(default_factory=list)
    targets: list = field(default_factory=lambda: list(TARGETS))
    apertures: dict | None = None  # Apertures.to_dict(); None: a network without the photometric anchor


class MorphometryModel:
    """A :class:`~galmerge.models.heads.RegressionNet` with its spec; :meth:`predict` gives physical means and sigmas."""

    def __init__(self, net: RegressionNet, spec: MorphometrySpec):
        from galmerge.data.transforms import Preprocessor

        self.net = net.eval()
        self.spec = spec
        self.preprocessor = Preprocessor.from_dict(spec.preprocessing)
        self.apertures = Apertures.from_dict(spec.apertures)

    @classmethod
    def build(cls, spec: MorphometrySpec) -> "MorphometryModel":
        from galmerge.models.heads import RegressionNet

        n_apertures = 0 if spec.apertures is None else len(spec.apertures["radii_px"])
        net = RegressionNet(architecture=spec.architecture, in_bands=spec.in_bands, input_size=spec.input_size, n_targets=len(spec.targets), n_extra=len(spec.extra_names) + n_apertures)
        return cls(net, spec)

    def save(self, path) -> Path:
        from safetensors.torch import save_file

        path = Path(path)
        state = {k: v.detach().cpu().contiguous() for k, v in self.net.state_dict().items()}
        save_file(state, str(path), metadata={"format": _FORMAT, "spec": json.dumps(asdict(self.spec))})
        return path

    @classmethod
    def load(cls, path) -> "MorphometryModel":
        from safetensors import safe_open
        from safetensors.torch import load_file

        path = Path(path)
        if path.is_dir():
            path = path / MODEL_FILE
        if not path.exists():
            raise CheckpointError(f"{path}: no morphometry model here (train one with `galmerge morph train`)")
        try:
            with safe_open(str(path), framework="pt") as handle:
                metadata = handle.metadata() or {}
            state = load_file(str(path))
        except Exception as error:  # safetensors raises its own types for corrupt files
            raise CheckpointError(f"{path}: not a readable safetensors file ({error})") from None
        if metadata.get("format") != _FORMAT:
            raise CheckpointError(f"{path}: not a galmerge morphometry model (a merger classifier's model file?)")
        recorded = json.loads(metadata["spec"])
        unknown = sorted(set(recorded) - set(MorphometrySpec.__dataclass_fields__))
        if unknown:
            raise CheckpointError(f"{path}: written by another galmerge version (unknown spec field(s) {', '.join(unknown)})")
        model = cls.build(MorphometrySpec(**recorded))
        try:
            model.net.load_state_dict(state)
        except RuntimeError as error:
            raise CheckpointError(f"{path}: weights do not fit the recorded architecture ({str(error)[:200]})") from None
        return model.__class__(model.net, model.spec)

    def network_inputs(self, images: np.ndarray, extra: np.ndarray | None) -> tuple[torch.Tensor | None, np.ndarray]:
        """The network's scalar inputs for raw ``images`` and raw ``extra`` columns, and the target offsets.

        Returns the standardised extra inputs (table columns, then aperture magnitudes; None for
        a network that takes none) and the (N, 6) offsets to add to its de-standardised outputs
        (the anchor magnitude in the ``mag`` column; zeros for a network without apertures).
        """
        columns = []
        if self.spec.extra_names:
            if extra is None:
                raise DataError(f"the network takes {', '.join(self.spec.extra_names)} as inputs; none given")
            columns.append(((extra - np.asarray(self.spec.extra_mean)) / np.asarray(self.spec.extra_std)).astype(np.float32))
        offsets = np.zeros((len(images), len(TARGETS)))
        if self.apertures is not None:
            aperture_inputs, offsets[:, 0] = self.apertures.inputs(images)
            columns.append(aperture_inputs)
        return (torch.from_numpy(np.concatenate(columns, axis=1)) if columns else None), offsets

    @torch.no_grad()
    def predict(self, images: np.ndarray, extra: np.ndarray | None = None, *, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """Means and sigmas of the targets (physical units: mag, log10 r_e, n, q, cos 2pa, sin 2pa), shape (N, 6) each."""
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[1] != self.spec.in_bands:
            raise ModelMismatchError(f"images of shape {images.shape}; the network takes {self.spec.in_bands} band(s)")
        means, sigmas = [], []
        mean_t, std_t = np.asarray(self.spec.target_mean), np.asarray(self.spec.target_std)
        for start in range(0, len(images), batch_size):
            raw = np.ascontiguousarray(images[start : start + batch_size], dtype=np.float32)
            extras, offsets = self.network_inputs(raw, None if extra is None else extra[start : start + batch_size])
            _, output = self.net(self.preprocessor.transform_tensor(torch.from_numpy(raw)), extras)
            mean, log_sigma = self.net.split(output)
            means.append(mean.numpy() * std_t + mean_t + offsets)
            sigmas.append(np.exp(log_sigma.numpy()) * std_t)
        if not means:
            return np.zeros((0, len(TARGETS))), np.zeros((0, len(TARGETS)))
        return np.concatenate(means), np.concatenate(sigmas)
