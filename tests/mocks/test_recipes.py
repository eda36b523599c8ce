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


def test_unknown_or_out_of_range_recipe_parameters_are_named(tmp_path):
    with pytest.raises(RecipeError, match="unknown key"):
        load_recipe(write(tmp_path, display="colour = 3"))
    with pytest.raises(RecipeError, match=r"\[mergers\]: unknown key"):
        load_recipe(write(tmp_path, display="[mergers]\nratio = 0.5"))
    with pytest.raises(RecipeError, match="mass_ratio"):
        load_recipe(write(tmp_path, display="[mergers]\nmass_ratio = [0.5, 2.0]"))
    with pytest.raises(RecipeError, match="pre_pericentre"):
        load_recipe(write(tmp_path, display='[mergers]\npre_pericentre = "sometimes"'))
    with pytest.raises(RecipeError, match="stage_weights"):
        load_recipe(write(tmp_path, display="[mergers]\nstage_weights = { merging = 1.0 }"))
    with pytest.raises(RecipeError, match="stage_weights"):
        load_recipe(write(tmp_path, display="[mergers]\nstage_weights = { pair = 0.0 }"))
    with pytest.raises(RecipeError, match="unknown kind"):
        load_recipe(write(tmp_path, display="[population]\nspiral = 1.0"))
    with pytest.raises(RecipeError, match="bound_pair needs"):
        load_recipe(write(tmp_path, display="[population]\nbound_pair = 1.0"))
    with pytest.raises(RecipeError, match="centre offsets"):
        load_recipe(write(tmp_path, display="[framing]\ncentre_jitter_px = 9"))
    with pytest.raises(RecipeError, match="centre_shift_px must be two numbers"):
        load_recipe(write(tmp_path, display="[framing]\ncentre_shift_px = [0.3]"))
    with pytest.raises(RecipeError, match="centre_shift_px must be two numbers"):
        load_recipe(write(tmp_path, display="[framing]\ncentre_shift_px = 0.3"))
    with pytest.raises(RecipeError, match=r"seeing_blurred_r90 must be true or false.*'yes'"):
        load_recipe(write(tmp_path, display='[framing]\nseeing_blurred_r90 = "yes"'))



def test_a_colour_scatter_out_of_range_is_named(tmp_path):
    import dataclasses

    from galmerge.mocks.recipes import recipe_to_toml

    recipe = load_recipe("sdss-gri")
    path = tmp_path / "scatter.toml"
    path.write_text(recipe_to_toml(recipe.replace(display=dataclasses.replace(recipe.display, scale_scatter_dex=-0.1))))
    with pytest.raises(RecipeError, match="scale_scatter_dex must be within 0-0.5 dex"):
        load_recipe(path)

def test_a_written_recipe_reads_back_equal(tmp_path):
    from galmerge.mocks.recipes import recipe_to_toml

    recipe = load_recipe("sdss-gri")
    path = tmp_path / "copy.toml"
    path.write_text(recipe_to_toml(recipe))
    again = load_recipe(path)
    for name in ("bands", "display", "framing", "mergers", "population", "redshift", "abs_mag", "stamp_size"):
        assert getattr(again, name) == getattr(recipe, name) or name == "bands"
    assert [b.psf_spec for b in again.bands] == [b.psf_spec for b in recipe.bands]
