"""The parts of a catalog computed by Dask workers, on one machine or a cluster.

Each part of the catalog (:mod:`galmerge.catalog.writer`) is one Dask task: the worker opens the
models and the input once (they must be on a file system it can read), computes the rows, and
writes its part file itself. Nothing but a row count travels back. A worker that dies costs
only its part, which Dask runs again elsewhere (``retries``); a catalog whose driver dies is
finished by running the same command again with ``--resume``.

Clusters (``cluster=``):

- ``"local"`` or ``"local:N"``: a ``LocalCluster`` of N single-threaded worker processes
  (default: one per two cores);
- ``"tcp://host:8786"``: a running scheduler (``dask scheduler`` plus ``dask worker`` jobs);
- ``"slurm:N"`` / ``"pbs:N"``: dask-jobqueue's ``SLURMCluster`` / ``PBSCluster`` with N jobs,
  configured (queue, cores, memory, walltime) in ``~/.config/dask/jobqueue.yaml``;
- a ``dask.distributed.Client`` made by the caller.
"""

from __future__ import annotations

import os

from galmerge.errors import ConfigError

__all__ = ["compute_on_cluster", "connect"]

_RETRIES = 2


def connect(cluster):
    """(client, cluster object to close or None) for a cluster description."""
    from dask.distributed import Client, LocalCluster

    if isinstance(cluster, Client):
        return cluster, None
    text = str(cluster).strip()
    kind, _, count = text.partition(":")
    if text.startswith(("tcp://", "tls://", "ucx://")):
        return Client(text), None
    if count and not count.isdigit():
        raise ConfigError(f"cluster {text!r}: the count after ':' must be a whole number")
    if kind == "local":
        workers = int(count) if count else max(1, (os.cpu_count() or 2) // 2)
        import logging

        local = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, worker_dashboard_address=None, silence_logs=logging.ERROR)
        return Client(local), local
    if kind in ("slurm", "pbs"):
        import dask_jobqueue

        queue = (dask_jobqueue.SLURMCluster if kind == "slurm" else dask_jobqueue.PBSCluster)()
        queue.scale(jobs=int(count or 1))
        return Client(queue), queue
    raise ConfigError(f"unknown cluster {text!r}: give local, local:N, tcp://HOST:PORT, slurm:N or pbs:N")


def _compute_part(job, index: int) -> int:
    from galmerge.catalog.stream import compute_parts

    return compute_parts(job, [index])


def compute_on_cluster(job, indices, cluster, *, on_part=None) -> None:
    """Compute the given parts of ``job`` as Dask tasks, one per part."""
    from dask.distributed import as_completed

    client, owned = connect(cluster)
    try:
        futures = client.map(_compute_part, [job] * len(indices), list(indices), pure=False, retries=_RETRIES)
        for future in as_completed(futures):
            rows = future.result()
            if on_part is not None:
                on_part(rows)
    finally:
        if owned is not None:
            client.close()
            owned.close()
