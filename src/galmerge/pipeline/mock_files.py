"""``galmerge mock`` and ``galmerge observe``: mock sets and observed images written to files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from galmerge.errors import ConfigError
from galmerge.runs import output_file

__all__ = ["MockSetResult", "write_mock_set", "write_observed_fits"]


@dataclass
class MockSetResult:
    """What :func:`write_mock_set` wrote and measured.

    Attributes
    ----------
    path : Path
        The ImageSet file.
    description : str
        ``repr`` of the set (size, bands, mergers).
    ks_statistics : dict
        KS statistics between mergers and non-mergers of the global statistics, after matching.
    leak_check : dict
        :func:`galmerge.mocks.benchmarks.leak_check`: ROC-AUC of a classifier on global statistics.
    """

    path: Path
    description: str
    ks_statistics: dict
    leak_check: dict

    def summary(self) -> str:
        check = self.leak_check
        verdict = "ok" if check["passed"] else "above 0.70: the mocks leak the label"
        return "\n".join([
            f"wrote {self.description} to {self.path}",
            f"KS statistics mergers vs non-mergers: {self.ks_statistics}",
            f"leak check (flux, size, concentration, colour): ROC-AUC {check['roc_auc']:.3f} ({verdict})",
        ])


def write_mock_set(recipe, out, *, n: int, seed: int = 0, pristine: bool = False, match: bool = True, flybys: str = "exclude", workers: int | None = None, overwrite: bool = False, progress: bool = True) -> MockSetResult:
    """Draw ``n`` labelled mocks with a survey recipe, save them as an ImageSet file, and check them for label leaks."""
    from galmerge.mocks import MockOptions, Recipe, generate_mocks, load_recipe
    from galmerge.mocks.benchmarks import leak_check

    recipe = recipe if isinstance(recipe, Recipe) else load_recipe(recipe)
    if pristine:
        recipe = recipe.replace(noise=False, background_sources=False)
    out = output_file(out, overwrite=overwrite)  # refuse before rendering anything
    mocks = generate_mocks(recipe, n, seed=seed, options=MockOptions(match=match, flybys=flybys), workers=workers, progress=progress)
    path = mocks.save(out, overwrite=overwrite)
    return MockSetResult(path, repr(mocks), mocks.meta.meta["ks_statistics"], leak_check(mocks, seed=seed))


def write_observed_fits(image, out, *, recipe, redshift: float | None = None, units: str = "nanomaggies", seed: int = 0, overwrite: bool = False) -> str:
    """Observe a simulation image with a survey recipe (:func:`galmerge.mocks.observe_fits`) and write it as FITS; returns a summary line."""
    from astropy.io import fits

    from galmerge.mocks import observe_fits

    if out is None:
        raise ConfigError("observe needs --out")
    stamp = observe_fits(image, recipe=recipe, redshift=redshift, units=units, seed=seed)
    out = output_file(out, overwrite=overwrite)
    header = fits.Header({"PIXSCALE": stamp.pixel_scale_arcsec, "BUNIT": "nanomaggy" if stamp.bands[0] != "R" else "RGB 0-1"})
    for i, band in enumerate(stamp.bands):
        header[f"BAND{i + 1}"] = band
    fits.PrimaryHDU(stamp.images, header=header).writeto(out, overwrite=overwrite)
    return f"wrote {out}: {stamp.images.shape[0]} bands of {stamp.images.shape[1]}x{stamp.images.shape[2]} px at {stamp.pixel_scale_arcsec:.4f} arcsec/px"
