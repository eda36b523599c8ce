"""Merger probabilities for any image set, and catalogs of them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.table import Table

from galmerge.data.imageset import ImageSet
from galmerge.errors import DataError
from galmerge.models.inference import merger_probabilities
from galmerge.models.trained import Prediction, TrainedModel
from galmerge.runs import output_file

__all__ = ["predict", "predict_proba", "predict_catalog", "predict_catalog_file", "merger_probabilities", "CATALOG_FLAGS", "write_table"]

CATALOG_FLAGS = {
    1: "non-finite pixels were filled (see nonfinite_fraction)",
    2: "more than 10 % of the pixels were non-finite",
}
TABLE_FORMATS = {".ecsv": "ascii.ecsv", ".csv": "ascii.csv", ".fits": "fits", ".fit": "fits"}


def predict_proba(
    trained: TrainedModel,
    images,
    *,
    rows=None,
    backend: str = "auto",
    batch_size: int = 256,
    tta: bool = False,
    device: str = "auto",
    source: str | None = None,
    runner=None,
) -> np.ndarray:
    """Class probabilities (N, 2) of raw images, as scikit-learn's ``predict_proba``: p(non-merger), p(merger).

    The images are preprocessed as at training. ``backend`` picks what runs the network
    (``auto``: PyTorch on a GPU when ``device`` is one, else ONNX Runtime when installed, else
    PyTorch); ``device`` is ``auto`` (a CUDA GPU when PyTorch sees one), ``cpu`` or ``cuda``;
    ``runner``, a backend made by :func:`~galmerge.catalog.backends.make_backend`, is reused
    across calls instead. ``tta`` averages over the 8 dihedral transforms
    (:meth:`~galmerge.models.TrainedModel.predict` also returns their spread).
    """
    return predict(trained, images, rows=rows, backend=backend, batch_size=batch_size, tta=tta, device=device, source=source, runner=runner).proba()


def predict(trained: TrainedModel, images, *, rows=None, backend: str = "auto", batch_size: int = 256, tta: bool = False, device: str = "auto", source: str | None = None, runner=None) -> Prediction:
    """:meth:`TrainedModel.predict <galmerge.models.TrainedModel.predict>` with a backend chosen by name."""
    from galmerge.catalog.backends import make_backend

    if runner is None:
        size = trained.spec.input_size
        trained.check_bands(images.n_bands if isinstance(images, ImageSet) else images.shape[1], source=str(source or getattr(images, "source", "images")))
        runner = make_backend(trained.model, backend=backend, device=device, input_shape=(trained.spec.in_bands, size, size))
    return trained.predict(images, rows=rows, tta=tta, batch_size=batch_size, runner=runner, source=source)


def write_table(table: Table, path, *, overwrite: bool = False) -> Path:
    """Write a table as ECSV, CSV or FITS by its extension; never replaces a file unless asked."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_FORMATS:
        raise DataError(f"{path}: unknown catalog format; use one of {', '.join(TABLE_FORMATS)}")
    output_file(path, overwrite=overwrite)
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
    prediction = predict(trained, imageset, backend=backend, batch_size=batch_size, tta=tta, runner=runner)
    return _catalog_table(trained, imageset, prediction.p_merger, prediction.p_merger_std)


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
