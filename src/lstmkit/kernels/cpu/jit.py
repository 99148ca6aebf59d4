"""How lstmkit compiles CPU code: numba, cached on disk, vectorisable.

* ``cache=True``: compiled machine code is written beside the sources (or, where that is read-only, to
  numba's user cache dir, or to ``NUMBA_CACHE_DIR``), so a second process does not recompile.
* ``error_model="numpy"``: no zero-division checks, so loops with divisions vectorise.
* ``fastmath``: four LLVM flags -- ``reassoc`` (sums may be reordered, so reductions vectorise), ``contract``
  (a * b + c may become one FMA), ``arcp`` (x / y may become x * (1 / y)) and ``nsz`` (the sign of a zero
  may be ignored). Not ``nnan`` / ``ninf``: NaN and inf keep their meaning, so a NaN input still shows.
* ``nogil=True``: kernels release the GIL.
"""

from __future__ import annotations

import numba

FASTMATH = {"reassoc", "contract", "arcp", "nsz"}

jit = numba.njit(cache=True, fastmath=FASTMATH, error_model="numpy", nogil=True)
#: the same, with ``numba.prange`` loops split across threads
pjit = numba.njit(cache=True, fastmath=FASTMATH, error_model="numpy", nogil=True, parallel=True)


def jit_inline(fn):
    """A jitted helper that LLVM inlines into its callers (per-element math)."""
    return numba.njit(cache=True, fastmath=FASTMATH, error_model="numpy", inline="always")(fn)
