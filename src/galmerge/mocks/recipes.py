"""Survey recipes: how a telescope sees, read from TOML files (``galmerge/mocks/recipes/*.toml``).

A recipe gives the pixel scale, stamp size, exposure, and per band the effective wavelength,
zeropoint (AB magnitude giving 1 electron/s), depth (surface-brightness limit, 3 sigma in
10" x 10" boxes) and PSF; optionally a display rendering (colour JPEG) and the redshift and
absolute-magnitude ranges of the galaxies drawn. Any recipe file may be passed by path; the
bundled ones are found by name (:func:`available_recipes`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from galmerge.errors import RecipeError
from galmerge.mocks.realism.psf import PSF, psf_from_spec
from galmerge.tomlfiles import read_toml

__all__ = ["Band", "Display", "Recipe", "load_recipe", "available_recipes", "RECIPE_DIR"]

RECIPE_DIR = Path(__file__).parent / "recipes"


@dataclass(frozen=True)
class Band:
    """One filter: name, effective wavelength (um), zeropoint (AB mag for 1 e-/s), depth, PSF."""

    name: str
    wavelength_um: float
    zeropoint: float
    depth_mu_lim: float | None
    psf: PSF


@dataclass(frozen=True)
class Display:
    """Rendering to a colour picture as surveys publish them (Lupton et al. 2004 asinh RGB, 8-bit JPEG).

    Attributes
    ----------
    rgb : (str, str, str)
        Bands shown as red, green and blue.
    render_size : int
        Picture side in pixels before the JPEG is read back at the recipe's stamp size (Galaxy
        Zoo cutouts are 424 px).
    stretch, q, minimum : float
        ``astropy.visualization.make_lupton_rgb`` parameters, on fluxes in nmgy per native pixel.
    jpeg_quality : int
    native_pixel_arcsec : float or None
        The survey's detector pixel (SDSS: 0.396"). Cutout services resample the calibrated
        frames, so a picture's pixel values are fluxes per native pixel whatever its scale, and
        its sky noise is native-pixel noise interpolated (correlated); galmerge does the same.
    """

    rgb: tuple
    render_size: int = 424
    stretch: float = 0.5
    q: float = 10.0
    minimum: float = 0.0
    jpeg_quality: int = 80
    native_pixel_arcsec: float | None = None


@dataclass(frozen=True)
class Recipe:
    """A survey's imaging, as :func:`load_recipe` reads it.

    Attributes
    ----------
    name, description : str
    bands : tuple of Band
    pixel_scale_arcsec : float or None
        ``None`` when ``fov_r90`` sets the field of view per object instead.
    stamp_size : int
        Side of the output stamps in pixels.
    redshift : (float, float)
    abs_mag : (float, float)
        Range of rest-frame 0.55 um absolute magnitudes of the systems drawn.
    exptime_s : float
    noise : bool
        Add sky and shot noise (``False`` gives the "pristine" images of DeepMerge's source domain).
    background_sources : bool
        Add field galaxies and stars from number counts.
    correlated_noise : str or None
        FITS file of a noise correlation function (e.g. ACS F814W's), relative to the recipe.
    fov_r90 : float or None
        Field of view in units of the primary's 90 %-light radius (Galaxy Zoo scales its cutouts
        so; 8.5 for 424 px at 0.02 R90 per pixel).
    oversample : int
        Ideal images are drawn this many times finer than the output pixels.
    display : Display or None
    source : str
    """

    name: str
    description: str
    bands: tuple
    stamp_size: int
    redshift: tuple
    pixel_scale_arcsec: float | None = None
    abs_mag: tuple = (-23.0, -20.0)
    exptime_s: float = 1000.0
    noise: bool = True
    background_sources: bool = True
    correlated_noise: str | None = None
    fov_r90: float | None = None
    oversample: int = 2
    display: Display | None = None
    source: str = "<memory>"

    @property
    def band_names(self) -> tuple:
        return tuple(b.name for b in self.bands)

    def band(self, name: str) -> Band:
        for band in self.bands:
            if band.name == name:
                return band
        raise RecipeError(f"recipe {self.name}: no band {name!r} (bands: {', '.join(self.band_names)})")

    def replace(self, **changes) -> "Recipe":
        """A copy with some fields changed (``noise=False`` for a pristine version, ...)."""
        return dataclasses.replace(self, **changes)


def available_recipes() -> list[str]:
    return sorted(p.stem for p in RECIPE_DIR.glob("*.toml"))


def load_recipe(name_or_path) -> Recipe:
    """Read a recipe by bundled name (``hst-f814w``) or from a TOML file path.

    Raises
    ------
    RecipeError
        Unknown name, unreadable file, missing or invalid fields (a band without a PSF, a display
        naming a band the recipe lacks, a pixel scale <= 0, ...).
    """
    path = Path(str(name_or_path))
    if not path.exists():
        path = RECIPE_DIR / f"{name_or_path}.toml"
        if not path.exists():
            raise RecipeError(f"no recipe {name_or_path!r}: not a file, and not one of {', '.join(available_recipes())}")
    values = read_toml(path, what="recipe", error=RecipeError)
    try:
        return _build(values, path)
    except RecipeError as error:
        raise RecipeError(f"{path}: {error}") from None
    except (KeyError, TypeError, ValueError) as error:
        raise RecipeError(f"{path}: invalid recipe ({type(error).__name__}: {error})") from None


def _build(values: dict, path: Path) -> Recipe:
    band_entries = values.pop("bands", None)
    if not band_entries:
        raise RecipeError("a recipe needs at least one [[bands]] entry")
    bands = []
    for entry in band_entries:
        missing = [k for k in ("name", "wavelength_um", "zeropoint", "psf") if k not in entry]
        if missing:
            raise RecipeError(f"band {entry.get('name', '?')!r} lacks {', '.join(missing)}")
        bands.append(Band(
            name=str(entry["name"]), wavelength_um=float(entry["wavelength_um"]), zeropoint=float(entry["zeropoint"]),
            depth_mu_lim=entry.get("depth_mu_lim"), psf=psf_from_spec(entry["psf"], base_dir=path.parent),
        ))
    display = values.pop("display", None)
    if display is not None:
        display = Display(**{**display, "rgb": tuple(display["rgb"])})
        names = {b.name for b in bands}
        unknown = [b for b in display.rgb if b not in names]
        if len(display.rgb) != 3 or unknown:
            raise RecipeError(f"display rgb must name three of the recipe's bands; {unknown or display.rgb} not among {sorted(names)}")
    recipe = Recipe(
        bands=tuple(bands), display=display, source=str(path),
        redshift=tuple(values.pop("redshift")), abs_mag=tuple(values.pop("abs_mag", (-23.0, -20.0))), **values,
    )
    _validate(recipe)
    return recipe


def _validate(recipe: Recipe) -> None:
    if recipe.pixel_scale_arcsec is None and recipe.fov_r90 is None:
        raise RecipeError("give pixel_scale_arcsec (or fov_r90 for object-scaled cutouts)")
    if recipe.pixel_scale_arcsec is not None and not recipe.pixel_scale_arcsec > 0:
        raise RecipeError(f"pixel_scale_arcsec must be > 0, got {recipe.pixel_scale_arcsec}")
    if recipe.stamp_size < 8:
        raise RecipeError(f"stamp_size must be >= 8 px, got {recipe.stamp_size}")
    low, high = recipe.redshift
    if not 0 < low <= high:
        raise RecipeError(f"redshift range must satisfy 0 < low <= high, got {recipe.redshift}")
    if recipe.noise and any(b.depth_mu_lim is None for b in recipe.bands):
        raise RecipeError("every band needs depth_mu_lim when noise = true")
    if recipe.oversample < 1:
        raise RecipeError("oversample must be >= 1")
