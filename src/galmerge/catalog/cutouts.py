"""Cutouts from survey mosaics for every source of a catalog, flagged where the sky is missing.

Each source is cut (astropy ``Cutout2D``) from the tile whose reference grid holds it farthest
from an edge. Bands on the reference grid are cut with the same pixel slices; a band on another
grid is reprojected (``reproject.reproject_interp``, bilinear: surface brightness is kept) onto
the reference cutout's WCS. No source is dropped:

- a cutout that runs over a mosaic edge keeps its pixels, the missing ones filled with the
  band's median (``outside_fraction``; flag 4);
- NaN or masked pixels inside the footprint are filled the same way (``nonfinite_fraction``;
  flags 1 and 2, as for every galmerge image);
- a source off every footprint, or whose cutout has a band without one finite pixel, gets an
  image of zeros and flag 8 (``no pixels``); its catalog row has p_merger = NaN.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.table import Table

from galmerge.catalog.mosaics import _separation_deg, open_tiles
from galmerge.catalog.positions import CutoutSize, read_positions
from galmerge.errors import DataError, OutputExistsError
from galmerge.runs import new_output_folder, output_file

__all__ = ["MosaicCutter", "cut_mosaics", "cutout_shards", "CutoutSummary", "EDGE_FLAG", "NO_PIXELS_FLAG", "CUTOUT_MANIFEST"]

EDGE_FLAG = 4
NO_PIXELS_FLAG = 8
CUTOUT_MANIFEST = "cutouts.json"
CUTOUT_KIND = "cutouts"  # a folder of shards is a galmerge output folder of this kind (galmerge.runs.new_output_folder)
_SINGLE_FILE_SUFFIXES = (".h5", ".hdf5")
DEFAULT_RESAMPLED_SIDE = 75  # DeepMerge's input side, for sizes that vary per object


class MosaicCutter:
    """Cut the sources of a catalog from survey tiles, any contiguous range of rows at a time.

    Parameters
    ----------
    mosaics : str or sequence of str
        Tiles (see :func:`galmerge.catalog.mosaics.open_tiles`).
    catalog : path
        Source list with RA/Dec (or pixel) positions (:func:`read_positions`).
    size : str or CutoutSize
        Side of each cutout: ``75`` pixels, ``3arcsec``, or ``4*petroR90_r``.
    pixels : int, optional
        Resample every cutout to this side. Default: the cut side for a fixed size, 75 for a
        size that follows a radius column.
    bands : sequence of str, optional
        Band names overriding the FITS headers'.
    """

    def __init__(self, mosaics, catalog, *, size, pixels: int | None = None, bands=None):
        self.size = size if isinstance(size, CutoutSize) else CutoutSize.parse(size)
        self.tiles = open_tiles(mosaics, bands=bands)
        self.positions = read_positions(catalog, size=self.size)
        if not self.positions.on_sky and len(self.tiles) > 1:
            raise DataError(f"{catalog}: pixel positions (no RA/Dec) can only be cut from one mosaic, not {len(self.tiles)} tiles")
        self.scale_arcsec = self.tiles[0].pixel_scale_arcsec
        fixed = {"pixel": self.size.value, "arcsec": self.size.value / self.scale_arcsec}.get(self.size.unit)
        self.fixed_side = None if fixed is None else max(2, int(round(fixed)))
        self.side = int(pixels) if pixels else (self.fixed_side or DEFAULT_RESAMPLED_SIDE)
        self.bands = tuple(b.name for b in self.tiles[0].bands)
        self.source = f"{','.join(str(m) for m in np.atleast_1d(mosaics))} + {catalog}"
        self._pixels_cache: dict = {}

    def __len__(self) -> int:
        return len(self.positions)

    @property
    def pixel_scale_arcsec(self) -> float | None:
        """Pixel scale of the cutouts (None when it varies per object; see the meta column)."""
        return None if self.fixed_side is None else self.scale_arcsec * self.fixed_side / self.side

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_pixels_cache"] = {}  # memory maps are reopened in each process
        return state

    def _band_pixels(self, tile: int, band: int):
        key = (tile, band)
        if key not in self._pixels_cache:
            if len(self._pixels_cache) > 4 * len(self.bands):  # few tiles open at once
                self._pixels_cache.clear()
            self._pixels_cache[key] = self.tiles[tile].bands[band].pixels()
        return self._pixels_cache[key]

    def _locate(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For each row: the tile index (-1: off every footprint) and the reference pixel position."""
        n = stop - start
        best, x_best, y_best = np.full(n, -1), np.zeros(n), np.zeros(n)
        margin = np.full(n, -np.inf)
        if not self.positions.on_sky:
            candidates = [(0, np.arange(n), *self.positions.pixels(start, stop))]
        else:
            ra, dec = self.positions.sky(start, stop)
            candidates = []
            for index, tile in enumerate(self.tiles):
                near = np.flatnonzero(_separation_deg(ra, dec, *tile.centre_deg) <= tile.radius_deg * 1.01) if len(self.tiles) > 1 else np.arange(n)
                if len(near):
                    x, y = tile.wcs.world_to_pixel_values(ra[near], dec[near])
                    candidates.append((index, near, x, y))
        for index, rows, x, y in candidates:
            height, width = self.tiles[index].shape
            edge = np.minimum(np.minimum(x + 0.5, width - 0.5 - x), np.minimum(y + 0.5, height - 0.5 - y))
            edge = np.where(np.isfinite(edge), edge, -np.inf)
            better = edge > margin[rows]
            best[rows[better]], x_best[rows[better]], y_best[rows[better]], margin[rows[better]] = index, x[better], y[better], edge[better]
        best[margin < 0] = -1  # the centre is off every footprint
        return best, x_best, y_best

    def read(self, start: int, stop: int) -> tuple[np.ndarray, Table]:
        """Cutouts of rows ``start:stop`` of the catalog: images (n, bands, side, side) and metadata."""
        import torch

        from galmerge.data.transforms import crop_and_resize

        n = stop - start
        tiles, x, y = self._locate(start, stop)
        sides = self._sides(start, stop)
        images = np.zeros((n, len(self.bands), self.side, self.side), dtype=np.float32)
        outside, nonfinite, flags = np.zeros(n, np.float32), np.zeros(n, np.float32), np.zeros(n, np.int16)
        flags[tiles < 0] = NO_PIXELS_FLAG
        outside[tiles < 0] = nonfinite[tiles < 0] = 1.0
        for i in np.flatnonzero(tiles >= 0):
            side = int(sides[i])
            resample = side != self.side
            cube = np.empty((len(self.bands), side, side), dtype=np.float32) if resample else images[i]
            outside[i] = self._cut_into(cube, int(tiles[i]), x[i], y[i], side)
            if resample:  # a size per object: fill, then resample to the common side
                nonfinite[i], flags[i] = _fill(cube)
                if not flags[i]:
                    images[i] = crop_and_resize(torch.from_numpy(cube)[None], size=self.side)[0].numpy()
        # Most cutouts are whole and finite: one vectorised check, per-object work only for the rest.
        suspect = np.flatnonzero(~np.isfinite(images.reshape(n, -1).sum(axis=1)))
        for i in suspect:
            nonfinite[i], flags[i] = _fill(images[i])
        images[(flags & NO_PIXELS_FLAG) > 0] = 0.0
        flags[(outside > 0) & (tiles >= 0)] |= EDGE_FLAG
        return images, self._meta(start, stop, tiles, x, y, sides, outside, nonfinite, flags)

    def _sides(self, start: int, stop: int) -> np.ndarray:
        if self.fixed_side is not None:
            return np.full(stop - start, self.fixed_side)
        radius = self.positions.radius_arcsec
        assert radius is not None  # no fixed side: the size is a multiple of the radius column, read with the positions
        side_arcsec = self.size.value * radius[start:stop]
        return np.maximum(2, np.round(side_arcsec / self.scale_arcsec)).astype(int)

    def _cut_into(self, cube: np.ndarray, tile_index: int, x: float, y: float, side: int) -> float:
        """Fill ``cube`` (bands, side, side) with the cutout centred at reference pixel (x, y), NaN
        beyond the mosaic; return the fraction beyond it.

        Bands on the reference grid are sliced directly with ``Cutout2D``'s pixel convention
        (first pixel ceil(x - side/2)): per object, about 10x faster than building a Cutout2D.
        A band on another grid needs the cutout's WCS, so there ``Cutout2D`` does the cutting.
        """
        from astropy.nddata import Cutout2D

        tile = self.tiles[tile_index]
        height, width = tile.shape
        x0, y0 = int(np.ceil(x - side / 2)), int(np.ceil(y - side / 2))
        xa, xb, ya, yb = max(x0, 0), min(x0 + side, width), max(y0, 0), min(y0 + side, height)
        if xa >= xb or ya >= yb:
            cube.fill(np.nan)
            return 1.0
        whole = (xa, xb, ya, yb) == (x0, x0 + side, y0, y0 + side)
        if not whole:
            cube.fill(np.nan)
        target = (slice(ya - y0, yb - y0), slice(xa - x0, xb - x0))
        aligned = [band for band in range(len(tile.bands)) if tile.aligned[band]]
        for band in aligned:
            cube[band][target] = self._band_pixels(tile_index, band)[ya:yb, xa:xb]
        if len(aligned) < len(tile.bands):
            reference = Cutout2D(self._band_pixels(tile_index, 0), (x, y), side, mode="partial", fill_value=np.nan, wcs=tile.wcs)
            for band in range(len(tile.bands)):
                if not tile.aligned[band]:
                    cube[band] = self._reprojected(tile_index, band, reference.wcs, side)
        return 1.0 - (xb - xa) * (yb - ya) / side**2

    def _reprojected(self, tile_index: int, band_index: int, target_wcs, side: int) -> np.ndarray:
        from astropy.nddata import Cutout2D, NoOverlapError
        from reproject import reproject_interp

        band = self.tiles[tile_index].bands[band_index]
        edges = np.array([-0.5, side - 0.5])
        ra, dec = target_wcs.pixel_to_world_values(*np.meshgrid(edges, edges))
        bx, by = band.wcs.world_to_pixel_values(ra.ravel(), dec.ravel())
        centre = ((bx.min() + bx.max()) / 2, (by.min() + by.max()) / 2)
        extent = (int(np.ceil(by.max() - by.min())) + 4, int(np.ceil(bx.max() - bx.min())) + 4)
        try:
            source = Cutout2D(self._band_pixels(tile_index, band_index), centre, extent, mode="partial", fill_value=np.nan, wcs=band.wcs)
        except NoOverlapError:
            return np.full((side, side), np.nan, dtype=np.float32)
        values, footprint = reproject_interp((np.asarray(source.data, dtype=np.float64), source.wcs), target_wcs, shape_out=(side, side))
        return np.where(footprint > 0, values, np.nan).astype(np.float32)

    def _meta(self, start, stop, tiles, x, y, sides, outside, nonfinite, flags) -> Table:
        table = Table()
        table["id"] = self.positions.ids[start:stop]
        if self.positions.on_sky:
            table["ra"], table["dec"] = self.positions.sky(start, stop)
            table["ra"].unit = table["dec"].unit = "deg"
        table["tile"] = tiles.astype(np.int32)
        table["x_pixel"], table["y_pixel"] = x, y
        if self.fixed_side is None:
            table["pixel_scale_arcsec"] = (self.scale_arcsec * sides / self.side).astype(np.float32)
        table["outside_fraction"] = outside
        table["nonfinite_fraction"] = nonfinite
        table["cut_flags"] = flags
        return table


def _fill(cube: np.ndarray) -> tuple[float, int]:
    """Fill a cutout's non-finite pixels with its band's median, in place; (filled fraction, flag)."""
    bad = ~np.isfinite(cube)
    if not bad.any():
        return 0.0, 0
    if bad.reshape(len(cube), -1).all(axis=1).any():
        return float(bad.mean()), NO_PIXELS_FLAG
    for band, mask in zip(cube, bad):
        if mask.any():
            band[mask] = np.median(band[~mask])
    return float(bad.mean()), 0


@dataclass
class CutoutSummary:
    """What :func:`cut_mosaics` wrote."""

    path: Path
    n_objects: int
    n_edge: int
    n_no_pixels: int
    seconds: float
    shards: list


def _claim_cutout_output(out: Path, *, overwrite: bool) -> Path | None:
    """Apply galmerge's output policy (:mod:`galmerge.runs.outputs`) to a cutout output; return the shard folder, or None for one file.

    A file is refused if it exists, unless ``overwrite`` and it is an ImageSet file; a folder of
    shards is a marked output folder of kind ``cutouts`` (made here, empty).
    """
    if out.suffix.lower() in _SINGLE_FILE_SUFFIXES:
        output_file(out, overwrite=overwrite)
        if out.exists():
            if not _is_imageset_file(out):
                raise OutputExistsError(f"{out}: not cutouts galmerge wrote; refusing to replace it")
            out.unlink()
        return None
    return new_output_folder(out, kind=CUTOUT_KIND, overwrite=overwrite, what="folder of galmerge cutouts")


def _is_imageset_file(path: Path) -> bool:
    import h5py

    from galmerge.data.imageset import FILE_FORMAT

    try:
        with h5py.File(path, "r") as handle:
            return handle.attrs.get("format") == FILE_FORMAT
    except OSError:
        return False


def cut_mosaics(
    mosaics,
    catalog,
    *,
    size,
    out,
    pixels: int | None = None,
    bands=None,
    shard_rows: int = 50_000,
    chunk_rows: int = 1024,
    overwrite: bool = False,
    progress: bool = True,
) -> CutoutSummary:
    """Cut every source of a catalog from survey mosaics into ImageSet files.

    Parameters
    ----------
    mosaics, catalog, size, pixels, bands
        See :class:`MosaicCutter`.
    out : path
        One ImageSet file (``.h5``), or a folder of shards ``part-<k>.h5`` of ``shard_rows``
        objects each, in catalog order, with a ``cutouts.json`` manifest. Memory stays flat
        (one chunk of ``chunk_rows`` cutouts) whatever the number of sources.
    overwrite : bool
        Replace ``out`` if it holds earlier galmerge cutouts (never anything else).
    """
    from galmerge.catalog.progress import ObjectProgress
    from galmerge.data.imageset_writer import ImageSetWriter

    out = Path(out)
    cutter = MosaicCutter(mosaics, catalog, size=size, pixels=pixels, bands=bands)
    folder = _claim_cutout_output(out, overwrite=overwrite)  # after the inputs are checked: a bad input replaces nothing
    n = len(cutter)
    bounds = [(0, n)] if folder is None else [(s, min(n, s + shard_rows)) for s in range(0, n, shard_rows)]
    shards, n_edge, n_none = [], 0, 0
    with ObjectProgress(n, desc="cutting", enabled=progress) as bar:
        for number, (first, last) in enumerate(bounds):
            path = out if folder is None else folder / f"part-{number:05d}.h5"
            with ImageSetWriter(path, n_images=last - first, bands=cutter.bands, image_shape=(cutter.side, cutter.side), pixel_scale_arcsec=cutter.pixel_scale_arcsec, source=cutter.source) as writer:
                for start in range(first, last, chunk_rows):
                    images, meta = cutter.read(start, min(last, start + chunk_rows))
                    writer.write(images, meta)
                    n_edge += int(((meta["cut_flags"] & EDGE_FLAG) > 0).sum())
                    n_none += int(((meta["cut_flags"] & NO_PIXELS_FLAG) > 0).sum())
                    bar.update(len(images))
            shards.append(path.name)
        seconds = bar.seconds
    if folder is not None:
        manifest = {"format": "galmerge.cutouts", "shards": shards, "n_objects": n, "bands": list(cutter.bands), "source": cutter.source}
        (folder / CUTOUT_MANIFEST).write_text(json.dumps(manifest, indent=1))
    return CutoutSummary(path=out, n_objects=n, n_edge=n_edge, n_no_pixels=n_none, seconds=seconds, shards=shards)


def cutout_shards(folder) -> list[Path]:
    """The ImageSet shards of a cutout folder, in order (from its manifest, else every ``.h5``)."""
    folder = Path(folder)
    manifest = folder / CUTOUT_MANIFEST
    if manifest.exists():
        return [folder / name for name in json.loads(manifest.read_text())["shards"]]
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in (".h5", ".hdf5"))
