"""The realism layer: resampling, PSFs, noise depth, colour JPEGs, real fields, and observe()."""

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from galmerge.errors import RecipeError
from galmerge.mocks.realism import (
    AiryGaussianPSF,
    FieldImage,
    GaussianPSF,
    ImagePSF,
    MoffatPSF,
    colour_picture,
    correlated_gaussian_noise,
    insert_into_field,
    measure_depth,
    observe,
    observe_fits,
    resample_flux,
    sky_sigma_from_depth,
)
from galmerge.mocks.realism.noise import box_noise_factor

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.mark.parametrize("scale_out", [0.37, 1.0, 2.0, 3.3])
def test_resampling_conserves_flux(scale_out):
    image = np.random.default_rng(0).random((3, 40, 40))
    out = resample_flux(image, scale_in=1.0, scale_out=scale_out, shape_out=(int(np.ceil(40 / scale_out)) + 2,) * 2)
    np.testing.assert_allclose(out.sum(axis=(1, 2)), image.sum(axis=(1, 2)), rtol=1e-10)


def test_resampling_by_whole_factors_is_a_block_sum():
    image = np.arange(36.0).reshape(6, 6)
    np.testing.assert_allclose(resample_flux(image, scale_in=1.0, scale_out=2.0), image.reshape(3, 2, 3, 2).sum(axis=(1, 3)))
    with pytest.raises(RecipeError, match="> 0"):
        resample_flux(image, scale_in=0.0, scale_out=1.0)


@pytest.mark.parametrize("side, kernel", [(75, 9), (75, 75), (75, 101), (20, 41)])
def test_band_convolution_equals_a_direct_same_size_convolution(side, kernel):
    from scipy.signal import convolve2d

    from galmerge.mocks.realism import convolve_bands

    rng = np.random.default_rng(side + kernel)
    cube = rng.random((3, side, side))
    kernels = [rng.random((kernel, kernel)), rng.random((kernel, kernel)), rng.random((kernel - 2, kernel - 2))]
    direct = np.stack([convolve2d(plane, k, mode="same") for plane, k in zip(cube, kernels)])
    np.testing.assert_allclose(convolve_bands(cube, kernels), direct, rtol=0, atol=1e-9 * np.abs(direct).max())


def test_band_convolution_in_single_precision_is_float32_and_within_its_rounding():
    """The observer convolves in float32: the result keeps that type and stays within a few
    float32 roundings of the exact convolution, at the faint edge of a galaxy as at its peak."""
    from scipy.signal import convolve2d

    from galmerge.mocks.realism import convolve_bands
    from galmerge.mocks.realism.observe import _kernel_transform

    y, x = np.mgrid[:75, :75] - 37.0
    galaxy = np.exp(-np.hypot(x, y) / 3.0)  # spans 1 to 1e-5
    cube = np.stack([galaxy, 0.5 * galaxy, 2.0 * galaxy])
    kernels = [MoffatPSF(1.5, beta=3.0).image(pixel_scale_arcsec=s, size=31) for s in (0.3, 0.35, 0.4)]
    direct = np.stack([convolve2d(plane, k, mode="same") for plane, k in zip(cube, kernels)])
    single = convolve_bands(cube.astype(np.float32), kernels, kernel_transform=_kernel_transform(kernels, (75, 75), single=True))
    assert single.dtype == np.float32
    np.testing.assert_allclose(single, direct, rtol=0, atol=1e-6 * direct.max())


@pytest.mark.parametrize("psf", [GaussianPSF(0.5), MoffatPSF(0.8, beta=3.0), AiryGaussianPSF(wavelength_um=1.6, diameter_m=2.4, obscuration=0.33, gaussian_fwhm_arcsec=0.05)])
def test_psfs_are_normalised_centred_and_of_the_right_width(psf):
    image = psf.image(pixel_scale_arcsec=0.05)
    assert image.sum() == pytest.approx(1.0)
    assert image.shape[0] % 2 == 1 and np.unravel_index(image.argmax(), image.shape) == (image.shape[0] // 2,) * 2
    centre = image[image.shape[0] // 2]
    above_half = (centre >= 0.5 * centre.max()).sum() * 0.05
    assert above_half == pytest.approx(psf.fwhm_arcsec, abs=0.06)


def test_image_psf_from_fits_and_bad_psf_files(tmp_path):
    y, x = np.mgrid[-10:11, -10:11]
    fits.PrimaryHDU(np.exp(-(x**2 + y**2) / 8.0)).writeto(tmp_path / "psf.fits")
    psf = ImagePSF.from_fits(tmp_path / "psf.fits", pixel_scale_arcsec=0.03)
    resampled = psf.image(pixel_scale_arcsec=0.06)
    assert resampled.sum() == pytest.approx(1.0) and resampled.shape[0] % 2 == 1
    fits.PrimaryHDU(np.ones((2, 5, 5))).writeto(tmp_path / "cube.fits")
    with pytest.raises(RecipeError, match="must be 2-D"):
        ImagePSF.from_fits(tmp_path / "cube.fits", pixel_scale_arcsec=0.03)
    with pytest.raises(RecipeError, match="no PIXSCALE"):
        ImagePSF.from_fits(tmp_path / "psf.fits")
    with pytest.raises(RecipeError, match="> 0"):
        ImagePSF(np.ones((5, 5)), pixel_scale_arcsec=0.0)


@pytest.mark.skipif(not (SHARED / "psf").exists(), reason="shared PSFs absent")
def test_real_hst_and_hsc_psfs_load():
    acs = ImagePSF.from_fits(SHARED / "psf" / "cosmos_acs_f814w_psfs.fits", pixel_scale_arcsec=0.03, hdu=5)
    assert 0.06 < acs.fwhm_arcsec < 0.15  # ACS F814W FWHM ~0.1"
    hsc = ImagePSF.from_fits(SHARED / "psf" / "hsc_psf.fits", pixel_scale_arcsec=0.168, plane=2)
    assert 0.4 < hsc.fwhm_arcsec < 1.2


def test_sky_noise_matches_the_requested_depth_within_5_percent():
    rng = np.random.default_rng(0)
    for depth, scale in ((27.0, 0.2), (29.0, 0.2)):
        sigma = sky_sigma_from_depth(depth, pixel_scale_arcsec=scale)
        noise = rng.normal(0, sigma, (2000, 2000))
        measured_sigma = sky_sigma_from_depth(measure_depth(noise, pixel_scale_arcsec=scale), pixel_scale_arcsec=scale)
        assert measured_sigma == pytest.approx(sigma, rel=0.05)


def test_correlated_noise_is_scaled_to_the_same_depth():
    rng = np.random.default_rng(1)
    y, x = np.mgrid[-6:7, -6:7]
    correlation = np.exp(-(x**2 + y**2) / 4.0)
    scale = 0.2
    box = int(10 / scale)
    sigma = sky_sigma_from_depth(27.0, pixel_scale_arcsec=scale) / box_noise_factor(correlation, box_pixels=box)
    depths = [measure_depth(correlated_gaussian_noise((1000, 1000), correlation, sigma=sigma, rng=rng), pixel_scale_arcsec=scale) for _ in range(4)]
    assert np.mean(depths) == pytest.approx(27.0, abs=0.1)


def test_colour_jpeg_round_trip_keeps_orientation_and_colour():
    red = np.zeros((64, 64))
    red[-8:, :] = 5.0  # the top rows (FITS order: last rows are the top) are red
    blue = np.zeros((64, 64))
    blue[:8, :] = 5.0  # the bottom rows blue
    picture = colour_picture(red, np.zeros((64, 64)), blue, stretch=1.0, q=5.0, quality=90)
    assert picture.shape == (3, 64, 64) and picture.dtype == np.float32
    assert picture[0, -4:].mean() > 0.8 and picture[2, -4:].mean() < 0.2
    assert picture[2, :4].mean() > 0.8 and picture[0, :4].mean() < 0.2
    assert picture[:, 28:36].max() < 0.1  # the black middle stays black through JPEG


def test_field_insertion_lands_on_sky_away_from_the_border():
    rng = np.random.default_rng(2)
    pixels = rng.normal(1000, 10, (300, 300))
    pixels[100:140, 100:140] += 500  # a bright source
    field = FieldImage(pixels, pixel_scale_arcsec=0.26, zeropoint=25.0)
    for _ in range(50):
        row, column = field.sky_position(rng, 21)
        centre = (row + 10, column + 10)
        assert not field.segmentation[centre]
        assert 30 <= centre[0] < 270 and 30 <= centre[1] < 270
    stamp = np.zeros((21, 21))
    stamp[10, 10] = 1.0
    combined, (row, column) = insert_into_field(stamp, field, pixel_scale_arcsec=0.26, rng=rng)
    assert combined[10, 10] - field.pixels[row + 10, column + 10] == pytest.approx(1.0)
    with pytest.raises(RecipeError, match="render the mock at the field's pixel scale"):
        insert_into_field(stamp, field, pixel_scale_arcsec=0.1, rng=rng)


@pytest.mark.skipif(not (SHARED / "sky").exists(), reason="shared sky data absent")
def test_real_ctio_field_gives_a_sky_noise_and_sky_positions():
    field = FieldImage.from_fits(SHARED / "sky" / "ctio_iband_cdfs_tpv.fits", zeropoint=30.0)
    assert field.pixel_scale_arcsec == pytest.approx(0.263, abs=0.01)
    assert 20 < field.sigma < 80  # ADU; the frame's sky noise is ~38
    row, column = field.sky_position(np.random.default_rng(0), 51)
    assert not field.segmentation[row + 25, column + 25]


def test_observe_accepts_a_simulation_image_in_kpc():
    image = np.zeros((101, 101))
    image[45:56, 45:56] = 1.0  # 121 nmgy in a 11x11 kpc box
    stamp = observe(image, recipe="hst-f160w", redshift=1.0, pixel_scale_kpc=0.1, noise=False)
    assert stamp.images.shape == (1, 75, 75)
    assert stamp.images.sum() == pytest.approx(121.0, rel=0.01)  # flux kept through resampling and PSF
    noisy = observe(image, recipe="hst-f160w", redshift=1.0, pixel_scale_kpc=0.1, seed=1)
    assert noisy.sky_sigma[0] > 0 and np.std(noisy.images[0, :10, :10]) == pytest.approx(noisy.sky_sigma[0], rel=0.3)


def test_observe_refuses_images_without_a_usable_scale(tmp_path):
    image = np.ones((20, 20))
    with pytest.raises(RecipeError, match="no scale"):
        observe(image, recipe="hst-f160w")
    with pytest.raises(RecipeError, match="needs a redshift"):
        observe(image, recipe="hst-f160w", pixel_scale_kpc=0.1)
    with pytest.raises(RecipeError, match="> 0"):
        observe(image, recipe="hst-f160w", pixel_scale_arcsec=-0.1)
    with pytest.raises(RecipeError, match="has 3 bands, the image 1"):
        observe(image, recipe="jwst-nircam", pixel_scale_arcsec=0.04)
    fits.PrimaryHDU(image).writeto(tmp_path / "noscale.fits")
    with pytest.raises(RecipeError, match="noscale.fits: the image has no scale"):
        observe_fits(tmp_path / "noscale.fits", recipe="hst-f160w")
    header = fits.Header({"CDELT1": 0.2, "CUNIT1": "kpc"})
    fits.PrimaryHDU(image, header=header).writeto(tmp_path / "kpc.fits")
    assert observe_fits(tmp_path / "kpc.fits", recipe="hst-f160w", redshift=0.5, noise=False).images.shape == (1, 75, 75)


@pytest.mark.parametrize("sigma_dex", [0.0, 0.02])
def test_each_picture_draws_its_own_colour_balance_with_the_recipes_scatter(sigma_dex):
    import dataclasses

    from galmerge.mocks.realism.observe import Observer
    from galmerge.mocks.recipes import load_recipe

    recipe = load_recipe("sdss-gri")
    recipe = recipe.replace(display=dataclasses.replace(recipe.display, scale_scatter_dex=sigma_dex))
    yy, xx = np.indices((75, 75))
    blob = 2.0 * np.exp(-((yy - 37) ** 2 + (xx - 37) ** 2) / (2 * 6.0**2))  # nmgy per pixel, below the display's clipping
    ideal = np.stack([blob, blob, blob])
    observer = Observer(recipe)
    colours = []
    for seed in range(400):
        picture = observer.observe(ideal, pixel_scale_arcsec_in=0.4, pixel_scale_arcsec=0.4, rng=np.random.default_rng(seed), noise=False, field_sources=False).images
        colours.append(np.log10(picture[0].sum() / picture[2].sum()))
    # Lupton's mapping keeps each pixel's colour, so the red/blue ratio scatters by sigma in
    # each of the two scales: sqrt(2) sigma
    assert np.std(colours) == pytest.approx(np.sqrt(2) * sigma_dex, rel=0.15, abs=1e-3)

