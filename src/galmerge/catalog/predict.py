"""Merger probabilities for any image set, and catalogs of them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.table import Table

from galmerge.data.imageset import ImageSet
from galmerge.data.transforms import DIHEDRAL_GROUP_SIZE, dihedral_element
from galmerge.errors import DataError, OutputExistsError
from galmerge.models.trained import TrainedModel

__all__ = ["predict_proba", "predict_catalog", "predict_catalog_file", "merger_probabilities", "CATALOG_FLAGS", "write_table"]

CATALOG_FLAGS = {
    1: "non-finite pixels were filled (see nonfinite_fraction)",
    2: "more than 10 % of the pixels were non-finite",
}
TABLE_FORMATS = {".ecsv": "ascii.ecsv", ".csv": "ascii.csv", ".fits": "fits", ".fit": "fits"}


def predict_proba(
    trained: TrainedModel,
    images: np.ndarray,
    *,
    rows=None,
    backend: str = "auto",
    batch_size: int = 256,
    tta: bool = False,
    device: str = "cpu",
    source: str = "images",
    runner=None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """p(merger) for raw images (N, bands, H, W), preprocessed as at training.

    Parameters
    ----------
    trained : TrainedModel
    images : ndarray
        Images as loaded (not yet normalised).
    rows : array of int, optional
        Predict only these rows of ``images`` (default all), without copying the others.
    backend : {"auto", "onnx", "torch"}
    tta : bool
        Average over the 8 dihedral transforms of each image and also return their standard
        deviation, a cheap measure of how stable the prediction is.
    runner : object, optional
        A backend made by :func:`galmerge.catalog.backends.make_backend`, reused across calls.

    Returns
    -------
    p_merger : ndarray (N,)
    p_merger_std : ndarray (N,) or None
        Standard deviation over the dihedral transforms when ``tta``.
    """
    from galmerge.catalog.backends import make_backend

    trained.check_bands(images.shape[1], source=source)
    size = trained.spec.input_size
    runner = runner or make_backend(trained.model, backend=backend, device=device, input_shape=(trained.spec.in_bands, size, size))
    rows = np.arange(len(images)) if rows is None else np.asarray(rows)
    p_all, p_std = [], []
    for start in range(0, len(rows), batch_size):
        batch = trained.preprocessor.transform(images, rows=rows[start : start + batch_size], source=source)
        if not tta:
            p_all.append(merger_probabilities(runner, batch, batch_size=batch_size))
            continue
        import torch

        tensor = torch.from_numpy(batch)
        views = np.stack([
            merger_probabilities(runner, dihedral_element(tensor, element).contiguous().numpy(), batch_size=batch_size)
            for element in range(DIHEDRAL_GROUP_SIZE)
        ])
        p_all.append(views.mean(axis=0))
        p_std.append(views.std(axis=0))
    p_merger = np.concatenate(p_all) if p_all else np.zeros(0)
    return p_merger, (np.concatenate(p_std) if tta and p_std else None)


def merger_probabilities(runner, processed: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """p(merger) from a backend for images that are already preprocessed, in batches."""
    chunks = [_softmax_merger(runner.logits(processed[start : start + batch_size])) for start in range(0, len(processed), batch_size)]
    return np.concatenate(chunks) if chunks else np.zeros(0)


def _softmax_merger(logits: np.ndarray) -> np.ndarray:
    logits = logits.astype(np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp[:, 1] / exp.sum(axis=1)


def write_table(table: Table, path, *, overwrite: bool = False) -> Path:
    """Write a table as ECSV, CSV or FITS by its extension; never replaces a file unless asked."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_FORMATS:
        raise DataError(f"{path}: unknown catalog format; use one of {', '.join(TABLE_FORMATS)}")
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path}: already exists; choose another --out or pass --overwrite")
    path.parent.mkdir(parents=True, exist_ok=True)
    if TABLE_FORMATS[suffix] == "fits":
        import warnings

        from astropy.io.fits.verify import VerifyWarning

        table = table.copy(copy_data=False)
        table.meta = _flat_header(table.meta)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", VerifyWarning)  # long keywords become HIERARCH cards, as intended
            table.write(path, format="fits", overwrite=overwrite)
    else:
        table.write(path, format=TABLE_FORMATS[suffix], overwrite=overwrite)
    return path


def _flat_header(meta: dict, prefix: str = "") -> dict:
    """Nested metadata as flat FITS header values: ``{"thresholds": {"default": 0.5}}`` -> ``THRESHOLDS_DEFAULT``."""
    flat = {}
    for key, value in meta.items():
        name = f"{prefix}{key}".upper()
        if isinstance(value, dict):
            flat.update(_flat_header(value, prefix=f"{name}_"))
        elif isinstance(value, (list, tuple)):
            flat[name] = ",".join(str(v) for v in value)
        else:
            flat[name] = value if isinstance(value, (int, float, bool)) else str(value)[:60]
    return flat


def predict_catalog(
    trained: TrainedModel,
    imageset: ImageSet,
    *,
    backend: str = "auto",
    batch_size: int = 256,
    tta: bool = False,
    runner=None,
) -> Table:
    """A catalog of merger probabilities for an image set.

    Columns: ``id``; ``ra``/``dec`` when known; ``p_merger``; ``p_merger_std`` with ``tta``;
    ``is_merger_pred`` (p >= 0.5); ``is_merger_pred_recall`` (p >= the threshold chosen on
    validation data for the model's target recall); ``nonfinite_fraction`` and ``flags``, a bit
    mask (:data:`CATALOG_FLAGS`). The catalog's ``meta`` records the model and thresholds.
    """
    p_merger, p_std = predict_proba(trained, imageset.images, backend=backend, batch_size=batch_size, tta=tta, source=imageset.source, runner=runner)
    return _catalog_table(trained, imageset, p_merger, p_std)


def _catalog_table(trained, imageset, p_merger, p_std) -> Table:
    meta = imageset.meta
    catalog = Table()
    catalog["id"] = meta["id"]
    for column in ("ra", "dec"):
        if column in meta.colnames:
            catalog[column] = meta[column]
    catalog["p_merger"] = p_merger.astype(np.float32)
    if p_std is not None:
        catalog["p_merger_std"] = p_std.astype(np.float32)
    thresholds = trained.spec.thresholds
    catalog["is_merger_pred"] = p_merger >= thresholds.get("default", 0.5)
    if "target_recall" in thresholds:
        catalog["is_merger_pred_recall"] = p_merger >= thresholds["target_recall"]
    fraction = np.asarray(meta["nonfinite_fraction"]) if "nonfinite_fraction" in meta.colnames else np.zeros(len(meta))
    catalog["nonfinite_fraction"] = fraction.astype(np.float32)
    catalog["flags"] = ((fraction > 0) * 1 + (fraction > 0.1) * 2).astype(np.int16)
    if imageset.has_labels:
        catalog["is_merger"] = imageset.labels
    catalog.meta.update(
        {
            "model": trained.spec.architecture,
            "bands": list(trained.bands),
            "thresholds": dict(thresholds),
            "target_recall": trained.spec.target_recall,
            "flags": {str(bit): text for bit, text in CATALOG_FLAGS.items()},
            "source": imageset.source,
        }
    )
    return catalog


def predict_catalog_file(
    run,
    data,
    *,
    out,
    overwrite: bool = False,
    backend: str = "auto",
    tta: bool = False,
    batch_size: int = 256,
    progress: bool = True,
) -> tuple[Path, int]:
    """Predict every image of a data source and write the catalog; returns (path, rows).

    The streaming survey catalog (:func:`galmerge.catalog.stream.predict_survey`) with its
    defaults: see there for ensembles, mosaics, priors, resuming and clusters.
    """
    from galmerge.catalog.stream import predict_survey

    result = predict_survey(run, data, out=out, overwrite=overwrite, backend=backend, tta=tta, batch_size=batch_size, progress=progress)
    return result.path, result.n_rows
