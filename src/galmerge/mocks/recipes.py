"""Survey recipes: how a telescope sees, read from TOML files (``galmerge/mocks/recipes/*.toml``).

A recipe gives the pixel scale, stamp size, exposure, and per band the effective wavelength,
zeropoint (AB magnitude giving 1 electron/s), depth (surface-brightness limit, 3 sigma in
10" x 10" boxes) and PSF; optionally a display rendering (colour JPEG) and the redshift and
absolute-magnitude ranges of the galaxies drawn. Any recipe file may be passed by path; the
bundled ones are found by name (:func:`available_recipes`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from galmerge.errors import RecipeError
from galmerge.mocks.realism.psf import PSF, psf_from_spec
from galmerge.tomlfiles import read_toml

__all__ = ["Band", "Display", "Framing", "MergerDefinition", "Recipe", "load_recipe", "available_recipes", "recipe_to_toml", "RECIPE_DIR", "NON_MERGER_KINDS", "PAIRED_NON_MERGER_KINDS"]

RECIPE_DIR = Path(__file__).parent / "recipes"


@dataclass(frozen=True)
class Band:
    """One filter: name, effective wavelength (um), zeropoint (AB mag for 1 e-/s), depth, PSF."""

    name: str
    wavelength_um: float
    zeropoint: float
    depth_mu_lim: float | None
    psf: PSF
    psf_spec: dict | None = None  # the recipe's entry, for writing the recipe back


@dataclass(frozen=True)
class Display:
    """Rendering to a colour picture as surveys publish them (Lupton et al. 2004 asinh RGB, 8-bit).

    The picture is made at the recipe's stamp size, the size the network sees: real survey
    pictures (Galaxy Zoo's are 424 px) are read back at that size by galmerge, and at 75 px
    their JPEG blocks and picture-level noise are averaged away.

    Attributes
    ----------
    rgb : (str, str, str)
        Bands shown as red, green and blue.
    stretch, q : float
        Lupton's linear range and asinh softening (astropy's ``make_lupton_rgb`` ``stretch``
        and ``Q``), on fluxes in nmgy per native pixel.
    scales : (float, float, float)
        Colour balance: multipliers of the red, green and blue fluxes.
    minimum : (float, float, float)
        Subtracted from each scaled channel (negative: a pedestal).
    jpeg_quality : int
        JPEG quality of the picture; 0 writes none (8-bit values only).
    native_pixel_arcsec : float or None
        The survey's detector pixel (SDSS: 0.396"). Cutout services resample the calibrated
        frames, so a picture's pixel values are fluxes per native pixel whatever its scale.
    scale_scatter_dex : float
        Picture-to-picture scatter (Gaussian sigma, dex) of each colour scale, drawn anew for
        every stamp of either class and applied to the object's light, not to the real sky: the
        colour balance of survey pictures varies from field to field.
    """

    rgb: tuple
    stretch: float = 0.5
    q: float = 10.0
    scales: tuple = (1.0, 1.0, 1.0)
    minimum: tuple = (0.0, 0.0, 0.0)
    jpeg_quality: int = 0
    native_pixel_arcsec: float | None = None
    scale_scatter_dex: float = 0.0

    def scale_gains(self, rng, count: int):
        """Multipliers of the three colour scales for ``count`` pictures, shape (3, count):
        10^N(0, ``scale_scatter_dex``), each picture its own."""
        return 10.0 ** rng.normal(0.0, self.scale_scatter_dex, (3, count))

    def mapping(self):
        from galmerge.mocks.realism.display import LuptonMapping

        return LuptonMapping(stretch=self.stretch, q=self.q, scales=tuple(self.scales), minimum=tuple(self.minimum))


@dataclass(frozen=True)
class Framing:
    """How a stamp is framed and centred, the same rule for every class.

    Attributes
    ----------
    fov_r90 : float or None
        Field of view in units of the central galaxy's Petrosian R90 (Galaxy Zoo scales its
        cutouts so); ``None`` keeps the recipe's fixed pixel scale.
    seeing_blurred_r90 : bool
        The R90 that sets the field of view is measured on the galaxy blurred by the middle
        band's PSF, as a survey's catalogue measures it (:class:`~galmerge.mocks.framing.SeeingBlur`);
        ``False`` frames on the intrinsic R90.
    centre_jitter_px : float
        The central galaxy's nucleus lands uniformly within +-this many output pixels of the
        stamp centre in x and y (a sub-pixel offset: cutouts are cut at catalogue positions).
    centre_scatter_px : float
        Plus a Gaussian offset of this standard deviation (catalogue position errors).
    centre_shift_px : (float, float)
        Plus this fixed offset (x, y; y along the stored rows, which run bottom-up): where a
        survey's cutout service puts the object off its picture's centre.
    """

    fov_r90: float | None = None
    seeing_blurred_r90: bool = False
    centre_jitter_px: float = 0.5
    centre_scatter_px: float = 0.0
    centre_shift_px: tuple = (0.0, 0.0)


MERGER_STAGES = ("pair", "coalescing", "remnant")


@dataclass(frozen=True)
class MergerDefinition:
    """What counts as a merger, written in the recipe's ``[mergers]`` table.

    Attributes
    ----------
    mass_ratio : (float, float)
        Range of secondary / primary mass, drawn log-uniformly.
    after_coalescence_myr : float
        A merger is labelled from its first pericentre until this long after the cores
        coalesce (the remnant's window).
    pre_pericentre : {"exclude", "non-merger", "own-label"}
        Snapshots before the first pericentre (bound pairs not yet interacting): not drawn, drawn
        as non-mergers of kind ``bound_pair`` (a share of the population), or drawn as
        non-mergers of that kind but left out of the population shares (kept apart for analysis).
    stamps_per_encounter : int
        Renderings of each encounter (snapshot, view, redshift, galaxy look).
    n_particles : int
        Test particles of a primary disk (and of every isolated disk, so disks of both classes
        are drawn from as many particles).
    stage_weights : dict
        Relative weight of a snapshot of each stage (``pair``, ``coalescing``, ``remnant``; see
        :meth:`~galmerge.mocks.encounters.EncounterRun.stage`) when a merger stamp's snapshot is
        drawn inside the window; stages not named are not drawn, equal weights draw uniformly in
        time. A survey whose labels come from the eye (Galaxy Zoo's volunteers mostly call
        *visible pairs* mergers) weights the stages its labellers see.
    """

    mass_ratio: tuple = (0.1, 1.0)
    after_coalescence_myr: float = 400.0
    pre_pericentre: str = "exclude"
    stamps_per_encounter: int = 12
    n_particles: int = 700
    stage_weights: dict = field(default_factory=lambda: dict.fromkeys(MERGER_STAGES, 1.0))


PRE_PERICENTRE_POLICIES = ("exclude", "non-merger", "own-label")
NON_MERGER_KINDS = ("spheroid", "lenticular", "disk", "edge_on", "clumpy", "projected_pair", "flyby", "bound_pair")
PAIRED_NON_MERGER_KINDS = ("projected_pair", "flyby", "bound_pair")  # non-mergers that show a second galaxy
DEFAULT_POPULATION = {"disk": 0.35, "spheroid": 0.25, "lenticular": 0.1, "edge_on": 0.05, "clumpy": 0.1, "projected_pair": 0.1, "flyby": 0.05}


@dataclass(frozen=True)
class Recipe:
    """A survey's imaging, as :func:`load_recipe` reads it.

    Attributes
    ----------
    name, description : str
    bands : tuple of Band
    pixel_scale_arcsec : float or None
        ``None`` when ``framing.fov_r90`` sets the field of view per object instead.
    stamp_size : int
        Side of the output stamps in pixels.
    redshift : (float, float)
    abs_mag : (float, float)
        Range of rest-frame 0.55 um absolute magnitudes of the central galaxies drawn.
    apparent_mag_limit : float or None
        A flux-limited survey's limit (AB, at 0.55 um rest): central galaxies are then drawn
        uniformly in volume with a Schechter luminosity function and kept when brighter than
        this (Galaxy Zoo's SDSS main sample: r < 17.77); ``None`` draws magnitude and redshift
        uniformly in their ranges.
    exptime_s : float
    noise : bool
        Add sky and shot noise (``False`` gives the "pristine" images of DeepMerge's source domain).
    background_sources : bool
        Add field galaxies and stars from number counts (not with a sky bank: real sky has its own).
    correlated_noise : str or None
        FITS file of a noise correlation function (e.g. ACS F814W's), relative to the recipe.
    display : Display or None
    framing : Framing
    mergers : MergerDefinition
    population : dict
        Non-merger kinds and their shares (normalised to 1): ``spheroid`` (ellipticals),
        ``lenticular``, ``disk`` (spirals), ``edge_on`` (disks seen within 10 degrees of edge-on),
        ``clumpy``, ``projected_pair`` (an unrelated galaxy at another redshift, at the projected
        separations of the merging pairs), ``flyby`` (a hyperbolic encounter that does not
        merge), ``bound_pair`` (before the first pericentre; needs ``pre_pericentre =
        "non-merger"``).
    sky_bank : str or None
        File of real sky backgrounds (``galmerge calibrate`` writes one) into which display
        mocks are injected instead of synthetic noise and field sources.
    source : str
    """

    name: str
    description: str
    bands: tuple
    stamp_size: int
    redshift: tuple
    pixel_scale_arcsec: float | None = None
    abs_mag: tuple = (-23.0, -20.0)
    apparent_mag_limit: float | None = None
    exptime_s: float = 1000.0
    noise: bool = True
    background_sources: bool = True
    correlated_noise: str | None = None
    display: Display | None = None
    framing: Framing = Framing()
    mergers: MergerDefinition = MergerDefinition()
    population: dict = dataclasses.field(default_factory=lambda: dict(DEFAULT_POPULATION))
    sky_bank: str | None = None
    source: str = "<memory>"

    @property
    def band_names(self) -> tuple:
        return tuple(b.name for b in self.bands)

    @property
    def fov_r90(self) -> float | None:
        return self.framing.fov_r90

    def band(self, name: str) -> Band:
        for band in self.bands:
            if band.name == name:
                return band
        raise RecipeError(f"recipe {self.name}: no band {name!r} (bands: {', '.join(self.band_names)})")

    def replace(self, **changes) -> "Recipe":
        """A copy with some fields changed (``noise=False`` for a pristine version, ...)."""
        return dataclasses.replace(self, **changes)

    def population_shares(self) -> dict:
        """The non-merger kinds drawn and their shares, summing to 1 (``bound_pair`` only when
        the merger definition draws pre-pericentre pairs as non-mergers)."""
        shares = {k: float(v) for k, v in self.population.items() if v > 0}
        if self.mergers.pre_pericentre != "non-merger":
            shares.pop("bound_pair", None)
        total = sum(shares.values())
        return {k: v / total for k, v in shares.items()}


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


_TOP_LEVEL = {f.name for f in dataclasses.fields(Recipe)} - {"bands", "display", "framing", "mergers", "population", "source"} | {"fov_r90"}


def _table(values: dict, key: str, cls, path_keys=()):
    entry = values.pop(key, None)
    if entry is None:
        return cls()
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(entry) - known)
    if unknown:
        raise RecipeError(f"[{key}]: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in entry.items()})


def _absolute_paths(spec: dict, base: Path) -> dict:
    spec = dict(spec)
    if "file" in spec and not Path(spec["file"]).is_absolute():
        spec["file"] = str((base / spec["file"]).resolve())
    return spec


def _build(values: dict, path: Path) -> Recipe:
    unknown = sorted(set(values) - _TOP_LEVEL - {"bands", "display", "framing", "mergers", "population"})
    if unknown:
        raise RecipeError(f"unknown key(s) {', '.join(unknown)}")
    band_entries = values.pop("bands", None)
    if not band_entries:
        raise RecipeError("a recipe needs at least one [[bands]] entry")
    bands = []
    for entry in band_entries:
        missing = [k for k in ("name", "wavelength_um", "zeropoint", "psf") if k not in entry]
        unknown = sorted(set(entry) - {"name", "wavelength_um", "zeropoint", "depth_mu_lim", "psf"})
        if unknown:
            raise RecipeError(f"band {entry.get('name', '?')!r}: unknown key(s) {', '.join(unknown)}")
        if missing:
            raise RecipeError(f"band {entry.get('name', '?')!r} lacks {', '.join(missing)}")
        bands.append(Band(
            name=str(entry["name"]), wavelength_um=float(entry["wavelength_um"]), zeropoint=float(entry["zeropoint"]),
            depth_mu_lim=entry.get("depth_mu_lim"), psf=psf_from_spec(entry["psf"], base_dir=path.parent), psf_spec=_absolute_paths(entry["psf"], path.parent),
        ))
    display = _table(values, "display", Display) if "display" in values else None
    if display is not None:
        names = {b.name for b in bands}
        unknown = [b for b in display.rgb if b not in names]
        if len(display.rgb) != 3 or unknown:
            raise RecipeError(f"display rgb must name three of the recipe's bands; {unknown or display.rgb} not among {sorted(names)}")
    framing = _table(values, "framing", Framing)
    if "fov_r90" in values:  # the older top-level spelling
        framing = dataclasses.replace(framing, fov_r90=float(values.pop("fov_r90")))
    mergers = _table(values, "mergers", MergerDefinition)
    population = values.pop("population", None)
    if population is None:
        population = dict(DEFAULT_POPULATION)
    if values.get("sky_bank") is not None and not Path(values["sky_bank"]).is_absolute():
        values["sky_bank"] = str(path.parent / values["sky_bank"])
    recipe = Recipe(
        bands=tuple(bands), display=display, framing=framing, mergers=mergers, population=dict(population), source=str(path),
        redshift=tuple(values.pop("redshift")), abs_mag=tuple(values.pop("abs_mag", (-23.0, -20.0))), **values,
    )
    _validate(recipe)
    return recipe


def _validate(recipe: Recipe) -> None:
    if recipe.pixel_scale_arcsec is None and recipe.fov_r90 is None:
        raise RecipeError("give pixel_scale_arcsec (or fov_r90 for object-scaled cutouts)")
    if recipe.pixel_scale_arcsec is not None and not recipe.pixel_scale_arcsec > 0:
        raise RecipeError(f"pixel_scale_arcsec must be > 0, got {recipe.pixel_scale_arcsec}")
    if recipe.fov_r90 is not None and not 1.0 <= recipe.fov_r90 <= 100.0:
        raise RecipeError(f"fov_r90 must be within 1-100 R90, got {recipe.fov_r90}")
    if not isinstance(recipe.framing.seeing_blurred_r90, bool):
        raise RecipeError(f"[framing] seeing_blurred_r90 must be true or false, got {recipe.framing.seeing_blurred_r90!r}")
    if recipe.stamp_size < 16:
        raise RecipeError(f"stamp_size must be >= 16 px, got {recipe.stamp_size}")
    low, high = recipe.redshift
    if not 0 < low <= high:
        raise RecipeError(f"redshift range must satisfy 0 < low <= high, got {recipe.redshift}")
    if not recipe.abs_mag[0] <= recipe.abs_mag[1]:
        raise RecipeError(f"abs_mag range must be (bright, faint) with bright <= faint, got {recipe.abs_mag}")
    if recipe.noise and any(b.depth_mu_lim is None for b in recipe.bands):
        raise RecipeError("every band needs depth_mu_lim when noise = true")
    framing, mergers = recipe.framing, recipe.mergers
    if not (0 <= framing.centre_jitter_px <= 5 and 0 <= framing.centre_scatter_px <= 5):
        raise RecipeError(f"[framing] centre offsets must be within 0-5 px, got {framing.centre_jitter_px}, {framing.centre_scatter_px}")
    shift = framing.centre_shift_px
    if not (isinstance(shift, (list, tuple)) and len(shift) == 2 and all(isinstance(v, (int, float)) and abs(v) <= 5 for v in shift)):
        raise RecipeError(f"[framing] centre_shift_px must be two numbers within +-5 px, got {shift}")
    low, high = mergers.mass_ratio
    if not 0 < low <= high <= 1:
        raise RecipeError(f"[mergers] mass_ratio must satisfy 0 < low <= high <= 1, got {mergers.mass_ratio}")
    if mergers.pre_pericentre not in PRE_PERICENTRE_POLICIES:
        raise RecipeError(f"[mergers] pre_pericentre must be one of {PRE_PERICENTRE_POLICIES}, got {mergers.pre_pericentre!r}")
    if not 0 <= mergers.after_coalescence_myr <= 5000:
        raise RecipeError(f"[mergers] after_coalescence_myr must be within 0-5000, got {mergers.after_coalescence_myr}")
    if not (1 <= mergers.stamps_per_encounter <= 1000 and 50 <= mergers.n_particles <= 20000):
        raise RecipeError(f"[mergers] stamps_per_encounter must be 1-1000 and n_particles 50-20000, got {mergers.stamps_per_encounter}, {mergers.n_particles}")
    weights = mergers.stage_weights
    if not (isinstance(weights, dict) and set(weights) <= set(MERGER_STAGES) and all(isinstance(v, (int, float)) and v >= 0 for v in weights.values()) and sum(weights.values()) > 0):
        raise RecipeError(f"[mergers] stage_weights must map some of {', '.join(MERGER_STAGES)} to weights >= 0, not all 0; got {weights}")
    unknown = sorted(set(recipe.population) - set(NON_MERGER_KINDS))
    if unknown:
        raise RecipeError(f"[population]: unknown kind(s) {', '.join(unknown)}; known: {', '.join(NON_MERGER_KINDS)}")
    if any(not (isinstance(v, (int, float)) and v >= 0) for v in recipe.population.values()):
        raise RecipeError(f"[population] shares must be numbers >= 0, got {recipe.population}")
    if recipe.population.get("bound_pair", 0) > 0 and mergers.pre_pericentre != "non-merger":
        raise RecipeError('[population] bound_pair needs [mergers] pre_pericentre = "non-merger"')
    if not sum(v for k, v in recipe.population.items() if k != "bound_pair" or mergers.pre_pericentre == "non-merger") > 0:
        raise RecipeError("[population] needs at least one kind with a share > 0")
    display = recipe.display
    if display is not None:
        if not (display.stretch > 0 and display.q > 0 and len(display.scales) == 3 and all(v > 0 for v in display.scales) and len(display.minimum) == 3):
            raise RecipeError(f"[display] needs stretch > 0, q > 0, three positive scales and three minima, got {display}")
        if not 0 <= display.jpeg_quality <= 100:
            raise RecipeError(f"[display] jpeg_quality must be within 0-100, got {display.jpeg_quality}")
        if not 0 <= display.scale_scatter_dex <= 0.5:
            raise RecipeError(f"[display] scale_scatter_dex must be within 0-0.5 dex, got {display.scale_scatter_dex}")
    if recipe.sky_bank is not None and display is None:
        raise RecipeError("sky_bank needs a [display]: real sky backgrounds are survey pictures")


def recipe_to_toml(recipe: Recipe, *, header: str = "") -> str:
    """The recipe as TOML text that :func:`load_recipe` reads back to an equal recipe."""
    import tomli_w

    values = {"name": recipe.name, "description": recipe.description, "stamp_size": recipe.stamp_size, "redshift": list(recipe.redshift), "abs_mag": list(recipe.abs_mag), "exptime_s": recipe.exptime_s, "noise": recipe.noise, "background_sources": recipe.background_sources}
    if recipe.pixel_scale_arcsec is not None:
        values["pixel_scale_arcsec"] = recipe.pixel_scale_arcsec
    if recipe.apparent_mag_limit is not None:
        values["apparent_mag_limit"] = recipe.apparent_mag_limit
    if recipe.correlated_noise is not None:
        values["correlated_noise"] = recipe.correlated_noise
    if recipe.sky_bank is not None:
        values["sky_bank"] = recipe.sky_bank
    bands = []
    for band in recipe.bands:
        if band.psf_spec is None:
            raise RecipeError(f"recipe {recipe.name}: band {band.name} has no PSF entry to write")
        entry = {"name": band.name, "wavelength_um": band.wavelength_um, "zeropoint": band.zeropoint, "psf": band.psf_spec}
        if band.depth_mu_lim is not None:
            entry["depth_mu_lim"] = band.depth_mu_lim
        bands.append(entry)
    values["bands"] = bands

    def table(obj):
        return {f.name: list(v) if isinstance(v := getattr(obj, f.name), tuple) else v for f in dataclasses.fields(obj) if getattr(obj, f.name) is not None}

    if recipe.display is not None:
        values["display"] = table(recipe.display)
    values["framing"] = table(recipe.framing)
    values["mergers"] = table(recipe.mergers)
    values["population"] = {k: float(v) for k, v in recipe.population.items()}
    return header + tomli_w.dumps(values)
