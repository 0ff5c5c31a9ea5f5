"""Single-threaded BLAS for the duration of a paper run.

numpy and scipy each load their own OpenBLAS, which by default starts one thread per
core.  The probes here are many small dense problems (d <= a few hundred); on a small
or shared CPU those threads spin against each other and against torch, and a probe that
takes 2 s single-threaded takes 30 s.  :func:`blas_threads` sets the thread count of
every loaded OpenBLAS through its C API (the environment variables only act before numpy
is imported) and restores it afterwards.  Shared by the paper runs.
"""

from __future__ import annotations

import contextlib
import ctypes
import re

_SET = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads", "openblas_set_num_threads64_",
        "openblas_set_num_threads")
_GET = ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads", "openblas_get_num_threads64_",
        "openblas_get_num_threads")


def _libraries() -> list:
    import numpy  # noqa: F401  (load numpy's and scipy's BLAS first)
    import scipy.linalg  # noqa: F401

    try:
        with open("/proc/self/maps") as fh:
            paths = sorted(set(re.findall(r"(/\S*openblas\S*\.so[\S]*)", fh.read())))
    except OSError:  # not Linux: leave BLAS alone
        return []
    libs = []
    for p in paths:
        try:
            lib = ctypes.CDLL(p)
        except OSError:
            continue
        setter = next((getattr(lib, s) for s in _SET if hasattr(lib, s)), None)
        getter = next((getattr(lib, s) for s in _GET if hasattr(lib, s)), None)
        if setter is not None and getter is not None:
            libs.append((setter, getter))
    return libs


@contextlib.contextmanager
def blas_threads(n: int = 1):
    """``with blas_threads(1): ...`` -- every loaded OpenBLAS uses ``n`` threads inside."""
    libs = _libraries()
    before = [int(get()) for _, get in libs]
    for set_, _ in libs:
        set_(int(n))
    try:
        yield
    finally:
        for (set_, _), k in zip(libs, before):
            set_(k)
