"""Reader for FITS cutouts: one file per object (a 3-D cube or one extension per band)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from galmerge.errors import DataError, DataFileNotFoundError

__all__ = ["read_fits_cutout", "FitsCutout", "FITS_SUFFIXES"]

FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fits.fz")


@dataclass
class FitsCutout:
    """Pixels and what the header says about them."""

    pixels: np.ndarray  # float32 (bands, H, W)
    bands: tuple[str, ...]
    pixel_scale_arcsec: float | None
    ra_deg: float | None
    dec_deg: float | None


def read_fits_cutout(path) -> FitsCutout:
    """Read one object's cutout.

    The bands are either the planes of a 3-D cube in the first image HDU (named from header
    keywords ``BAND1``, ``BAND2``, ... or ``FILTER1``, ... when present), or every 2-D image HDU
    in order (named from ``FILTER``, then ``EXTNAME``, then ``band<i>``). The pixel scale comes
    from a celestial WCS, or from a ``PIXSCALE`` keyword in arcsec; the position from
    ``RA``/``DEC`` keywords or the WCS at the image centre.

    Raises
    ------
    DataFileNotFoundError, DataError
        A missing file; a corrupt or truncated file; no image data; bands of different shapes.
    """
    from astropy.io import fits
    from astropy.utils.exceptions import AstropyUserWarning

    path = Path(path)
    if not path.exists():
        raise DataFileNotFoundError(f"{path}: no such file")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", AstropyUserWarning)
            with fits.open(path, memmap=False) as hdul:
                planes, names, header = _image_planes(hdul)
    except DataError as error:
        raise DataError(f"{path}: {error}") from None
    except Exception as error:  # astropy raises OSError, TypeError, VerifyError, ... on bad files
        raise DataError(f"{path}: not a readable FITS file ({type(error).__name__}: {error})") from None
    # astropy only warns about a truncated file (and pads it); a truncated cutout is corrupt data.
    truncated = [w for w in caught if "truncated" in str(w.message).lower()]
    if truncated:
        raise DataError(f"{path}: FITS file is truncated ({truncated[0].message})")
    if not planes:
        raise DataError(f"{path}: no image data in any HDU")
    shapes = {plane.shape for plane in planes}
    if len(shapes) != 1:
        raise DataError(f"{path}: bands have different shapes {sorted(shapes)}")
    scale, ra, dec = _header_geometry(header, planes[0].shape)
    return FitsCutout(np.stack(planes).astype(np.float32), tuple(names), scale, ra, dec)


def _image_planes(hdul):
    planes, names, header = [], [], None
    for index, hdu in enumerate(hdul):
        if not hdu.is_image or hdu.data is None:
            continue
        data = np.asarray(hdu.data)
        if data.ndim == 3 and not planes:
            header = hdu.header
            for band in range(data.shape[0]):
                planes.append(data[band])
                names.append(str(header.get(f"BAND{band + 1}", header.get(f"FILTER{band + 1}", f"band{band}"))))
            break
        if data.ndim != 2:
            raise DataError(f"HDU {index} has {data.ndim}-D data; expected 2-D planes or one 3-D cube")
        header = header if header is not None else hdu.header
        names.append(str(hdu.header.get("FILTER", hdu.name if hdu.name not in ("", "PRIMARY") else f"band{len(planes)}")))
        planes.append(data)
    return planes, names, header


def _header_geometry(header, shape) -> tuple[float | None, float | None, float | None]:
    if header is None:
        return None, None, None
    scale = ra = dec = None
    try:
        from astropy.wcs import WCS, FITSFixedWarning
        from astropy.wcs.utils import proj_plane_pixel_scales

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            wcs = WCS(header, naxis=2)
        if wcs.has_celestial:
            scale = float(np.mean(proj_plane_pixel_scales(wcs.celestial)) * 3600.0)
            centre = wcs.celestial.pixel_to_world_values((shape[1] - 1) / 2, (shape[0] - 1) / 2)
            ra, dec = float(centre[0]), float(centre[1])
    except Exception:  # a malformed WCS leaves geometry unknown; pixels are still usable
        scale = ra = dec = None
    if scale is None and "PIXSCALE" in header:
        scale = float(header["PIXSCALE"])
    if "RA" in header and "DEC" in header:
        try:
            ra, dec = float(header["RA"]), float(header["DEC"])
        except (TypeError, ValueError):  # sexagesimal strings: leave the WCS value
            pass
    return scale, ra, dec
