import pytest

from galmerge.errors import RecipeError
from galmerge.mocks import available_recipes, load_recipe

RECIPE = """
name = "test"
description = "x"
pixel_scale_arcsec = {scale}
stamp_size = 75
redshift = [0.1, 0.2]
[[bands]]
name = "r"
wavelength_um = 0.62
zeropoint = 25.0
depth_mu_lim = 27.0
{psf}
{display}
"""
PSF = 'psf = { kind = "moffat", fwhm_arcsec = 1.0 }'


def write(tmp_path, scale="0.2", psf=PSF, display=""):
    path = tmp_path / "r.toml"
    path.write_text(RECIPE.format(scale=scale, psf=psf, display=display))
    return path


def test_every_bundled_recipe_loads():
    names = available_recipes()
    assert {"hst-f814w", "hst-f160w", "jwst-nircam", "sdss-gri", "hsc-grizy", "deepmerge-hst"} <= set(names)
    for name in names:
        recipe = load_recipe(name)
        assert recipe.bands and all(b.psf.image(pixel_scale_arcsec=recipe.pixel_scale_arcsec or 0.2).sum() == pytest.approx(1.0) for b in recipe.bands)
    assert load_recipe("jwst-nircam").band_names == ("F115W", "F200W", "F444W")


def test_bad_recipes_are_named_errors(tmp_path):
    with pytest.raises(RecipeError, match="no recipe 'nope'"):
        load_recipe("nope")
    with pytest.raises(RecipeError, match="pixel_scale_arcsec must be > 0"):
        load_recipe(write(tmp_path, scale="0.0"))
    with pytest.raises(RecipeError, match="lacks psf"):
        load_recipe(write(tmp_path, psf=""))
    with pytest.raises(RecipeError, match="display rgb must name three of the recipe's bands"):
        load_recipe(write(tmp_path, display='[display]\nrgb = ["i", "r", "g"]'))
    with pytest.raises(RecipeError, match="unknown PSF kind"):
        load_recipe(write(tmp_path, psf='psf = { kind = "box" }'))
