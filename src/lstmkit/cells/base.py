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
from abc import ABC, abstractmethod
import json
from dataclasses import asdict, dataclass, fields
from typing import Callable, NamedTuple, Sequence

import torch
from torch import Tensor, nn

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
        check_size("input_size", self.input_size)
        check_size("hidden_size", self.hidden_size)
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


class CellModule(nn.Module):
    """A single layer-direction as a module, for streaming: ``h_t, state = cell(x_t, state)``.

    Parameters are registered under torch.nn's cell names (``weight_ih``, ``weight_hh``, ``bias_ih``,
    ``bias_hh``) plus the variant's own. Subclasses set ``spec`` and ``_step``.
    """

    spec: CellSpec
    _step: Callable
    _torch_cls: type = nn.Module
    _torch_args: tuple[str, ...] = ("input_size", "hidden_size", "bias")

    def _register(self, spec: CellSpec, device=None, dtype=None) -> None:
        self.spec = spec
        self._fields: list[tuple[str, str]] = []
        for info in spec.layout():
            p = nn.Parameter(torch.empty(info.shape, device=device, dtype=dtype))
            self.register_parameter(info.name, p)
            self._fields.append((info.field, info.name))
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

    def forward(self, x: Tensor, state: Sequence[Tensor] | None = None):
        """One step. ``x``: (B, input_size) or (input_size,). Returns ``(h_t, new_state)``."""
        spec = self.spec
        if x.dim() not in (1, 2):
            raise ValueError(f"x must be 1-D (input_size,) or 2-D (batch, input_size), got {x.dim()}-D "
                             f"with shape {tuple(x.shape)}")
        if x.size(-1) != spec.input_size:
            raise ValueError(f"x.size(-1) must be {spec.input_size} (input_size), got {x.size(-1)}")
        unbatched = x.dim() == 1
        xb = x.unsqueeze(0) if unbatched else x
        if state is None:
            state = self.init_state(xb.size(0))
        else:
            state = tuple(s.unsqueeze(0) if unbatched else s for s in _as_tuple(state))
            _check_state(spec, state, xb.size(0))
        h, new_state = type(self)._step(spec, self.weights(), xb, state)
        if unbatched:
            return h.squeeze(0), tuple(s.squeeze(0) for s in new_state)
        return h, new_state

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
        return ", ".join(f"{k}={v}" for k, v in vars(self.spec).items())


def _as_tuple(state) -> tuple[Tensor, ...]:
    return (state,) if isinstance(state, Tensor) else tuple(state)


def _check_state(spec: CellSpec, state: tuple[Tensor, ...], batch: int) -> None:
    sizes = spec.state_sizes()
    if len(state) != len(sizes):
        raise ValueError(f"state must hold {len(sizes)} tensor(s) for {spec.family}, got {len(state)}")
    for k, (s, n) in enumerate(zip(state, sizes)):
        if tuple(s.shape) != (batch, n):
            raise ValueError(f"state[{k}] must have shape {(batch, n)}, got {tuple(s.shape)}")
