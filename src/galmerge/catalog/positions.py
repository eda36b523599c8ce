"""A survey's source list: ids and sky (or pixel) positions, and the cutout size of each object."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from galmerge.errors import ConfigError, DataError, DataFileNotFoundError

__all__ = ["SourcePositions", "read_positions", "CutoutSize"]

# Column pairs recognised as positions, in order of preference (case-insensitive).
SKY_COLUMNS = (("ra", "dec"), ("ra_deg", "dec_deg"), ("raj2000", "dej2000"), ("alpha_j2000", "delta_j2000"), ("alpha", "delta"))
# (x, y, offset): SExtractor's X_IMAGE/Y_IMAGE count from 1, numpy from 0.
PIXEL_COLUMNS = (("x", "y", 0.0), ("x_image", "y_image", 1.0))
ID_COLUMNS = ("id", "objid", "object_id", "source_id", "galaxy_id", "number", "name")


@dataclass
class SourcePositions:
    """Positions of the objects to cut, in the catalog's order.

    Attributes
    ----------
    ids : ndarray
    ra_deg, dec_deg : ndarray or None
        Sky positions (ICRS degrees), or None when the catalog gives pixel positions.
    x_pixel, y_pixel : ndarray or None
        0-based pixel positions on the first mosaic, when no sky position is given.
    radius_arcsec : ndarray or None
        The radius column the cutout size scales with, when the size asks for one.
    source : str
    """

    ids: np.ndarray
    ra_deg: np.ndarray | None
    dec_deg: np.ndarray | None
    x_pixel: np.ndarray | None
    y_pixel: np.ndarray | None
    radius_arcsec: np.ndarray | None
    source: str

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def on_sky(self) -> bool:
        return self.ra_deg is not None

    def sky(self, start: int = 0, stop: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """RA and Dec (degrees) of rows ``start:stop``; only for a catalog of sky positions."""
        if self.ra_deg is None or self.dec_deg is None:
            raise ValueError(f"{self.source}: the catalog gives pixel positions, not RA/Dec")  # a programming error: check on_sky
        return self.ra_deg[start:stop], self.dec_deg[start:stop]

    def pixels(self, start: int = 0, stop: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """x and y (0-based pixels on the first mosaic) of rows ``start:stop``; only for a catalog of pixel positions."""
        if self.x_pixel is None or self.y_pixel is None:
            raise ValueError(f"{self.source}: the catalog gives RA/Dec, not pixel positions")  # a programming error: check on_sky
        return self.x_pixel[start:stop], self.y_pixel[start:stop]


@dataclass(frozen=True)
class CutoutSize:
    """The side of each cutout: pixels, arcsec, or a multiple of a radius column (arcsec).

    ``75`` or ``75px``: 75 pixels of the first band's grid. ``3arcsec`` (or ``3"``): 3 arcsec.
    ``4*petroR90_r``: four times the catalog's ``petroR90_r`` (arcsec), per object, as Galaxy
    Zoo framed its images by the Petrosian radius.
    """

    value: float
    unit: str  # "pixel", "arcsec" or "radius"
    column: str | None = None

    @classmethod
    def parse(cls, text) -> "CutoutSize":
        text = str(text).strip()
        match = re.fullmatch(r"([0-9.]+)\s*(px|pix|pixels?)?", text)
        if match:
            return cls._checked(match.group(1), "pixel", text)
        match = re.fullmatch(r"([0-9.]+)\s*(arcsec|as|\")", text)
        if match:
            return cls._checked(match.group(1), "arcsec", text)
        match = re.fullmatch(r"([0-9.]+)\s*[*x]\s*([A-Za-z_][A-Za-z0-9_]*)", text)
        if match:
            return cls._checked(match.group(1), "radius", text, column=match.group(2))
        raise ConfigError(f"cutout size {text!r}: give pixels (75), arcsec (3arcsec) or a multiple of a radius column (4*petroR90_r)")

    @classmethod
    def _checked(cls, number: str, unit: str, text: str, column=None) -> "CutoutSize":
        try:
            value = float(number)
        except ValueError:
            raise ConfigError(f"cutout size {text!r}: {number!r} is not a number") from None
        if not value > 0:
            raise ConfigError(f"cutout size {text!r} must be > 0")
        return cls(value, unit, column)


def _find(table, names) -> str | None:
    lower = {name.lower(): name for name in table.colnames}
    for name in names:
        if name in lower:
            return lower[name]
    return None


def _degrees(table, name: str, path: Path) -> np.ndarray:
    column = table[name]
    if column.dtype.kind not in "iuf":
        raise DataError(f"{path}: column {name!r} must hold decimal degrees, got {column.dtype} values such as {column[0]!r}")
    values = np.asarray(column, dtype=np.float64)
    unit = getattr(column, "unit", None)
    if unit is not None and str(unit) not in ("deg", "degree", ""):
        import astropy.units as u

        values = (values * unit).to_value(u.deg)
    return values


def read_positions(path, *, size: CutoutSize | None = None) -> SourcePositions:
    """Read a source list (CSV, ECSV or FITS table) with RA/Dec or pixel positions.

    Raises
    ------
    DataFileNotFoundError, DataError
        A missing or unreadable file, no position columns, NaN positions, a missing or bad
        radius column.
    """
    from astropy.table import Table

    path = Path(path)
    if not path.exists():
        raise DataFileNotFoundError(f"{path}: no such source catalog")
    name = path.name.lower()
    try:
        if name.endswith((".fits", ".fit", ".fits.gz")):
            table = Table.read(path, format="fits", memmap=True)
        elif name.endswith(".ecsv"):
            table = Table.read(path, format="ascii.ecsv")
        elif name.endswith(".parquet"):
            table = Table.read(path, format="parquet")
        else:
            table = Table.read(path, format="ascii.csv")
    except Exception as error:
        raise DataError(f"{path}: not a readable source catalog ({type(error).__name__}: {error})") from None
    if len(table) == 0:
        raise DataError(f"{path}: the source catalog has no rows")
    id_name = _find(table, ID_COLUMNS)
    ids = np.asarray(table[id_name]) if id_name else np.arange(len(table), dtype=np.int64)
    if ids.dtype.kind in "SU":
        ids = ids.astype(str)
    ra = dec = x = y = None
    sky = next(((a, b) for a, b in ((_find(table, (p,)), _find(table, (q,))) for p, q in SKY_COLUMNS) if a and b), None)
    if sky:
        ra, dec = _degrees(table, sky[0], path), _degrees(table, sky[1], path)
        coordinates = (ra, dec, f"{sky[0]}/{sky[1]}")
    else:
        pixel = next(((a, b, o) for a, b, o in ((_find(table, (p,)), _find(table, (q,)), o) for p, q, o in PIXEL_COLUMNS) if a and b), None)
        if pixel is None:
            raise DataError(f"{path}: no RA/Dec columns (ra/dec, RAJ2000/DEJ2000, ALPHA_J2000/DELTA_J2000) and no pixel columns (x/y, X_IMAGE/Y_IMAGE); columns: {', '.join(table.colnames)}")
        x = np.asarray(table[pixel[0]], dtype=np.float64) - pixel[2]
        y = np.asarray(table[pixel[1]], dtype=np.float64) - pixel[2]
        coordinates = (x, y, f"{pixel[0]}/{pixel[1]}")
    bad = ~(np.isfinite(coordinates[0]) & np.isfinite(coordinates[1]))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataError(f"{path}: {int(bad.sum())} rows have NaN or missing {coordinates[2]} (first: row {first}, id {ids[first]})")
    radius = None
    if size is not None and size.unit == "radius":
        assert size.column is not None  # CutoutSize.parse gives every radius size its column
        column = _find(table, (size.column.lower(),))
        if column is None:
            raise DataError(f"{path}: no radius column {size.column!r} for the cutout size")
        radius = np.asarray(table[column], dtype=np.float64)
        bad = ~(np.isfinite(radius) & (radius > 0))
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise DataError(f"{path}: {int(bad.sum())} rows have a radius {size.column!r} that is not > 0 (first: id {ids[first]})")
    return SourcePositions(ids=ids, ra_deg=ra, dec_deg=dec, x_pixel=x, y_pixel=y, radius_arcsec=radius, source=str(path))
