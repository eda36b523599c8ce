"""Synthetic survey fixtures: small mosaics with known sources, made on the fly."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

from galmerge.catalog.synthetic import tan_header, write_band

SCALE = 0.262  # arcsec per pixel, DECaLS-like
CENTRE = (150.0, 2.0)
SHAPE = (300, 300)


@dataclass
class Survey:
    bands: list  # paths, one per band
    catalog: Path
    table: Table
    peaks: np.ndarray
    edge_id: int
    off_id: int
    nan_id: int


def _pixel_to_sky(header, x, y):
    from astropy.wcs import WCS

    return WCS(header).pixel_to_world_values(x, y)


@pytest.fixture(scope="session")
def survey(tmp_path_factory) -> Survey:
    """Three aligned bands of 300x300 px; 36 sources inside, one 4 px from an edge, one off the
    footprint, one under a patch of NaN pixels in band r."""
    from astropy.io import fits

    folder = tmp_path_factory.mktemp("survey")
    header = tan_header(shape=SHAPE, centre_deg=CENTRE, pixel_scale_arcsec=SCALE)
    rng = np.random.default_rng(4)
    grid_x, grid_y = np.meshgrid(np.arange(35, 266, 46), np.arange(30, 250, 40))  # 6 x 6 = 36, well apart
    x = grid_x.ravel()[:40] + rng.uniform(-3, 3, 36)
    y = grid_y.ravel()[:40] + rng.uniform(-3, 3, 36)
    x = np.concatenate([x, [4.0, SHAPE[1] + 200.0, 150.0]])
    y = np.concatenate([y, [150.0, 150.0, 280.0]])
    ra, dec = _pixel_to_sky(header, x, y)
    peaks = rng.uniform(1.0, 5.0, len(x))
    paths = [write_band(folder / f"field_{band}.fits", header, shape=SHAPE, ra_deg=ra, dec_deg=dec, peak=peaks, band=band, seed=i) for i, band in enumerate("gri")]
    with fits.open(paths[1], mode="update") as hdul:  # a masked patch over the last source in r
        hdul[0].data[272:288, 140:160] = np.nan
    table = Table({"objid": np.arange(1000, 1000 + len(x)), "ra": ra, "dec": dec, "petro_r": rng.uniform(1.5, 3.0, len(x))})
    table.write(folder / "sources.csv", format="ascii.csv")
    n = len(x)
    return Survey(paths, folder / "sources.csv", table, peaks, edge_id=1000 + n - 3, off_id=1000 + n - 2, nan_id=1000 + n - 1)


@pytest.fixture(scope="session")
def survey_mosaics(survey) -> str:
    return ",".join(str(p) for p in survey.bands)


@pytest.fixture
def assert_same_catalog():
    return _assert_same_catalog


def _assert_same_catalog(table, reference) -> None:
    """Two Parquet catalogs hold the same rows, columns and header.

    Integer, boolean and text columns must be equal; float columns equal within 1e-6: the last
    float32 bit of a network output may differ when the machine is loaded and the math library
    runs a convolution on fewer threads (seen: 3e-8).
    """
    assert table.schema.equals(reference.schema, check_metadata=True) and table.num_rows == reference.num_rows
    for name in table.column_names:
        values, expected = table.column(name).to_numpy(), reference.column(name).to_numpy()
        if values.dtype.kind == "f":
            np.testing.assert_allclose(values, expected, rtol=0, atol=1e-6, err_msg=name)
        else:
            np.testing.assert_array_equal(values, expected, err_msg=name)
