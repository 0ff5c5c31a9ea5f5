"""Where a sweep's runs execute: a local process pool, or a Ray cluster (``qbelief[ray]``).

:func:`run_tasks` maps :func:`nets.sweep_run.run_one` over the tasks and yields each
run's summary as it finishes (completion order).

- ``local`` (default): ``workers`` processes (``spawn``: each imports torch afresh, about
  2 s, and never inherits the parent's threads or locks), each run with ``threads`` torch
  threads; ``workers == 1`` runs in this process, one run after another.  Size: the CPUs
  this process may use divided by ``threads`` (:func:`nets.sweep_run.default_workers`).
- ``ray``: ``ray.init(address=...)`` -- ``None`` starts a local instance with ``workers``
  CPUs; ``"auto"`` or ``"ray://host:10001"`` joins a cluster -- and one Ray task per run
  asking ``threads`` CPUs.  The nodes need qbelief installed and the sweep's folder on a
  shared filesystem (each run writes its own directory; nothing else is shared).  A Ray
  instance this function started is shut down when it ends.

Each run is a plain training directory: a run that needs several GPUs can be trained
beforehand with ``qbelief train --resume --out RUN --nproc N`` (torchrun, DDP) from the
``config.json`` that ``qbelief sweep --prepare`` wrote, and the sweep then finds it
finished and only probes it.
"""

from __future__ import annotations

from typing import Iterable, Iterator

from generators.validation import check_choice, check_int

__all__ = ["BACKENDS", "run_tasks", "ray_available"]

BACKENDS = ("local", "ray")


def ray_available() -> bool:
    """Whether Ray is installed (nothing is imported)."""
    import importlib.util

    return importlib.util.find_spec("ray") is not None


def run_tasks(tasks: Iterable[dict], *, backend: str = "local", workers: int = 1, address: str | None = None,
              threads: int = 1) -> Iterator[dict]:
    """The summaries of ``tasks`` (see the module docstring), as they finish."""
    check_choice(backend, "backend", BACKENDS)
    workers = check_int(workers, "workers", minimum=1)
    tasks = list(tasks)
    if backend == "ray":
        yield from _ray(tasks, workers, address, check_int(threads, "threads", minimum=1))
    elif address is not None:
        raise ValueError(f"--address {address!r} goes with --backend ray; the local backend needs none")
    elif workers == 1 or len(tasks) <= 1:
        from .sweep_run import run_one

        for t in tasks:
            yield run_one(t)
    else:
        yield from _pool(tasks, min(workers, len(tasks)))


def _pool(tasks: list, workers: int) -> Iterator[dict]:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from .sweep_run import run_one

    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        futures = [pool.submit(run_one, t) for t in tasks]
        try:
            for f in as_completed(futures):
                yield f.result()
        finally:
            for f in futures:
                f.cancel()


def _ray(tasks: list, workers: int, address: str | None, threads: int) -> Iterator[dict]:
    if not ray_available():
        raise ValueError("--backend ray needs Ray: pip install 'qbelief[ray]'")
    import ray

    from .sweep_run import run_one

    started = not ray.is_initialized()
    if started:
        options = {"num_cpus": workers * threads} if address is None else {}
        ray.init(address=address, include_dashboard=False, log_to_driver=False, **options)
    try:
        remote = ray.remote(num_cpus=threads, max_retries=0)(run_one)
        pending = [remote.remote(t) for t in tasks]
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            yield ray.get(ready[0])
    finally:
        if started:
            ray.shutdown()
