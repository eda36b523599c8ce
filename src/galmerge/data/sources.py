"""One entry point from a data argument (as typed on the command line) to an ImageSet."""

from __future__ import annotations

from pathlib import Path

from galmerge.data.fits import FITS_SUFFIXES
from galmerge.data.imageset import ImageSet
from galmerge.data.pictures import PICTURE_SUFFIXES
from galmerge.errors import DataError, DataFileNotFoundError

__all__ = ["load_imageset", "as_imageset", "describe_data_spec"]

DATA_SPEC_HELP = (
    "X.npy,y.npy (DeepMerge arrays; X.npy alone is unlabelled), set.h5 (ImageSet file), "
    "catalog.csv (file and label columns naming JPEG/PNG/FITS cutouts), a folder of FITS or "
    "picture cutouts, one .fits/.jpg file, or toy[:N] (the built-in synthetic set)"
)


def describe_data_spec() -> str:
    return DATA_SPEC_HELP


def as_imageset(data, **options) -> ImageSet:
    """``data`` itself when it is an ImageSet, else :func:`load_imageset` of it with ``options``.

    Every public entry point takes an ImageSet or a data argument alike through this.
    """
    return data if isinstance(data, ImageSet) else load_imageset(data, **options)


def load_imageset(
    spec,
    *,
    size: int | None = None,
    bands=None,
    label_column: str | None = None,
    nonfinite: str = "fill",
    seed: int = 0,
    progress: bool = True,
) -> ImageSet:
    """Load any supported data source into an ImageSet.

    Parameters
    ----------
    spec : str or path
        One of: ``"X.npy,y.npy"``; ``"X.npy"``; ``"set.h5"``; ``"catalog.csv"``; a folder of
        cutouts; a single ``.fits``/``.jpg``/``.png``; ``"toy"`` or ``"toy:N"``.
    size : int, optional
        Resize per-object files (pictures, FITS) to ``size`` x ``size`` as they are read. Arrays
        and ImageSet files are returned as stored (preprocessing resizes them later).
    bands : sequence of str, optional
        Band names (and, for per-band FITS files, their order).
    label_column : str, optional
        Label column of a CSV catalog when it is not ``is_merger`` or ``label``.
    nonfinite : {"fill", "raise"}
        NaN/inf pixel policy (see :mod:`galmerge.data.nonfinite`).
    seed : int
        Seed of the toy set.
    """
    text = str(spec).strip()
    if text == "toy" or text.startswith("toy:"):
        from galmerge.data.toy import make_toy_mergers

        count = text.partition(":")[2]
        if count and not count.isdigit():
            raise DataError(f"{text}: expected toy or toy:N with N a whole number")
        return make_toy_mergers(int(count) if count else 2000, seed=seed, size=size or 75)
    if "," in text:
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 2 or not all(p.endswith(".npy") for p in parts):
            raise DataError(f"{text}: a comma joins exactly two .npy files, images then labels (X.npy,y.npy)")
        from galmerge.data.npy import load_npy

        return load_npy(parts[0], parts[1], bands=bands, nonfinite=nonfinite)
    path = Path(text)
    if not path.exists():
        raise DataFileNotFoundError(f"{path}: no such file or folder")
    name = path.name.lower()
    if path.is_dir():
        from galmerge.data.files import load_directory

        return load_directory(path, size=size, bands=bands, nonfinite=nonfinite, progress=progress)
    if name.endswith(".npy"):
        from galmerge.data.npy import load_npy

        return load_npy(path, bands=bands, nonfinite=nonfinite)
    if name.endswith((".h5", ".hdf5")):
        return ImageSet.load(path)
    if name.endswith(".csv"):
        from galmerge.data.files import load_catalog_csv

        return load_catalog_csv(path, size=size, label_column=label_column, bands=bands, nonfinite=nonfinite, progress=progress)
    if name.endswith(FITS_SUFFIXES + PICTURE_SUFFIXES):
        from galmerge.data.files import load_files

        return load_files([[path]], size=size, bands=bands, nonfinite=nonfinite, source=str(path), progress=False)
    raise DataError(f"{path}: unknown kind of data; give {DATA_SPEC_HELP}")
