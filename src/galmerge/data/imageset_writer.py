"""Write an ImageSet file a chunk at a time, for sets larger than memory.

The file is the one :meth:`ImageSet.save` writes (and :meth:`ImageSet.load` memory-maps): a
contiguous float32 ``images`` dataset, the metadata table and the attributes. Images go straight
to disk as they come; the metadata rows (a few numbers per object) are kept until :meth:`close`.
The file is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from astropy.table import Table, vstack

from galmerge.data.imageset import FILE_FORMAT, FILE_VERSION
from galmerge.errors import DataError

__all__ = ["ImageSetWriter"]


class ImageSetWriter:
    """Fill an ImageSet file of a known number of images in order.

    Parameters
    ----------
    path : path
        Destination ``.h5`` (the caller decides whether it may be replaced).
    n_images : int
    bands : sequence of str
    image_shape : (height, width)
    pixel_scale_arcsec : float or None
    source : str
        Provenance stored with the set.
    """

    def __init__(self, path, *, n_images: int, bands, image_shape, pixel_scale_arcsec=None, source: str = ""):
        import h5py

        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + f".{os.getpid()}.partial")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = h5py.File(self.partial, "w")
        self.handle.attrs["format"] = FILE_FORMAT
        self.handle.attrs["version"] = FILE_VERSION
        self.handle.attrs["bands"] = json.dumps(list(bands))
        self.handle.attrs["pixel_scale_arcsec"] = np.nan if pixel_scale_arcsec is None else float(pixel_scale_arcsec)
        self.handle.attrs["source"] = str(source)
        # Contiguous, uncompressed: ImageSet.load memory-maps it.
        self.images = self.handle.create_dataset("images", shape=(n_images, len(bands), *image_shape), dtype="<f4")
        self.n_images = n_images
        self.written = 0
        self.meta_chunks: list[Table] = []

    def write(self, images: np.ndarray, meta: Table) -> None:
        """Append the next images (n, bands, H, W) and their metadata rows."""
        stop = self.written + len(images)
        if stop > self.n_images or len(meta) != len(images):
            raise DataError(f"{self.path}: {len(images)} images and {len(meta)} rows do not fit after row {self.written} of {self.n_images}")
        self.images[self.written : stop] = images
        self.meta_chunks.append(meta)
        self.written = stop

    def close(self) -> Path:
        """Write the metadata and move the finished file into place."""
        from astropy.io.misc.hdf5 import write_table_hdf5

        if self.written != self.n_images:
            raise DataError(f"{self.path}: {self.written} of {self.n_images} images written")
        meta = vstack(self.meta_chunks, metadata_conflicts="silent") if self.meta_chunks else Table({"id": np.zeros(0, np.int64)})
        write_table_hdf5(meta, self.handle, path="meta", serialize_meta=True)
        self.handle.close()
        os.replace(self.partial, self.path)
        return self.path

    def abort(self) -> None:
        """Close and delete the unfinished file."""
        self.handle.close()
        self.partial.unlink(missing_ok=True)

    def __enter__(self) -> "ImageSetWriter":
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()
