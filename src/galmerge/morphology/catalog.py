"""Catalogs of Sersic parameters and their uncertainties from a trained morphometry network."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.table import Table

from galmerge.data.imageset import ImageSet
from galmerge.errors import ConfigError, DataError
from galmerge.morphology.network import MorphometryModel
from galmerge.morphology.statistics import border_background
from galmerge.morphology.targets import TARGETS, parameters_from_targets

__all__ = ["predict_morphometry", "predict_morphometry_file", "PREDICT_FLAGS"]

PREDICT_FLAGS = {"nonfinite_pixels": 1, "pixel_scale": 2, "sky_estimated": 4, "outside_training_range": 8}


def predict_morphometry(model, imageset: ImageSet, *, psf_fwhm_arcsec: float | None = None, batch_size: int = 256) -> Table:
    """Sersic parameters and 1-sigma uncertainties for every image, with flags.

    Parameters
    ----------
    model : MorphometryModel or path
    imageset : ImageSet
        Stamps in the units and pixel scale the network was trained on. Extra inputs come from the
        table (``sky_sigma``, ``psf_fwhm_arcsec``); a missing ``sky_sigma`` is measured on each
        stamp's border (flag ``sky_estimated``), a missing PSF FWHM must be given.
    psf_fwhm_arcsec : float, optional
        PSF FWHM of every image, when the table has none.

    Returns
    -------
    astropy.table.Table
        ``id``, ``mag``, ``mag_err``, ``r_e_arcsec`` (major axis), ``r_e_arcsec_err``, ``n``,
        ``n_err``, ``q``, ``q_err``, ``pa_deg`` (from +x, counter-clockwise), ``pa_deg_err``,
        the raw network outputs ``target_<name>`` and ``target_<name>_sigma``, ``flag`` (bits of
        :data:`PREDICT_FLAGS`) and ``flag_reason``. Images with non-finite pixels get NaN values.
    """
    model = model if isinstance(model, MorphometryModel) else MorphometryModel.load(model)
    spec = model.spec
    n = len(imageset)
    flags = np.zeros(n, dtype=np.int32)
    reasons: list[list[str]] = [[] for _ in range(n)]
    images = np.asarray(imageset.images, dtype=np.float32)
    if images.shape[1] != spec.in_bands:
        raise DataError(f"{imageset.source}: {images.shape[1]} band(s); the network takes {spec.in_bands}")
    if imageset.image_shape != (spec.input_size, spec.input_size):
        raise DataError(f"{imageset.source}: stamps of {imageset.image_shape} px; the network takes {spec.input_size}x{spec.input_size}")
    if spec.pixel_scale_arcsec and imageset.pixel_scale_arcsec and not np.isclose(imageset.pixel_scale_arcsec, spec.pixel_scale_arcsec, rtol=1e-3):
        flags |= PREDICT_FLAGS["pixel_scale"]
        for r in reasons:
            r.append(f"pixel_scale: images at {imageset.pixel_scale_arcsec} arcsec/px, the network learned {spec.pixel_scale_arcsec}")
    finite = np.asarray(np.isfinite(images).reshape(n, -1).all(axis=1))
    if "nonfinite_fraction" in imageset.meta.colnames:  # filled on loading: not a measurement to trust
        finite &= ~(np.asarray(imageset.meta["nonfinite_fraction"], dtype=float) > 0)
    for row in np.flatnonzero(~finite):
        flags[row] |= PREDICT_FLAGS["nonfinite_pixels"]
        reasons[row].append("nonfinite_pixels: not measured")
    table = imageset.meta.copy(copy_data=False)
    if "sky_sigma" in spec.extra_names and "sky_sigma" not in table.colnames:
        table["sky_sigma"] = [border_background(image[0])[1] if ok else np.nan for image, ok in zip(images, finite)]
        flags |= PREDICT_FLAGS["sky_estimated"]
    if "psf_fwhm_arcsec" in spec.extra_names and "psf_fwhm_arcsec" not in table.colnames:
        if psf_fwhm_arcsec is None:
            raise ConfigError(f"{imageset.source}: the network takes the PSF FWHM as an input; give psf_fwhm_arcsec (--psf-fwhm)")
        table["psf_fwhm_arcsec"] = np.full(n, float(psf_fwhm_arcsec))
    from galmerge.morphology.network import extra_inputs_from_table

    extra = extra_inputs_from_table(table, spec.extra_names, source=imageset.source) if spec.extra_names else None
    if extra is not None:
        z = (extra - np.asarray(spec.extra_mean)) / np.asarray(spec.extra_std)
        outside = np.abs(z).max(axis=1) > 3
        for row in np.flatnonzero(outside & finite):
            flags[row] |= PREDICT_FLAGS["outside_training_range"]
            reasons[row].append("outside_training_range: noise level or PSF FWHM beyond 3 sigma of the training set")
    if model.apertures is not None:
        anchor_z = model.apertures.inputs(images)[0][:, model.apertures.anchor]  # NaN where pixels are not finite
        for row in np.flatnonzero((np.abs(anchor_z) > 3) & finite):
            flags[row] |= PREDICT_FLAGS["outside_training_range"]
            reasons[row].append("outside_training_range: brightness (anchor aperture magnitude) beyond 3 sigma of the training set")
    mean = np.full((n, len(TARGETS)), np.nan)
    sigma = np.full((n, len(TARGETS)), np.nan)
    good = np.flatnonzero(finite)
    if len(good):
        mean[good], sigma[good] = model.predict(images[good], None if extra is None else extra[good], batch_size=batch_size)
    values = parameters_from_targets(mean, sigma)
    out = Table()
    out["id"] = imageset.ids
    for name, column in (("mag", "mag"), ("r_e", "r_e_arcsec"), ("n", "n"), ("q", "q"), ("pa", "pa_deg")):
        out[column] = values[name]
        out[f"{column}_err"] = values[f"{name}_err"]
    for k, name in enumerate(TARGETS):
        out[f"target_{name}"] = mean[:, k]
        out[f"target_{name}_sigma"] = sigma[:, k]
    out["flag"] = flags
    out["flag_reason"] = ["; ".join(r) for r in reasons]
    out.meta.update({"r_e_definition": "major axis, arcsec", "pa_definition": "degrees from +x, counter-clockwise, [0, 180)", "uncertainties": "1 sigma, heteroscedastic network output"})
    return out


def predict_morphometry_file(run, data, *, out, psf_fwhm_arcsec: float | None = None, overwrite: bool = False, progress: bool = True) -> tuple[Path, int]:
    """:func:`predict_morphometry` on any data argument, written to ECSV, CSV or FITS (by extension)."""
    from galmerge.data.sources import load_imageset
    from galmerge.runs import output_file

    formats = {".ecsv": "ascii.ecsv", ".csv": "ascii.csv", ".fits": "fits"}
    if Path(out).suffix not in formats:
        raise ConfigError(f"{out}: choose a .ecsv, .csv or .fits catalog")
    out = output_file(out, overwrite=overwrite)  # refused before anything is computed
    imageset = data if isinstance(data, ImageSet) else load_imageset(data, progress=progress)
    table = predict_morphometry(run, imageset, psf_fwhm_arcsec=psf_fwhm_arcsec)
    table.write(out, format=formats[out.suffix], overwrite=overwrite)
    return out, len(table)
