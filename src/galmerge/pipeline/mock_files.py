"""``galmerge mock`` and ``galmerge observe``: mock sets and observed images written to files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
        KS statistics between mergers and non-mergers of the global statistics (noiseless).
    audit : galmerge.mocks.audit.AuditReport
        The shortcut audit (:func:`galmerge.mocks.audit.audit_imageset`).
    """

    path: Path
    description: str
    ks_statistics: dict
    audit: Any

    def summary(self) -> str:
        verdict = "passed" if self.audit.passed else "FLAGGED " + ", ".join(self.audit.flagged)
        return "\n".join(
            [
                f"wrote {self.description} to {self.path}",
                f"KS statistics mergers vs non-mergers (noiseless): {self.ks_statistics}",
                f"shortcut audit: {verdict} (full audit: galmerge audit {self.path})",
            ]
        )


def write_mock_set(recipe, out, *, n: int, seed: int = 0, pristine: bool = False, workers: int | None = None, overwrite: bool = False, progress: bool = True) -> MockSetResult:
    """Draw ``n`` labelled mocks with a survey recipe, save them as an ImageSet file and audit them for shortcuts.

    ``pristine`` drops noise, field sources and the real sky.
    """
    from galmerge.mocks import Recipe, generate_mocks, load_recipe
    from galmerge.mocks.audit import audit_imageset

    recipe = recipe if isinstance(recipe, Recipe) else load_recipe(recipe)
    if pristine:
        recipe = recipe.replace(noise=False, background_sources=False, sky_bank=None)
    out = output_file(out, overwrite=overwrite)  # refuse before rendering anything
    mocks = generate_mocks(recipe, n, seed=seed, workers=workers, progress=progress)
    audit = audit_imageset(mocks, seed=seed)
    mocks.meta.meta["audit"] = {"passed": audit.passed, "flagged": audit.flagged}
    path = mocks.save(out, overwrite=overwrite)
    return MockSetResult(path, repr(mocks), mocks.meta.meta["ks_statistics"], audit)


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
