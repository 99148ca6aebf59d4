"""GPU kernels: the Triton kernels of every cell family (:class:`TritonKernel`) and the cuDNN route
(:mod:`.cudnn`).

The Triton kernels follow the reference's plan (haste's): one GEMM for W_ih x_t over all steps; per step the
recurrent GEMM (cuBLAS through torch) and **one fused Triton kernel** for the gate arithmetic of the cell
and its variants (peepholes, layer norm of the cell state, CIFG, zoneout, lengths); the backward per step one
fused Triton kernel for the gate derivatives and one GEMM for dh_{t-1}, then the weight gradients as GEMMs
over all steps (deterministic: no atomics). On a GPU each loop is replayed from a CUDA graph after its
first call (:mod:`.graphs`), so small steps are not held back by kernel launches. What the forward saves
has the reference's layout, so recording, the node's backward and the reference's weight-gradient GEMMs are
shared.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Callable, Optional

from ..base import FamilyOps, Kernel, classic_unsupported
from .graphs import Graphed
from .triton_env import family_module, unsupported_device

__all__ = ["TritonKernel"]


#: families whose Triton kernels could not be built on this machine, with the reason
BROKEN: dict[str, str] = {}


def _build_error(e: Exception) -> bool:
    """Whether ``e`` says Triton could not build a kernel for this GPU (not a wrong input)."""
    from triton.compiler.errors import CompilationError
    from triton.runtime.errors import OutOfResources, PTXASError
    return isinstance(e, (CompilationError, OutOfResources, PTXASError))


class Fallback:
    """A family's Triton forward or backward that, if Triton cannot build its kernels on this GPU, warns once
    and runs the reference's instead from then on (same saved layout), rather than failing the user's
    model."""

    def __init__(self, family: str, fn: Callable, reference: Callable) -> None:
        self.family, self.fn, self.reference = family, fn, reference

    def __call__(self, *args):
        if self.family not in BROKEN:
            try:
                return self.fn(*args)
            except Exception as e:
                if not _build_error(e):
                    raise
                BROKEN[self.family] = f"{type(e).__name__}: {str(e)[:300]}"
                warnings.warn(f"the Triton {self.family} kernel could not be built on this device "
                              f"({BROKEN[self.family]}); lstmkit runs the reference kernel for it instead "
                              f"(slower; please report this)", RuntimeWarning, stacklevel=2)
        return self.reference(*args)


class _LazyFamilies(Mapping):
    """family -> :class:`FamilyOps`, each module (and triton with it) imported on first use."""

    def __init__(self, names: tuple) -> None:
        self._names, self._ops = names, {}

    def __getitem__(self, family: str) -> FamilyOps:
        if family not in self._names:
            raise KeyError(family)
        if family not in self._ops:                         # the loops replayed from CUDA graphs on a GPU
            from ..reference import ReferenceKernel
            ops, ref = family_module(family).OPS, ReferenceKernel.families[family]
            self._ops[family] = ops._replace(forward=Graphed(Fallback(family, ops.forward, ref.forward)),
                                             backward=Graphed(Fallback(family, ops.backward, ref.backward)))
        return self._ops[family]

    def __iter__(self):
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


class TritonKernel(Kernel):
    """``backend="triton"``: the fused Triton step kernels, on CUDA (or CPU tensors in Triton's
    interpreter). Chosen by ``auto`` on CUDA for what the cuDNN route cannot run."""

    name = "triton"
    _FAMILIES = ("lstm", "gru", "rnn")

    def __init__(self) -> None:
        self.families = _LazyFamilies(self._FAMILIES)

    def unsupported(self, spec, x) -> Optional[str]:
        why = unsupported_device(x)
        if why is not None:
            return why
        if spec.family not in self._FAMILIES:
            return f"the triton kernel has no {spec.family} implementation"
        why = classic_unsupported(self, spec)
        if why is not None:
            return why
        check = getattr(family_module(spec.family), "unsupported", None)
        return None if check is None else check(spec, x)
