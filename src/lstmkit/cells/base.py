"""What every cell family shares: the parameter layout description and the single-step module.

A cell family (``lstm.py``, ``gru.py``, ``rnn.py``) provides

* a frozen *spec* dataclass: the options of one layer-direction (sizes, variant switches), with a
  :meth:`CellSpec.layout` that lists its parameters in torch.nn's registration order;
* a *weights* NamedTuple: the same parameters as plain tensors, the form kernels receive;
* a *step* function ``step(spec, weights, x_t, state) -> (h_t, new_state)`` in torch ops;
* a :class:`CellModule` subclass whose docstring holds the family's equations.

Nothing here knows about kernels or layers.
"""

from __future__ import annotations

import math
import weakref
from abc import ABC, abstractmethod
import json
from dataclasses import asdict, dataclass, fields
from typing import Callable, NamedTuple, Optional, Sequence

import torch
from torch import Tensor, nn

from ..errors import DeviceError, DTypeError, ShapeError
from .repeat import CellRepeat

__all__ = ["ParamInfo", "CellSpec", "CellModule", "check_prob", "check_size"]


@dataclass(frozen=True)
class ParamInfo:
    """One parameter of a cell: its field in the weights tuple, its torch.nn name stem and shape.

    ``init`` is ``"uniform"`` (torch.nn's U(-1/sqrt(H), 1/sqrt(H))), ``"ones"`` or ``"zeros"``.
    """

    field: str
    name: str
    shape: tuple[int, ...]
    init: str = "uniform"


def check_size(name: str, value: object, minimum: int = 1) -> int:
    """Validate an integer size argument; the message names expected and actual."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} ({value!r})")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_prob(name: str, value: object) -> float:
    """Validate a probability in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a float in [0, 1), got {type(value).__name__} ({value!r})")
    if not 0.0 <= float(value) < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value}")
    return float(value)


@dataclass(frozen=True)
class CellSpec(ABC):
    """Options of one layer-direction of a cell family. Subclasses add their switches."""

    input_size: int
    hidden_size: int
    bias: bool = True

    family = "cell"
    #: number of state tensors carried between steps (LSTM: h and c; GRU, RNN: h)
    num_states = 1

    def __post_init__(self) -> None:
        check_size("input_size", self.input_size, minimum=0)       # torch.nn's cells take 0 (layers do not)
        check_size("hidden_size", self.hidden_size, minimum=0)
        # the spec as JSON, computed once here (not while torch.compile traces): the custom ops' argument
        object.__setattr__(self, "config_json", json.dumps({"family": self.family, "spec": asdict(self)},
                                                           sort_keys=True))

    @property
    def out_size(self) -> int:
        """Size of h_t (the output and the recurrent input)."""
        return self.hidden_size

    def state_sizes(self) -> tuple[int, ...]:
        """Sizes of the carried state tensors, in order (h first)."""
        return (self.out_size,)

    @abstractmethod
    def layout(self) -> list[ParamInfo]:
        """Parameters in registration order (torch.nn's order for the standard ones)."""

    @abstractmethod
    def weights_type(self) -> type:
        """The family's weights NamedTuple."""

    def variant_options(self) -> dict:
        """Options set away from their defaults that torch.nn's cell does not have."""
        shared = {"input_size", "hidden_size", "bias", "nonlinearity"}
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name not in shared and getattr(self, f.name) != f.default}

    def make_weights(self, params: dict[str, Tensor | None]) -> NamedTuple:
        """Build the family's weights tuple from ``{field: tensor}`` (absent fields become None)."""
        cls = self.weights_type()
        return cls(**{f: params.get(f) for f in cls._fields})

    def init_(self, params: dict[str, Tensor], generator: torch.Generator | None = None) -> None:
        """Initialise parameters in place, in layout order (same RNG stream as torch.nn)."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0.0
        with torch.no_grad():
            for info in self.layout():
                p = params[info.field]
                if info.init == "uniform":
                    p.uniform_(-stdv, stdv, generator=generator)
                elif info.init == "ones":
                    p.fill_(1.0)
                else:
                    p.zero_()


#: (spec, dtype) -> the CPU kernel that runs a cell's no-gradient step, or False (the torch-ops step)
_COMPILED_STEP: dict = {}
#: per cell, its last compiled step kept to run the next one like it (:mod:`.repeat`); outside the module:
#: a saved or copied cell carries none
_REPEATS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


class CellModule(nn.Module):
    """A single layer-direction as a module, called exactly as torch.nn's cells:
    ``h_t = cell(x_t, h)`` (GRU, RNN) or ``h_t, c_t = cell(x_t, (h, c))`` (LSTM), with torch.nn's checks,
    messages and exception types; :meth:`step` gives the family-neutral ``(h_t, state)`` form. A step that
    needs no gradient (``torch.no_grad()``, inference mode, nothing requiring one) runs the CPU kernel's
    compiled single step where it takes the cell (the layers' one-step route); otherwise the torch-ops step,
    which autograd differentiates.

    Parameters are registered under torch.nn's cell names (``weight_ih``, ``weight_hh``, ``bias_ih``,
    ``bias_hh``) plus the variant's own. Subclasses set ``spec`` and ``_step``.
    """

    spec: CellSpec
    _step: Callable
    _torch_cls: type = nn.Module
    _torch_args: tuple[str, ...] = ("input_size", "hidden_size", "bias")

    def _register(self, spec: CellSpec, device=None, dtype=None) -> None:
        self.spec = spec
        self.input_size, self.hidden_size, self.bias = spec.input_size, spec.hidden_size, spec.bias
        self._fields: list[tuple[str, str]] = []
        for info in spec.layout():
            p = nn.Parameter(torch.empty(info.shape, device=device, dtype=dtype))
            self.register_parameter(info.name, p)
            self._fields.append((info.field, info.name))
        if not spec.bias:                                   # torch.nn's cells have the attributes, as None
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.spec.init_(self._params_by_field())

    def _params_by_field(self) -> dict[str, Tensor]:
        return {field: getattr(self, name) for field, name in self._fields}

    def weights(self) -> NamedTuple:
        """The parameters as the family's weights tuple (what kernels and step functions take)."""
        return self.spec.make_weights(self._params_by_field())

    def init_state(self, batch: int | None = None) -> tuple[Tensor, ...]:
        """Zero state: a tuple of tensors shaped (batch, size) (or (size,) when batch is None)."""
        p = next(self.parameters())
        lead = () if batch is None else (batch,)
        return tuple(p.new_zeros(lead + (n,)) for n in self.spec.state_sizes())

    def forward(self, input: Tensor, hx=None):
        """One step, as torch.nn's cell: ``input`` (B, I) or (I,); ``hx`` the state (h (B, P) for GRU and
        RNN, the tuple (h (B, P), c (B, H)) for LSTM; no B dim when unbatched; None for zeros). Returns the
        new state in the same form."""
        _, state = self.step(input, _torch_hx(self.spec, hx))
        return state[0] if len(state) == 1 else state

    def step(self, x: Tensor, state: Sequence[Tensor] | Tensor | None = None):
        """One step in the family-neutral form: ``(h_t, new_state)`` with ``new_state`` a tuple ((h_t,) or
        (h_t, c_t)). ``x``: (B, input_size) or (input_size,); ``state`` a tuple of (B, size) tensors (a bare
        tensor for one-state families), or None for zeros."""
        repeat = _REPEATS.get(self)
        if repeat is not None:
            new_state = repeat(self, x, state)
            if new_state is not None:
                return new_state[0], new_state
            _REPEATS.pop(self, None)                  # stale: the general path keeps a new one if it can
        spec, name = self.spec, type(self).__name__
        if not isinstance(x, Tensor):
            raise TypeError(f"{name}: input must be a torch.Tensor, got {type(x).__name__}")
        if x.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {x.dim()}D instead "
                             f"(shape {tuple(x.shape)})")
        states = None if state is None else _as_tuple(state)
        if states is not None:
            _check_state_dims(name, spec, states)
        batched = x.dim() == 2
        xb = x if batched else x.unsqueeze(0)
        w = self.weights()
        _check_input(xb, spec)
        if states is None:
            states = tuple(xb.new_zeros(xb.size(0), n) for n in spec.state_sizes())
        else:
            states = states if batched else tuple(s.unsqueeze(0) for s in states)
            _check_state(spec, states, xb)
        if xb.dtype != w.w_ih.dtype:
            raise DTypeError(f"input dtype ({xb.dtype}) does not match weight dtype ({w.w_ih.dtype}): convert "
                             f"the input with .to({w.w_ih.dtype}) or the cell with .to({xb.dtype})")
        kernel = self._compiled_step(xb, states, w)
        if kernel is not None:                    # no gradient through this call: the compiled single step
            # kept: the next step like it skips what came before (it holds the weights' views the step reads)
            repeat = CellRepeat(self, x, state, kernel, w, states) if CellRepeat.applies(self, x, state) else None
            new_state = tuple(kernel.step(spec, w, xb, states, views=None if repeat is None else repeat.views))
            h = new_state[0]
            if repeat is not None:
                _REPEATS[self] = repeat
        else:
            h, new_state = type(self)._step(spec, w, xb, states)
        if not batched:
            return h.squeeze(0), tuple(s.squeeze(0) for s in new_state)
        return h, new_state

    def _compiled_step(self, xb: Tensor, states: tuple, w) -> Optional[object]:
        """The CPU kernel whose compiled single step (:meth:`lstmkit.kernels.cpu.CpuKernel.step`, the layers'
        one-step route) runs this call, when nothing needs its gradient (no_grad, inference, or no tensor
        requiring one) and the CPU kernel takes the cell; else None (the torch-ops step, autograd's)."""
        from .. import kernels
        if xb.device.type != "cpu" or xb.dtype not in (torch.float32, torch.float64) or \
                torch.compiler.is_compiling() or torch.jit.is_tracing():
            return None
        if kernels.needs_node(xb, (*states, *(t for t in w if t is not None))):
            return None
        key = (self.spec, xb.dtype)
        kernel = _COMPILED_STEP.get(key)
        if kernel is None:
            chosen = kernels.select("auto", self.spec, xb)
            kernel = _COMPILED_STEP[key] = chosen if getattr(chosen, "name", None) == "cpu" else False
        return kernel or None

    def to_torch(self) -> nn.Module:
        """The equivalent torch.nn cell with a copy of these weights (standard configurations only)."""
        extra = self.spec.variant_options()
        if extra:
            raise ValueError(f"{type(self).__name__} with {extra} has no torch.nn.{self._torch_cls.__name__} "
                             f"equivalent; to_torch() needs those options at their defaults")
        p = next(self.parameters())
        mod = self._torch_cls(**{k: getattr(self.spec, k) for k in self._torch_args}, device=p.device, dtype=p.dtype)
        mod.load_state_dict(self.state_dict(), strict=True)
        return mod

    @classmethod
    def from_torch(cls, module: nn.Module):
        """A cell with the configuration and a copy of the weights of the torch.nn cell ``module``."""
        if not isinstance(module, cls._torch_cls):
            raise TypeError(f"from_torch expects a torch.nn.{cls._torch_cls.__name__}, got {type(module).__name__}")
        p = next(module.parameters())
        cell = cls(**{k: getattr(module, k) for k in cls._torch_args}, device=p.device, dtype=p.dtype)
        cell.load_state_dict(module.state_dict(), strict=True)
        return cell

    def extra_repr(self) -> str:
        """As torch.nn's cells (``LSTMCell(2, 3)``, then the options that differ from their defaults)."""
        s = f"{self.spec.input_size}, {self.spec.hidden_size}"
        if self.spec.bias is not True:
            s += f", bias={self.spec.bias}"
        if getattr(self.spec, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.spec.nonlinearity}"
        for k, v in self.spec.variant_options().items():
            s += f", {k}={v}"
        return s


def _torch_hx(spec: CellSpec, hx):
    """torch.nn's cell ``hx`` (a tensor, or LSTM's (h, c)) as a state tuple, with torch.nn's checks."""
    if hx is None:
        return None
    if spec.num_states == 1:
        if not isinstance(hx, Tensor):
            raise TypeError(f"hx must be a tensor h (batch, {spec.hidden_size}), got {type(hx).__name__}")
        return (hx,)
    if not isinstance(hx, (tuple, list)) or len(hx) != spec.num_states or not all(isinstance(t, Tensor) for t in hx):
        raise TypeError(f"hx must be a tuple (h, c) of 2 tensors, got {type(hx).__name__}")
    return tuple(hx)


def _as_tuple(state) -> tuple[Tensor, ...]:
    return (state,) if isinstance(state, Tensor) else tuple(state)


def _check_state_dims(name: str, spec: CellSpec, state: tuple[Tensor, ...]) -> None:
    if len(state) != spec.num_states:
        raise TypeError(f"{name}: the state must hold {spec.num_states} tensor(s) for {spec.family}, "
                        f"got {len(state)}")
    for k, s in enumerate(state):
        if not isinstance(s, Tensor):
            raise TypeError(f"{name}: state[{k}] must be a torch.Tensor, got {type(s).__name__}")
        if s.dim() not in (1, 2):
            which = f"hx[{k}]" if spec.num_states > 1 else "hidden"
            raise ValueError(f"{name}: Expected {which} to be 1D or 2D, got {s.dim()}D instead (shape {tuple(s.shape)})")


def _check_input(x: Tensor, spec: CellSpec) -> None:
    if x.size(1) != spec.input_size:
        raise ShapeError(f"input has inconsistent input_size: got {x.size(1)} expected {spec.input_size}")


def _check_state(spec: CellSpec, state: tuple[Tensor, ...], x: Tensor) -> None:
    """torch.nn's cell checks (per state tensor: batch, then size), then dtype and device."""
    for k, (s, n) in enumerate(zip(state, spec.state_sizes())):
        if s.dim() != 2:
            raise ShapeError(f"hidden{k} must be 2-D (batch, {n}) for a batched input, got shape {tuple(s.shape)}")
        if s.size(0) != x.size(0):
            raise ShapeError(f"Input batch size {x.size(0)} doesn't match hidden{k} batch size {s.size(0)}")
        if s.size(1) != n:
            raise ShapeError(f"hidden{k} has inconsistent hidden_size: got {s.size(1)}, expected {n}")
        if s.dtype != x.dtype:
            raise DTypeError(f"hidden{k} dtype ({s.dtype}) does not match the input's ({x.dtype})")
        if s.device != x.device:
            raise DeviceError(f"Input and hidden tensors are not at the same device, found input tensor at "
                              f"{x.device} and hidden{k} tensor at {s.device}")
