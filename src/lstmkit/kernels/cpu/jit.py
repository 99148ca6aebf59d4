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


def at(a, t):
    """a[t], or None where ``a`` is None: an optional per-step (or per-row) array's slice. In compiled code
    (the overload below) the result is typed exactly -- None, or the slice's array type -- where
    ``None if a is None else a[t]`` is typed Optional: that would compile the callee once more (a compiled
    loop's call would not share the specialisation the stepped driver's call from Python compiled) and
    keep the None test at run time."""
    return None if a is None else a[t]


@numba.extending.overload(at, inline="always")
def _at(a, t):
    if isinstance(a, numba.types.NoneType):
        return lambda a, t: None
    return lambda a, t: a[t]
