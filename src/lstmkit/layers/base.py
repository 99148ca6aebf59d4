"""The recurrent layer stack shared by LSTM, GRU and RNN: parameters under torch.nn's names, stacking,
bidirectional, dropout between layers, variational dropout and zoneout masks, lengths and resets,
PackedSequence, the step API, and weight moves to and from torch.nn."""

from __future__ import annotations

import warnings
import weakref
from abc import ABCMeta, abstractmethod
from typing import Optional

import torch
from torch import Tensor, nn

from .. import kernels
from ..cells.base import CellSpec, check_prob
from ..kernels import SeqMasks
from ..kernels.base import classic_unsupported
from ..kernels.cpu.bernoulli import bernoulli_mask
from ..kernels.cpu.lean import run_stack
from ..kernels.gpu import cudnn
from .dropout import dropout
from .inputs import Prepared, finish, prepare

from .repeat import Repeat
from .torch_compat import FlatWeights, check_layer_args

#: per layer, its lean-route decisions by call shape, and its last plain inference call kept to run the
#: next one like it (:mod:`.repeat`); outside the module: a saved or copied model carries no cache
_LEAN_DECISIONS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_REPEATS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


class RecurrentBase(FlatWeights, metaclass=ABCMeta):
    """A stack of recurrent layers (uni- or bidirectional). Subclasses define the cell family.

    Subclasses set ``_torch_cls`` (the torch.nn module they replace), ``_torch_args`` (constructor
    arguments torch.nn shares) and implement :meth:`_make_spec`.
    """

    _torch_cls: type = nn.Module
    _torch_args: tuple[str, ...] = ("input_size", "hidden_size", "num_layers", "bias", "batch_first",
                                    "dropout", "bidirectional")
    #: constructor options that change the math away from torch.nn, with their neutral value
    _variant_defaults: dict = {}
    #: variant options that only change the initialisation (the cuDNN route still runs the layer)
    _init_only_options: tuple[str, ...] = ()
    #: set by :func:`lstmkit.inspect.recording`: called with each forward's record
    _recorder = None

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None, *, input_dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 backend: str = "auto", **cell_options) -> None:
        super().__init__()
        check_layer_args(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         cell_options.get("proj_size", 0))
        if isinstance(bidirectional, str) or not isinstance(bidirectional, (bool, int)) or bidirectional not in (0, 1):
            raise TypeError(f"bidirectional should be of type bool, got: {type(bidirectional).__name__} "
                            f"({bidirectional!r})")
        bidirectional = bool(bidirectional)
        self.dropout = float(dropout)
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"dropout={dropout} is applied between layers, so it does nothing with num_layers=1 "
                          f"(variational dropout on one layer: input_dropout= / recurrent_dropout=)", stacklevel=2)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.bidirectional = bias, batch_first, bidirectional
        self.input_dropout = check_prob("input_dropout", input_dropout)
        self.recurrent_dropout = check_prob("recurrent_dropout", recurrent_dropout)
        if backend != "auto" and backend not in kernels.available():
            raise ValueError(f"backend must be 'auto' or one of {kernels.available()}, got {backend!r}")
        self.backend = backend
        self._cell_options = dict(cell_options)
        for k, v in cell_options.items():
            setattr(self, k, v)
        D = 2 if bidirectional else 1
        self._specs: list[CellSpec] = []
        self._fields: list[list[tuple[str, str]]] = []                # per (layer, dir): (field, param name)
        for k in range(num_layers):
            spec = self._make_spec(input_size if k == 0 else D * self._out_size(), hidden_size, bias,
                                   **cell_options)
            self._specs.append(spec)
            for d in range(D):
                suffix = f"_l{k}" + ("_reverse" if d == 1 else "")
                fields = []
                for info in spec.layout():
                    name = info.name + suffix
                    self.register_parameter(name, nn.Parameter(torch.empty(info.shape, device=device, dtype=dtype)))
                    fields.append((info.field, name))
                self._fields.append(fields)
        # torch.nn's flat-weight bookkeeping (:mod:`.torch_compat`); forward reads the weights from it
        self._all_weights = [[name for _, name in fields] for fields in self._fields]
        self._flat_weights_names = [name for names in self._all_weights for name in names]
        index = {name: i for i, name in enumerate(self._flat_weights_names)}
        self._field_index = [[(field, index[name]) for field, name in fields] for fields in self._fields]
        self._init_flat_weights()
        self.reset_parameters()
        if backend == "cudnn":                         # what no call can change: fail here, not at forward
            why = cudnn.unsupported_config(self._specs[0].family, self._route_variant())
            if why is not None:
                raise ValueError(f"backend='cudnn' cannot run this layer: {why}")
        elif backend != "auto":
            why = classic_unsupported(kernels.dispatch.kernel(backend), self._specs[0])
            if why is not None:
                raise ValueError(f"backend={backend!r} cannot run this layer: {why}")

    # ------------------------------------------------------------------------------------ definition
    @abstractmethod
    def _make_spec(self, input_size: int, hidden_size: int, bias: bool, **options) -> CellSpec:
        """The family's spec for one layer."""

    def _out_size(self) -> int:
        return self.hidden_size

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def _state_shapes(self) -> list[tuple[str, int, int]]:
        n = self.num_layers * self.num_directions
        names = ("h0", "c0")
        return [(names[k], n, size) for k, size in enumerate(self._specs[0].state_sizes())]

    def reset_parameters(self) -> None:
        """torch.nn's initialisation (same RNG stream for the standard parameters), then the variants'."""
        for k, spec in enumerate(self._specs):
            for d in range(self.num_directions):
                spec.init_(self._params(k, d))

    def _params(self, layer: int, direction: int) -> dict[str, Tensor]:
        flat = self._flat_weights
        return {f: flat[i] for f, i in self._field_index[layer * self.num_directions + direction]}

    def weights(self, layer: int = 0, direction: int = 0):
        """The parameters of one layer-direction as the family's weights tuple."""
        return self._specs[layer].make_weights(self._params(layer, direction))

    def _is_stochastic(self) -> bool:
        return self.training and (self.input_dropout > 0 or self.recurrent_dropout > 0)

    # ------------------------------------------------------------------------------------ forward
    def forward(self, input, hx=None, lengths: Optional[Tensor] = None, reset: Optional[Tensor] = None,
                record: bool = False):
        """Run the stack over a sequence; see the class docstring for shapes.

        ``record=True`` also keeps every step's gates and states in :attr:`last_record` (see
        :meth:`_run`); the outputs are the same either way. A plain inference call like the last one (same
        input shape, no gradient, same weights: :mod:`.repeat`) skips the checks and decisions that call made.
        """
        if lengths is None and reset is None and not record and not torch.compiler.is_compiling():
            repeat = _REPEATS.get(self)
            if repeat is not None:
                done = repeat(self, input, hx)
                if done is not None:
                    return done
                _REPEATS.pop(self, None)            # stale: the general path keeps a new one if it can
        self._update_flat_weights()
        w0 = self._flat_weights[0]
        prep = prepare(input, hx, lengths, reset, name=type(self).__name__, input_size=self.input_size,
                       batch_first=self.batch_first, dtype=w0.dtype, device=w0.device,
                       state_shapes=self._state_shapes())
        recording = record or self._recorder is not None
        lean = None if recording else self._lean_kernel(prep)
        if lean is not None:                        # plain inference: one compiled call per layer-direction
            weights = [[self.weights(k, d) for d in range(self.num_directions)] for k in range(self.num_layers)]
            keep = Repeat.applies(input, hx, prep)
            y, states, rerun = run_stack(lean, self._specs, weights, prep.x, prep.state0, keep=keep)
            if rerun is not None:
                _REPEATS[self] = Repeat(self, input, hx, prep, rerun)
        else:
            y, states = self._run(prep, recording)
        if self._recorder is not None:
            self._recorder(self.last_record)
        out, states = finish(prep, y, states, self.batch_first)
        return out, self._pack_state(states)

    def explain(self, input, hx=None, lengths: Optional[Tensor] = None, train: Optional[bool] = None):
        """Which kernel, loop, GEMM routes, thread split and windows ``self(input, hx, lengths=lengths)`` would
        take, and why, without running it: an :class:`~lstmkit.kernels.explain.Explanation` (print it; its
        ``calls`` hold the same as plain data). ``train``: whether a backward follows (default: grad is enabled
        and a parameter or the input requires grad). The decisions are :mod:`lstmkit.kernels.dispatch`'s.

        Example::

            >>> import torch, lstmkit
            >>> layer = lstmkit.LSTM(64, 128, bidirectional=True)
            >>> why = layer.explain(torch.randn(100, 32, 64))
            >>> why.calls[0]["kernel"]
            'cpu'
        """
        from ..kernels.explain import Explanation, explain_call
        self._update_flat_weights()
        w0 = self._flat_weights[0]
        prep = prepare(input, hx, lengths, None, name=type(self).__name__, input_size=self.input_size,
                       batch_first=self.batch_first, dtype=w0.dtype, device=w0.device,
                       state_shapes=self._state_shapes())
        if train is None:
            train = torch.is_grad_enabled() and (prep.x.requires_grad or any(p.requires_grad for p in self.parameters()))
        x = prep.x
        take, why = self._cudnn_route(x, prep.state0, recording=self._recorder is not None)
        if take:
            from ..kernels.explain import explain_cudnn
            calls = explain_cudnn(why, cudnn.mode_of(self._specs[0]), x, self.num_layers, self.num_directions,
                                  bool(train), prep.lengths)
            return Explanation(repr(self).split("\n")[0], calls, kernels.dispatch.tuning())
        calls = []
        for k, spec in enumerate(self._specs):
            if k > 0:
                x = x.new_empty(x.shape[0], x.shape[1], self.num_directions * self._out_size())
            calls.append(explain_call(self.backend, spec, x, self.num_directions, bool(train), prep.lengths,
                                      lean=not train and self._lean_kernel(prep, grad_checked=False) is not None))
            if x.device.type == "cuda" and self.backend == "auto":
                calls[-1]["why"] += f"; {why}"
        return Explanation(repr(self).split("\n")[0] if self.num_layers else type(self).__name__, calls,
                           kernels.dispatch.tuning())

    def _lean_kernel(self, prep: Prepared, grad_checked: bool = True):
        """The CPU kernel when this call takes the lean inference route (:func:`lstmkit.kernels.dispatch.lean`:
        no gradient, lengths, resets, dropout or zoneout, a cell and size the fused loop runs), else None.
        ``grad_checked=False``: as if no gradient were needed (explain(train=False))."""
        x = prep.x
        if self.backend not in ("auto", "cpu", "cpu-fused"):      # (auto on CPU never takes the cudnn route)
            return None
        if x.device.type != "cpu" or prep.lengths is not None or prep.reset is not None or self.num_layers == 0 \
                or x.shape[0] == 0 or x.shape[1] == 0 or torch.compiler.is_compiling():
            return None
        if self.training and (self.dropout > 0 or self._is_stochastic()) or any(p > 0 for p in self._zoneout_rates()):
            return None
        if grad_checked and kernels.needs_node(x, (*prep.state0, *self._flat_weights)):
            return None
        # the kernel and the dispatch's answer depend only on these (kept: deciding costs ~0.05 ms a call); the
        # spec and the tuning record by identity (hashing their fields each call costs more than the step)
        spec, tuning = self._specs[-1], kernels.dispatch.tuning()
        key = (self.backend, x.shape[0], x.shape[1], x.dtype, self.num_directions, torch.get_num_threads(),
               kernels.dispatch.threads_enabled())
        known = _LEAN_DECISIONS.setdefault(self, {})
        hit = known.get(key)
        if hit is None or hit[0] is not spec or hit[1] is not tuning:
            kernel = kernels.select(self.backend, spec, x)
            lean = kernels.dispatch.lean(kernel, spec, x.shape[0], x.shape[1], x.element_size(), self.num_directions)
            if len(known) >= 16:
                known.clear()
            hit = known[key] = (spec, tuning, kernel if lean is None else None)
        return hit[2]

    def _route_options(self) -> tuple:
        """The layer's settings a call's route and program depend on (compared by :mod:`.repeat`)."""
        return (self.training, self.backend, self.batch_first, self.bidirectional, self.num_layers, self.dropout,
                self.input_dropout, self.recurrent_dropout, self._zoneout_rates(), self._recorder, *self._specs)

    def _dtype(self) -> torch.dtype:
        return self._flat_weights[0].dtype

    def _pack_state(self, states: tuple[Tensor, ...]):
        return states[0] if len(states) == 1 else states

    def _route_variant(self) -> dict:
        """The options that keep this layer off the cuDNN route (its variant options that change the math)."""
        return {k: v for k, v in self._variant_options().items() if k not in self._init_only_options}

    def _cudnn_route(self, x: Tensor, state0: tuple[Tensor, ...], reset: bool = False,
                     recording: bool = False) -> tuple[bool, str]:
        """(take, why) of :func:`lstmkit.kernels.dispatch.cudnn_route` for a call over ``x`` (T, B, I)."""
        return kernels.dispatch.cudnn_route(self.backend, self._specs[0], x, (*state0, *self._flat_weights),
                                            self._route_variant(), reset, recording)

    def _run(self, prep: Prepared, recording: bool = False) -> tuple[Tensor, tuple[Tensor, ...]]:
        """The stack, time-major. When ``recording``, ``self.last_record[(layer, direction)]`` gets
        {gate name: (T, B, H), ..., "h": (T, B, P)} (LSTM gates i, f, g, o and c; GRU r, z, n).
        Where :func:`~lstmkit.kernels.dispatch.cudnn_route` says so, the whole stack is one torch RNN op
        (:mod:`lstmkit.kernels.gpu.cudnn`: cuDNN on CUDA)."""
        if self._cudnn_route(prep.x, prep.state0, prep.reset is not None, recording)[0]:
            lengths = prep.lengths if prep.lengths_host is None else prep.lengths_host
            return cudnn.run(cudnn.mode_of(self._specs[0]), prep.x, prep.state0, self._flat_weights, lengths,
                             bias=self.bias, num_layers=self.num_layers, dropout=self.dropout,
                             train=self.training, bidirectional=self.bidirectional)
        x = prep.x
        T, B = x.shape[0], x.shape[1]
        D = self.num_directions
        finals: list[list[Tensor]] = [[] for _ in prep.state0]
        if recording:
            self.last_record: dict = {}
        for k, spec in enumerate(self._specs):
            masks = [self._masks(spec, x, prep, T, B) for _ in range(D)]
            state0 = [tuple(s[k * D + d] for s in prep.state0) for d in range(D)]
            weights = [self.weights(k, d) for d in range(D)]
            if D == 1:
                runs = [kernels.run(spec, weights[0], x, state0[0], masks[0], backend=self.backend)]
            else:                                   # both directions at once (side by side where it pays)
                runs = kernels.run_bidirectional(spec, weights, x, state0, masks, backend=self.backend)
            outs = []
            for d, (y, stateT) in enumerate(runs):
                if recording:
                    rec = kernels.record(spec, weights[d], x.detach(), tuple(s.detach() for s in state0[d]),
                                         masks[d], reverse=d == 1, backend=self.backend)
                    self.last_record[(k, d)] = {**rec, "h": y.detach()}
                outs.append(y)
                for lst, s in zip(finals, stateT):
                    lst.append(s)
            x = outs[0] if D == 1 else torch.cat(outs, dim=2)         # (T, B, D*P)
            if self.dropout > 0 and self.training and k < self.num_layers - 1:
                x = dropout(x, self.dropout)
        return x, tuple(torch.stack(lst) for lst in finals)

    def _masks(self, spec: CellSpec, x: Tensor, prep: Prepared, T: int, B: int) -> SeqMasks:
        """Per layer-direction masks: variational dropout (one per sequence) and zoneout (per step)."""
        drop_x = drop_h = None
        if self._is_stochastic():
            if self.input_dropout > 0:
                drop_x = _bernoulli_scaled((B, spec.input_size), self.input_dropout, x)
            if self.recurrent_dropout > 0:
                drop_h = _bernoulli_scaled((B, spec.out_size), self.recurrent_dropout, x)
        zones = self._zoneout_masks(spec, x, T, B)
        return SeqMasks(lengths=prep.lengths, reset=prep.reset, drop_x=drop_x, drop_h=drop_h, **zones)

    def _zoneout_masks(self, spec: CellSpec, x: Tensor, T: int, B: int) -> dict[str, Tensor]:
        """{'zone_h': (T, B, P), 'zone_c': ...}: Bernoulli(p) keep-previous masks in training, p in eval."""
        out = {}
        sizes = spec.state_sizes()
        for key, p, size in zip(("zone_h", "zone_c"), self._zoneout_rates(), sizes):
            if p <= 0:
                continue
            if self.training:
                out[key] = bernoulli_mask((T, B, size), p, 1.0, x)
            else:
                out[key] = x.new_full((1, 1, 1), p).expand(T, B, size)
        return out

    def _zoneout_rates(self) -> tuple[float, ...]:
        return ()

    # ------------------------------------------------------------------------------------ streaming
    def init_state(self, batch: Optional[int] = None, device=None, dtype=None):
        """Zero initial state in forward()'s ``hx`` format: (L*D, batch, size) tensors (no batch dim when
        ``batch`` is None), a tuple (h, c) for LSTM."""
        p = next(self.parameters())
        lead = () if batch is None else (batch,)
        states = tuple(torch.zeros((n,) + lead + (size,), device=device or p.device, dtype=dtype or p.dtype)
                       for _, n, size in self._state_shapes())
        return self._pack_state(states)

    def step(self, x_t: Tensor, hx=None):
        """One time step through every layer, carrying the state: for streaming and generation.

        Args:
            x_t: (B, input_size), or (input_size,) unbatched.
            hx: the state as forward() takes and returns it (None for zeros).
        Returns:
            (y_t (B, D*P), new state), the same as forward() on a length-1 sequence.
        """
        if self.bidirectional:
            raise ValueError("step() runs forward in time, so it needs bidirectional=False; a bidirectional "
                             "layer sees the whole sequence: call forward()")
        if not isinstance(x_t, Tensor) or x_t.dim() not in (1, 2):
            shape = tuple(x_t.shape) if isinstance(x_t, Tensor) else type(x_t).__name__
            raise ValueError(f"x_t must be (batch, input_size) or (input_size,), got {shape}")
        if any(p > 0 for p in self._zoneout_rates()):
            self._update_flat_weights()
            if self._fast_step_ok(x_t, hx):                 # evaluation-mode zoneout: forward's general route
                return self._fast_step(x_t, hx)             # would run it; the single step blends it in
        # (a step without gradient takes forward's one-step lean route, and the next is its kept repeat)
        seq = x_t.unsqueeze(1) if self.batch_first and x_t.dim() == 2 else x_t.unsqueeze(0)
        y, hx = self.forward(seq, hx)
        return (y[:, 0] if self.batch_first and x_t.dim() == 2 else y[0]), hx

    def _fast_step_ok(self, x_t: Tensor, hx) -> bool:
        """The kernel's single step applies: no gradient to record and nothing to sample (and no
        ``backend="cudnn"``: its steps are forward() calls of one step)."""
        if self.backend == "cudnn":
            return False
        if self.training and (self.dropout > 0 or self._is_stochastic() or any(p > 0 for p in self._zoneout_rates())):
            return False
        if not x_t.is_floating_point() or x_t.dtype != self._dtype() or x_t.size(-1) != self.input_size:
            return False                                       # the full path reports the error
        states = () if hx is None else ((hx,) if isinstance(hx, Tensor) else tuple(hx))
        tensors = (*[s for s in states if isinstance(s, Tensor)], *[w for w in self._flat_weights if w is not None])
        return not kernels.needs_node(x_t, tensors)             # no gradient, tangent or transform to serve

    def _fast_step(self, x_t: Tensor, hx):
        unbatched = x_t.dim() == 1
        x = x_t.unsqueeze(0) if unbatched else x_t
        B = x.shape[0]
        shapes = self._state_shapes()
        if hx is None:
            states = tuple(x.new_zeros(n, B, size) for _, n, size in shapes)
        else:
            states = (hx,) if isinstance(hx, Tensor) else tuple(hx)
            want = [(n, size) if unbatched else (n, B, size) for _, n, size in shapes]
            if len(states) != len(shapes) or any(tuple(s.shape) != w for s, w in zip(states, want)):
                raise ValueError(f"hx must hold tensors of shapes {want} for this step, got "
                                 f"{[tuple(s.shape) for s in states] if isinstance(states, tuple) else type(hx)}")
            if unbatched:
                states = tuple(s.unsqueeze(1) for s in states)
        rates = tuple(p for p in self._zoneout_rates()) if not self.training else ()
        new: list[list[Tensor]] = [[] for _ in states]
        inp = x
        with torch.no_grad():
            for k, spec in enumerate(self._specs):
                kernel = kernels.select(self.backend, spec, inp)
                out = kernel.step(spec, self.weights(k, 0), inp, tuple(s[k] for s in states), rates)
                for lst, s in zip(new, out):
                    lst.append(s)
                inp = out[0]
        stacked = tuple(torch.stack(lst) for lst in new)
        if unbatched:
            return inp.squeeze(0), self._pack_state(tuple(s.squeeze(1) for s in stacked))
        return inp, self._pack_state(stacked)

    # ------------------------------------------------------------------------------------ torch.nn
    def flatten_parameters(self) -> None:
        """As torch.nn: on CUDA, put the weights of a standard configuration into cuDNN's one contiguous
        buffer (:func:`lstmkit.kernels.gpu.cudnn.flatten`), so the cuDNN route does not copy them on every
        call; a no-op on CPU and for variant configurations. Called, as torch.nn does, whenever the flat
        weight list is rebuilt (construction, ``.to()`` / ``.cuda()``, unpickling)."""
        flat = self.__dict__.get("_flat_weights")
        if not flat or not isinstance(flat[0], Tensor) or not flat[0].is_cuda or \
                len(flat) != len(self._flat_weights_names) or self._route_variant():
            return
        proj = getattr(self, "proj_size", 0)
        cudnn.flatten(flat, cudnn.mode_of(self._specs[0]), self.input_size, self.hidden_size, proj,
                      self.num_layers, self.bias, self.bidirectional)

    def _variant_options(self) -> dict:
        """Options set away from torch.nn's math (empty for a standard configuration)."""
        opts = {"input_dropout": self.input_dropout, "recurrent_dropout": self.recurrent_dropout,
                **self._cell_options}
        neutral = {"input_dropout": 0.0, "recurrent_dropout": 0.0, **self._variant_defaults}
        return {k: v for k, v in opts.items() if k in neutral and v != neutral[k]}

    def to_torch(self) -> nn.Module:
        """An equivalent torch.nn module holding a copy of these weights (standard configurations only)."""
        extra = self._variant_options()
        if extra:
            raise ValueError(f"{type(self).__name__} with {extra} has no torch.nn.{self._torch_cls.__name__} "
                             f"equivalent; to_torch() needs those options at their defaults")
        p = next(self.parameters())
        mod = self._torch_cls(**self._torch_kwargs(), device=p.device, dtype=p.dtype)
        mod.load_state_dict(self.state_dict(), strict=True)
        mod.train(self.training)
        return mod

    def _torch_kwargs(self) -> dict:
        return {k: getattr(self, k) for k in self._torch_args}

    @classmethod
    def from_torch(cls, module: nn.Module, **options):
        """Build an lstmkit layer with the configuration and a copy of the weights of a torch.nn module.

        ``options`` sets lstmkit-only options that keep the parameter layout (``backend``,
        ``input_dropout``, ``recurrent_dropout``, zoneout rates).
        """
        if not isinstance(module, cls._torch_cls):
            raise TypeError(f"from_torch expects a torch.nn.{cls._torch_cls.__name__}, got {type(module).__name__}")
        p = next(module.parameters())
        kwargs = {k: getattr(module, k) for k in cls._torch_args}
        layer = cls(**kwargs, device=p.device, dtype=p.dtype, **options)
        layer.load_state_dict(module.state_dict(), strict=True)
        layer.train(module.training)
        return layer

    def extra_repr(self) -> str:
        """torch.nn's repr (its order, only what differs from the defaults), then lstmkit's options."""
        s = f"{self.input_size}, {self.hidden_size}"
        opts = {**self._torch_extra_repr(), "num_layers": self.num_layers, "bias": self.bias,
                "batch_first": self.batch_first, "dropout": self.dropout, "bidirectional": self.bidirectional}
        defaults = {"proj_size": 0, "nonlinearity": "tanh", "num_layers": 1, "bias": True, "batch_first": False,
                    "dropout": 0.0, "bidirectional": False}
        for k, v in {**opts, **self._variant_options()}.items():
            if k not in defaults or v != defaults[k]:
                s += f", {k}={v}"
        if self.backend != "auto":
            s += f", backend={self.backend!r}"
        return s

    def _torch_extra_repr(self) -> dict:
        return {}


def _bernoulli_scaled(shape: tuple[int, ...], p: float, like: Tensor) -> Tensor:
    """A dropout mask of ``shape``: 1/(1-p) with probability 1-p, else 0."""
    return bernoulli_mask(shape, 1.0 - p, 1.0 / (1.0 - p), like)
