import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from galmerge.catalog.cutouts import EDGE_FLAG, NO_PIXELS_FLAG, MosaicCutter, cut_mosaics
from galmerge.catalog.positions import CutoutSize
from galmerge.catalog.synthetic import tan_header, write_band
from galmerge.data import ImageSet
from galmerge.errors import ConfigError, DataError, OutputExistsError

SCALE, CENTRE, SHAPE = 0.262, (150.0, 2.0), (300, 300)  # the survey fixture's grid (conftest.py)


def _rows(meta, ident):
    return int(np.flatnonzero(np.asarray(meta["id"]) == ident)[0])


def test_every_source_is_a_row_centred_and_flagged(survey, survey_mosaics, tmp_path):
    summary = cut_mosaics(survey_mosaics, survey.catalog, size=32, out=tmp_path / "cut.h5", progress=False)
    cut = ImageSet.load(tmp_path / "cut.h5")
    assert len(cut) == len(survey.table) == summary.n_objects
    assert list(cut.meta["id"]) == list(survey.table["objid"])  # catalog order, nothing dropped
    assert cut.bands == ("g", "r", "i") and cut.pixel_scale_arcsec == pytest.approx(SCALE, rel=1e-3)
    flags = np.asarray(cut.meta["cut_flags"])
    normal = flags == 0
    normal[[_rows(cut.meta, survey.nan_id)]] = False
    # each clean source is the brightest thing at the centre of its cutout, with its known peak
    centre = cut.images[normal][:, :, 14:18, 14:18].max(axis=(2, 3))
    np.testing.assert_allclose(centre.mean(axis=1), survey.peaks[normal], rtol=0.1, atol=0.05)
    edge = _rows(cut.meta, survey.edge_id)
    assert flags[edge] & EDGE_FLAG and 0.3 < cut.meta["outside_fraction"][edge] < 0.5  # 4 px from the edge: 11.5 of 32 columns outside
    off = _rows(cut.meta, survey.off_id)
    assert flags[off] & NO_PIXELS_FLAG and not cut.images[off].any()
    masked = _rows(cut.meta, survey.nan_id)
    assert 0 < cut.meta["nonfinite_fraction"][masked] < 0.2 and np.isfinite(cut.images[masked]).all()
    assert summary.n_edge == 1 and summary.n_no_pixels == 1


def test_size_in_arcsec_and_in_radius_units(survey, survey_mosaics):
    in_arcsec = MosaicCutter(survey_mosaics, survey.catalog, size="8.4arcsec")
    assert in_arcsec.side == 32  # 8.4 / 0.262 = 32.06 px
    by_radius = MosaicCutter(survey_mosaics, survey.catalog, size="6*petro_r", pixels=24)
    images, meta = by_radius.read(0, 5)
    assert images.shape == (5, 3, 24, 24) and by_radius.pixel_scale_arcsec is None
    expected = 6 * np.asarray(survey.table["petro_r"][:5]) / SCALE
    np.testing.assert_allclose(meta["pixel_scale_arcsec"] * 24 / SCALE, np.round(expected), rtol=1e-5)
    assert CutoutSize.parse('3"') == CutoutSize(3.0, "arcsec") and CutoutSize.parse("75px").unit == "pixel"
    with pytest.raises(ConfigError, match="cutout size"):
        CutoutSize.parse("big")


def test_a_band_on_another_grid_is_reprojected(survey, tmp_path):
    """An i band at twice the pixel size, rotated by 30 degrees, lands on the g band's grid."""
    coarse = tan_header(shape=(220, 220), centre_deg=CENTRE, pixel_scale_arcsec=2 * SCALE, rotation_deg=30)
    ra, dec = np.asarray(survey.table["ra"]), np.asarray(survey.table["dec"])
    other = write_band(tmp_path / "i_coarse.fits", coarse, shape=(220, 220), ra_deg=ra, dec_deg=dec, peak=survey.peaks, sigma_arcsec=1.5, band="i", noise=0.0)
    cutter = MosaicCutter(f"{survey.bands[0]},{other}", survey.catalog, size=32)
    assert cutter.tiles[0].aligned == [True, False]
    images, meta = cutter.read(0, 20)
    i_band = images[:, 1]
    peak_at = np.array([np.unravel_index(np.argmax(im), im.shape) for im in i_band])
    assert np.abs(peak_at - 15.5).max() <= 1.5  # the source sits at the centre in both bands
    correlation = [np.corrcoef(a.ravel(), b.ravel())[0, 1] for a, b in zip(images[:, 0], i_band)]
    assert min(correlation) > 0.8


def test_tiles_cut_each_source_from_the_tile_that_holds_it(survey, tmp_path):
    ra, dec = np.asarray(survey.table["ra"][:36]), np.asarray(survey.table["dec"][:36])
    half = SHAPE[1] * SCALE / 3600 / 2
    tiles = tmp_path / "tiles"
    for name, shift in (("west", +half), ("east", -half)):  # two tiles meeting at the field centre
        header = tan_header(shape=SHAPE, centre_deg=(CENTRE[0] + shift / np.cos(np.radians(CENTRE[1])), CENTRE[1]), pixel_scale_arcsec=SCALE)
        for band in "gr":
            write_band(tiles / f"{name}_{band}.fits", header, shape=SHAPE, ra_deg=ra, dec_deg=dec, peak=survey.peaks[:36], band=band)
    Table({"id": np.arange(36), "ra": ra, "dec": dec}).write(tmp_path / "s.fits")
    cutter = MosaicCutter(str(tiles), tmp_path / "s.fits", size=24)
    images, meta = cutter.read(0, 36)
    assert len(cutter.tiles) == 2 and set(np.asarray(meta["tile"])) == {0, 1}
    assert not (np.asarray(meta["cut_flags"]) & NO_PIXELS_FLAG).any()
    np.testing.assert_allclose(images[:, 0, 10:14, 10:14].max(axis=(1, 2)), survey.peaks[:36], rtol=0.1, atol=0.05)


def test_shards_folder_holds_the_same_cutouts(survey, survey_mosaics, tmp_path):
    cut_mosaics(survey_mosaics, survey.catalog, size=20, out=tmp_path / "one.h5", progress=False)
    summary = cut_mosaics(survey_mosaics, survey.catalog, size=20, out=tmp_path / "shards", shard_rows=16, progress=False)
    assert summary.shards == ["part-00000.h5", "part-00001.h5", "part-00002.h5"]
    joined = np.concatenate([ImageSet.load(tmp_path / "shards" / s).images for s in summary.shards])
    np.testing.assert_array_equal(joined, ImageSet.load(tmp_path / "one.h5").images)
    with pytest.raises(OutputExistsError, match="already exists"):
        cut_mosaics(survey_mosaics, survey.catalog, size=20, out=tmp_path / "shards", progress=False)
    again = cut_mosaics(survey_mosaics, survey.catalog, size=20, out=tmp_path / "shards", shard_rows=16, overwrite=True, progress=False)
    assert again.shards == summary.shards  # a folder of galmerge cutouts (.galmerge-cutouts) is replaced with overwrite
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match="refusing to delete it"):
        cut_mosaics(survey_mosaics, survey.catalog, size=20, out=tmp_path / "mine", overwrite=True, progress=False)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "mine"
    (tmp_path / "notes.h5").write_text("mine")
    with pytest.raises(OutputExistsError, match="not cutouts galmerge wrote"):
        cut_mosaics(survey_mosaics, survey.catalog, size=20, out=tmp_path / "notes.h5", overwrite=True, progress=False)
    assert (tmp_path / "notes.h5").read_text() == "mine"


def test_bad_inputs_name_the_file(survey, survey_mosaics, tmp_path):
    no_wcs = tmp_path / "no_wcs.fits"
    fits.PrimaryHDU(np.zeros((50, 50), np.float32)).writeto(no_wcs)
    with pytest.raises(DataError, match=f"{no_wcs}.*no celestial WCS"):
        MosaicCutter(str(no_wcs), survey.catalog, size=20)
    Table({"id": [1, 2], "flux": [1.0, 2.0]}).write(tmp_path / "nopos.csv", format="ascii.csv")
    with pytest.raises(DataError, match="nopos.csv: no RA/Dec"):
        MosaicCutter(survey_mosaics, tmp_path / "nopos.csv", size=20)
    Table({"id": [1, 2], "ra": [150.0, np.nan], "dec": [2.0, 2.0]}).write(tmp_path / "nan.ecsv")
    with pytest.raises(DataError, match="nan.ecsv: 1 rows have NaN"):
        MosaicCutter(survey_mosaics, tmp_path / "nan.ecsv", size=20)
    far = write_band(tmp_path / "far_r.fits", tan_header(shape=(50, 50), centre_deg=(200.0, -30.0), pixel_scale_arcsec=SCALE), shape=(50, 50), ra_deg=[], dec_deg=[], peak=[], band="r")
    with pytest.raises(DataError, match="far_r.fits: band r's footprint does not overlap"):
        MosaicCutter(f"{survey.bands[0]},{far}", survey.catalog, size=20)
