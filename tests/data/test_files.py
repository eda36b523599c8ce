"""FITS cutouts, pictures and CSV catalogs."""

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from PIL import Image

from galmerge.data import load_catalog_csv, load_directory, read_fits_cutout
from galmerge.data.files import band_sort_key
from galmerge.errors import DataError, DataFileNotFoundError, LabelError


def celestial_header(ra=150.1, dec=2.2, scale_arcsec=0.06, size=20):
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [ra, dec]
    wcs.wcs.crpix = [(size + 1) / 2, (size + 1) / 2]
    wcs.wcs.cdelt = [-scale_arcsec / 3600, scale_arcsec / 3600]
    return wcs.to_header()


def write_cube(path, planes, header=None):
    hdu = fits.PrimaryHDU(np.asarray(planes, dtype=np.float32), header=header)
    for i, band in enumerate(("g", "r", "i")[: len(planes)]):
        hdu.header[f"BAND{i + 1}"] = band
    hdu.writeto(path)


def test_cube_with_wcs_gives_bands_scale_and_position(tmp_path):
    planes = np.random.default_rng(0).normal(size=(3, 20, 20))
    write_cube(tmp_path / "a.fits", planes, celestial_header())
    cutout = read_fits_cutout(tmp_path / "a.fits")
    np.testing.assert_allclose(cutout.pixels, planes.astype(np.float32))
    assert cutout.bands == ("g", "r", "i")
    assert cutout.pixel_scale_arcsec == pytest.approx(0.06, rel=1e-6)
    assert cutout.ra_deg == pytest.approx(150.1, abs=1e-6) and cutout.dec_deg == pytest.approx(2.2, abs=1e-6)


def test_one_extension_per_band(tmp_path):
    rng = np.random.default_rng(1)
    hdus = [fits.PrimaryHDU()]
    for band in ("F814W", "F160W"):
        hdus.append(fits.ImageHDU(rng.normal(size=(12, 12)).astype(np.float32), name=band))
    fits.HDUList(hdus).writeto(tmp_path / "mef.fits")
    cutout = read_fits_cutout(tmp_path / "mef.fits")
    assert cutout.pixels.shape == (2, 12, 12)
    assert cutout.bands == ("F814W", "F160W")


def test_directory_of_one_file_per_band_per_object(tmp_path):
    rng = np.random.default_rng(2)
    truth = {}
    for name in ("obj1", "obj2"):
        truth[name] = {}
        for band in ("i", "g", "r"):
            plane = rng.normal(size=(16, 16)).astype(np.float32)
            truth[name][band] = plane
            fits.PrimaryHDU(plane).writeto(tmp_path / f"{name}_{band}.fits")
    imageset = load_directory(tmp_path, progress=False)
    assert imageset.bands == ("g", "r", "i")  # ordered by wavelength, not alphabetically
    assert list(imageset.ids) == ["obj1", "obj2"]
    np.testing.assert_array_equal(imageset.images[1, 2], truth["obj2"]["i"])
    assert imageset.labels is None


def test_band_sort_key_orders_by_wavelength():
    assert sorted(["z", "g", "i", "u", "r"], key=band_sort_key) == ["u", "g", "r", "i", "z"]
    assert sorted(["F160W", "F814W", "F444W", "F115W", "F435W"], key=band_sort_key) == ["F435W", "F814W", "F115W", "F160W", "F444W"]
    assert sorted(["F356W", "F814W", "F160W"], key=band_sort_key) == ["F814W", "F160W", "F356W"]  # DeepMerge sim-to-sim


def test_corrupt_and_truncated_fits_are_named(tmp_path):
    (tmp_path / "junk.fits").write_bytes(b"SIMPLE  = nonsense" + b"\0" * 100)
    with pytest.raises(DataError, match="junk.fits: not a readable FITS file"):
        read_fits_cutout(tmp_path / "junk.fits")
    write_cube(tmp_path / "whole.fits", np.ones((3, 64, 64)))
    data = (tmp_path / "whole.fits").read_bytes()
    (tmp_path / "cut.fits").write_bytes(data[: len(data) - 20000])
    with pytest.raises(DataError, match="cut.fits"):
        read_fits_cutout(tmp_path / "cut.fits")
    with pytest.raises(DataFileNotFoundError):
        read_fits_cutout(tmp_path / "absent.fits")


def test_fits_cutouts_of_different_sizes_need_a_size(tmp_path):
    write_cube(tmp_path / "a.fits", np.ones((3, 20, 20)))
    write_cube(tmp_path / "b.fits", np.ones((3, 30, 30)))
    with pytest.raises(DataError, match="pass size"):
        load_directory(tmp_path, progress=False)
    imageset = load_directory(tmp_path, size=15, progress=False)
    assert imageset.images.shape == (2, 3, 15, 15)


def test_nan_pixels_in_fits_are_filled_and_recorded(tmp_path):
    planes = np.ones((3, 10, 10))
    planes[0, :2, :] = np.nan
    write_cube(tmp_path / "a.fits", planes)
    write_cube(tmp_path / "b.fits", np.ones((3, 10, 10)))
    imageset = load_directory(tmp_path, progress=False)
    assert np.isfinite(imageset.images).all()
    np.testing.assert_allclose(imageset.meta["nonfinite_fraction"], [20 / 300, 0])


def write_picture(path, array):
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path, quality=95)


def test_picture_catalog_loads_labels_ids_and_extra_columns(tmp_path):
    rng = np.random.default_rng(3)
    (tmp_path / "images").mkdir()
    rows = ["objid,gz1_class,is_merger,file"]
    for i in range(4):
        write_picture(tmp_path / "images" / f"{i}.jpeg", rng.integers(0, 255, size=(40, 50, 3)))
        rows.append(f"{1000 + i},{5 if i % 2 else 0},{i % 2},images/{i}.jpeg")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    imageset = load_catalog_csv(tmp_path / "labels.csv", size=24, progress=False)
    assert imageset.images.shape == (4, 3, 24, 24)
    assert imageset.images.min() >= 0 and imageset.images.max() <= 1
    assert imageset.bands == ("R", "G", "B")
    assert imageset.labels.tolist() == [0, 1, 0, 1]
    assert list(imageset.ids) == [1000, 1001, 1002, 1003]
    assert list(imageset.meta["gz1_class"]) == [0, 5, 0, 5]
    assert "is_merger" not in imageset.meta.colnames


def test_picture_catalog_errors_name_the_problem(tmp_path):
    write_picture(tmp_path / "a.png", np.zeros((10, 10, 3)))
    (tmp_path / "missing.csv").write_text("file,is_merger\na.png,1\nb.png,0\n")
    with pytest.raises(DataFileNotFoundError, match="b.png"):
        load_catalog_csv(tmp_path / "missing.csv", progress=False)
    (tmp_path / "labels.csv").write_text("file,is_merger\na.png,3\n")
    with pytest.raises(LabelError, match="labels.csv column 'is_merger'"):
        load_catalog_csv(tmp_path / "labels.csv", progress=False)
    (tmp_path / "nofile.csv").write_text("name,is_merger\na.png,1\n")
    with pytest.raises(DataError, match="no file column"):
        load_catalog_csv(tmp_path / "nofile.csv", progress=False)


def test_corrupt_jpeg_is_named(tmp_path):
    write_picture(tmp_path / "good.jpeg", np.random.default_rng(4).integers(0, 255, size=(64, 64, 3)))
    data = (tmp_path / "good.jpeg").read_bytes()
    (tmp_path / "bad.jpeg").write_bytes(data[: len(data) // 3])
    (tmp_path / "cat.csv").write_text("file\ngood.jpeg\nbad.jpeg\n")
    with pytest.raises(DataError, match="bad.jpeg: not a readable picture"):
        load_catalog_csv(tmp_path / "cat.csv", size=32, progress=False)


def test_folder_of_pictures_is_unlabelled(tmp_path):
    for name in ("x", "y"):
        write_picture(tmp_path / f"{name}.png", np.full((8, 8), 128))
    imageset = load_directory(tmp_path, progress=False)
    assert imageset.bands == ("L",)
    assert imageset.labels is None
    assert list(imageset.ids) == ["x", "y"]


def test_pictures_are_stored_bottom_row_first_like_fits(tmp_path):
    array = np.zeros((6, 6), dtype=np.uint8)
    array[0, :] = 255  # the top row of the picture
    write_picture(tmp_path / "top.png", array)
    imageset = load_directory(tmp_path, progress=False)
    assert imageset.images[0, 0, -1].min() == 1.0 and imageset.images[0, 0, 0].max() == 0.0
