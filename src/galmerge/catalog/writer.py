"""A catalog written as it is computed: numbered parts beside the output, joined at the end.

Rows are predicted in parts of a fixed number of rows, and part ``k`` (rows ``k*part_rows`` to
``(k+1)*part_rows``) is written to ``<out>.parts/part-<k>.parquet`` under a temporary name and
renamed when complete, so a part exists whole or not at all. A killed run leaves its finished
parts; ``resume`` skips them and computes the rest, and the parts are joined in order into the
output. Every row is therefore written exactly once, whatever was interrupted and whichever
process (or Dask worker) wrote which part, and the output equals an uninterrupted run's.

Parquet (pyarrow) is the format at scale: the join streams part by part in constant memory.
FITS and ECSV outputs are joined in memory by astropy (about 60 bytes per row).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from galmerge.errors import ConfigError, DataError, OutputExistsError
from galmerge.runs import output_file

__all__ = ["CatalogParts", "claim_output", "CATALOG_SUFFIXES", "read_catalog", "catalog_metadata"]

CATALOG_SUFFIXES = (".parquet", ".fits", ".fit", ".ecsv", ".csv")
METADATA_KEY = "galmerge"
_STATE = "state.json"


def _require_pyarrow():
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise ConfigError("streaming catalogs need pyarrow: pip install 'galmerge[survey]'") from None


def claim_output(out, *, overwrite: bool, resume: bool) -> bool:
    """Apply galmerge's output policy to a catalog path; return True when earlier parts are to be resumed.

    - A new path is written (``resume`` with nothing to resume simply starts).
    - An existing catalog is refused by :func:`galmerge.runs.output_file` unless ``overwrite``,
      and then replaced only if galmerge wrote it.
    - Parts of an interrupted run are continued with ``resume``, discarded with ``overwrite``,
      and otherwise refused, so nothing is lost by accident.
    """
    out = Path(out)
    if out.suffix.lower() not in CATALOG_SUFFIXES:
        raise DataError(f"{out}: unknown catalog format; use one of {', '.join(CATALOG_SUFFIXES)}")
    _require_pyarrow()  # the parts are Parquet whatever the final format
    if overwrite and resume:
        raise ConfigError("--overwrite and --resume exclude each other: start again, or continue")
    parts = CatalogParts.folder_for(out)
    if out.exists() and resume:
        raise OutputExistsError(f"{out}: already complete; nothing to resume (pass --overwrite to compute it again)")
    output_file(out, overwrite=overwrite)  # the one rule: an existing output is refused unless overwrite
    if out.exists():
        if catalog_metadata(out) is None:
            raise OutputExistsError(f"{out}: not a catalog galmerge wrote; refusing to replace it")
        out.unlink()
    if parts.exists():
        if resume:
            return True
        if not overwrite:
            raise OutputExistsError(f"{parts}: parts of an interrupted catalog; pass --resume to continue it or --overwrite to start again")
        if not (parts / _STATE).exists():
            raise OutputExistsError(f"{parts}: not a folder of galmerge catalog parts; refusing to delete it")
        shutil.rmtree(parts)
    return False


class CatalogParts:
    """The folder of parts of one catalog.

    Parameters
    ----------
    out : path
        The final catalog; parts live in ``<out>.parts/``.
    """

    def __init__(self, out):
        self.out = Path(out)
        self.folder = self.folder_for(self.out)

    @staticmethod
    def folder_for(out) -> Path:
        out = Path(out)
        return out.with_name(out.name + ".parts")

    def part_path(self, index: int) -> Path:
        return self.folder / f"part-{index:06d}.parquet"

    def start(self, state: dict, *, resume: bool) -> None:
        """Record the settings of this catalog; a resumed one must have been started with the same."""
        path = self.folder / _STATE
        state = json.loads(json.dumps(state, sort_keys=True))  # as recorded: tuples become lists
        if resume and path.exists():
            recorded = json.loads(path.read_text())
            if recorded != state:
                changed = sorted(k for k in set(state) | set(recorded) if state.get(k) != recorded.get(k))
                raise ConfigError(f"{self.folder}: the parts were written with other settings ({', '.join(changed)}); pass --overwrite to start again")
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        _write_atomic(path, json.dumps(state, indent=1, sort_keys=True).encode())

    def done(self) -> set[int]:
        """Indices of the parts already complete."""
        if not self.folder.exists():
            return set()
        return {int(p.stem.split("-")[1]) for p in self.folder.glob("part-*.parquet")}

    def write_part(self, index: int, columns: dict) -> None:
        """Write one part whole (a temporary file renamed into place)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = self.part_path(index)
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        pq.write_table(pa.table(columns), partial, compression="zstd")
        os.replace(partial, path)

    def join(self, n_parts: int, *, metadata: dict) -> Path:
        """Join parts 0..n_parts-1 in order into the output, then delete the parts."""
        missing = sorted(set(range(n_parts)) - self.done())
        if missing:
            raise DataError(f"{self.folder}: parts {missing[:5]} are missing; run again with --resume")
        partial = self.out.with_name(self.out.name + ".partial")
        if self.out.suffix.lower() == ".parquet":
            _join_parquet([self.part_path(i) for i in range(n_parts)], partial, metadata)
        else:
            _join_astropy([self.part_path(i) for i in range(n_parts)], partial, metadata, self.out.suffix.lower())
        os.replace(partial, self.out)
        shutil.rmtree(self.folder)
        return self.out


def _write_atomic(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    os.replace(partial, path)


def _join_parquet(paths, out: Path, metadata: dict) -> None:
    import pyarrow.parquet as pq

    schema = pq.read_schema(paths[0]).with_metadata({METADATA_KEY: json.dumps(metadata, sort_keys=True)})
    with pq.ParquetWriter(out, schema, compression="zstd") as writer:
        for path in paths:
            writer.write_table(pq.read_table(path).replace_schema_metadata(schema.metadata))


def _join_astropy(paths, out: Path, metadata: dict, suffix: str) -> None:
    import warnings

    import pyarrow as pa
    import pyarrow.parquet as pq
    from astropy.io.fits.verify import VerifyWarning
    from astropy.table import Table

    from galmerge.catalog.predict import _flat_header

    joined = pa.concat_tables([pq.read_table(p) for p in paths])
    table = Table({name: joined.column(name).to_numpy() for name in joined.column_names})
    if suffix in (".fits", ".fit"):
        table.meta = _flat_header({METADATA_KEY: "1", **metadata})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", VerifyWarning)  # long keywords become HIERARCH cards, as intended
            table.write(out, format="fits")
    else:
        table.meta = {METADATA_KEY: metadata}
        table.write(out, format="ascii.ecsv" if suffix == ".ecsv" else "ascii.csv")


def catalog_metadata(path) -> dict | None:
    """The galmerge header of a catalog file, or None if galmerge did not write it."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            raw = (pq.read_schema(path).metadata or {}).get(METADATA_KEY.encode())
            return None if raw is None else json.loads(raw)
        if suffix in (".fits", ".fit"):
            from astropy.io import fits

            header = fits.getheader(path, 1)
            return dict(header) if header.get(METADATA_KEY.upper()) is not None or "THRESHOLDS_DEFAULT" in header else None
        if suffix == ".ecsv":
            from astropy.table import Table

            meta = Table.read(path, format="ascii.ecsv").meta
            return meta.get(METADATA_KEY) or (dict(meta) if "thresholds" in meta else None)
        if suffix == ".csv":  # CSV carries no header: recognise galmerge's columns
            with open(path) as handle:
                first = handle.readline().strip().split(",")
            return {"columns": first} if {"id", "p_merger", "flags"} <= set(first) else None
    except Exception:  # unreadable: not ours
        return None
    return None


def read_catalog(path):
    """A catalog file (Parquet, FITS, ECSV, CSV) as an astropy Table."""
    from astropy.table import Table

    path = Path(path)
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        arrow = pq.read_table(path)
        table = Table({name: arrow.column(name).to_numpy(zero_copy_only=False) for name in arrow.column_names})
        table.meta = catalog_metadata(path) or {}
        return table
    return Table.read(path)


def column_arrays(table) -> dict:
    """Plain numpy columns of an astropy Table (strings as str), ready for a Parquet part."""
    out = {}
    for name in table.colnames:
        values = np.asarray(table[name])
        out[name] = values.astype(str) if values.dtype.kind in "SU" else values
    return out
