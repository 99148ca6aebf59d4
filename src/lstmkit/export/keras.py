r"""Keras weights to and from lstmkit layers: ``LSTM.from_keras``, ``GRU.from_keras``, ``RNN.from_keras``
and their ``to_keras``.

Keras stores a recurrent layer as ``kernel`` (I, nH), ``recurrent_kernel`` (H, nH) and ``bias``, gate
blocks side by side along the last axis; torch.nn (and lstmkit) stack them as rows of ``weight_ih``
(nH, I) and ``weight_hh`` (nH, H). One named converter per layout does the move (in :mod:`.keras_layout`):

* :func:`lstm_from_keras_layout` / :func:`lstm_to_keras_layout`: Keras LSTM, gates i|f|c|o (c the
  candidate, torch's g), so the same order as torch's i|f|g|o, transposed. One bias (4H,).
* :func:`gru_from_keras_layout` / :func:`gru_to_keras_layout`: Keras GRU, gates z|r|h against torch's
  r|z|n. ``reset_after=True`` (Keras 3's default; bias (2, 3H): input bias, recurrent bias) is torch.nn's
  GRU; ``reset_after=False`` (bias (3H,)) is lstmkit's ``GRU(reset_before=True)``: h~ = tanh(W x + U (r*h) + b).
* :func:`rnn_from_keras_layout` / :func:`rnn_to_keras_layout`: Keras SimpleRNN (tanh or relu).

Keras has one bias per gate where torch has two (``bias_ih`` + ``bias_hh``): reading gives ``bias_hh = 0``,
writing gives their sum (the reset-after GRU keeps both). A stack of Keras layers becomes ``num_layers``; a
``Bidirectional`` wrapper (forward_layer / backward_layer) becomes ``bidirectional=True``. Files (Keras 3
``.weights.h5`` and ``.keras``, legacy Keras 2 ``.h5``) are read with h5py alone: :mod:`.keras_h5`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import numpy as np
import torch

from .keras_layout import (FAMILIES, gru_from_keras_layout, gru_to_keras_layout, lstm_from_keras_layout,
                           lstm_to_keras_layout, rnn_from_keras_layout, rnn_to_keras_layout)

__all__ = ["from_keras", "to_keras", "save_keras_weights", "KerasLayer",
           "lstm_from_keras_layout", "lstm_to_keras_layout", "gru_from_keras_layout", "gru_to_keras_layout",
           "rnn_from_keras_layout", "rnn_to_keras_layout"]

_BY_GATES = {n: fam for fam, (n, _) in FAMILIES.items()}


# ------------------------------------------------------------------------------------ one Keras layer
@dataclass
class KerasLayer:
    """The weights of one Keras recurrent layer (one direction) and what is known of its config.

    Attributes:
        arrays: ``[kernel (I, nH), recurrent_kernel (H, nH)]`` plus ``bias`` ((nH,), or (2, 3H) for a
            reset-after GRU) when the layer has one; n = 4 (LSTM), 3 (GRU), 1 (SimpleRNN).
        config: the Keras layer config (``layer.get_config()``) or None when unknown (then the Keras
            defaults are assumed: tanh and sigmoid).
        name: where it came from, for messages.
        class_name: the Keras class when known ('LSTM', 'GRU', 'SimpleRNN').
    """

    arrays: list
    config: Optional[dict] = None
    name: str = "weights"
    class_name: Optional[str] = None
    wrapper: Optional[dict] = field(default=None, repr=False)      # the Bidirectional config, if any

    def check_shapes(self, family: str) -> tuple[int, int]:
        """(input_size, hidden_size), after checking every array's shape for ``family``."""
        n, cls = FAMILIES[family]
        a = self.arrays
        if len(a) not in (2, 3):
            raise ValueError(f"{self.name}: a Keras {cls} has 2 or 3 weights ([kernel, recurrent_kernel, bias]), "
                             f"got {len(a)}")
        k, rk = a[0], a[1]
        if rk.ndim != 2 or rk.shape[1] != n * rk.shape[0]:
            raise ValueError(f"{self.name}: recurrent_kernel must be (H, {n}H) for a Keras {cls}, got "
                             f"{tuple(rk.shape)}" + _other_family(rk, family))
        H = rk.shape[0]
        if k.ndim != 2 or k.shape[1] != n * H:
            raise ValueError(f"{self.name}: kernel must be (input_size, {n * H}) ({n}H, H={H}), got "
                             f"{tuple(k.shape)}")
        if len(a) == 3:
            want = [(n * H,)] + ([(2, 3 * H)] if family == "gru" else [])
            if tuple(a[2].shape) not in want:
                raise ValueError(f"{self.name}: bias must be " + " or ".join(map(str, want)) +
                                 f" for a Keras {cls} with H={H}, got {tuple(a[2].shape)}")
        return k.shape[0], H

    @property
    def bias(self):
        return self.arrays[2] if len(self.arrays) == 3 else None


def _other_family(rk: np.ndarray, family: str) -> str:
    if rk.ndim == 2 and rk.shape[0] and rk.shape[1] % rk.shape[0] == 0:
        other = _BY_GATES.get(rk.shape[1] // rk.shape[0])
        if other is not None and other != family:
            return f" (that is a Keras {FAMILIES[other][1]}'s: use lstmkit.{other.upper()}.from_keras)"
    return ""


def _activation_name(value: Any) -> Any:
    """'tanh' from the forms Keras writes an activation in: a string or a serialized dict."""
    if isinstance(value, dict):
        inner = value.get("config", value.get("class_name"))
        return inner.get("name", inner) if isinstance(inner, dict) else inner
    return value


def _check_config(layer: KerasLayer, family: str, backward: bool) -> dict:
    """The lstmkit options a Keras config implies ({} or {'nonlinearity': ...}); refuses what has none."""
    cfg = layer.config or {}
    cls = FAMILIES[family][1]
    merge = (layer.wrapper or {}).get("merge_mode", "concat")
    if merge != "concat":
        raise ValueError(f"{layer.name}: Bidirectional merge_mode={merge!r}; lstmkit concatenates the two "
                         f"directions (merge_mode='concat'): combine out[..., :H] and out[..., H:] yourself")
    if layer.class_name is not None and layer.class_name != cls:
        raise ValueError(f"{layer.name} is a Keras {layer.class_name}; lstmkit.{family.upper()}.from_keras reads "
                         f"a Keras {cls}")
    act = _activation_name(cfg.get("activation", "tanh"))
    options = {}
    if family == "rnn":
        if act not in ("tanh", "relu"):
            raise ValueError(f"{layer.name}: activation must be 'tanh' or 'relu' (lstmkit.RNN's nonlinearity), "
                             f"got {act!r}")
        options["nonlinearity"] = act
    else:
        rec = _activation_name(cfg.get("recurrent_activation", "sigmoid"))
        if act != "tanh":
            raise ValueError(f"{layer.name}: activation must be 'tanh' (the {cls} equations lstmkit runs), "
                             f"got {act!r}")
        if rec != "sigmoid":
            hint = " (Keras 2's old default; retrain or fine-tune with 'sigmoid')" if rec == "hard_sigmoid" else ""
            raise ValueError(f"{layer.name}: recurrent_activation must be 'sigmoid', got {rec!r}{hint}")
    if bool(cfg.get("go_backwards", False)) != backward:
        if backward:
            raise ValueError(f"{layer.name}: the backward layer of a Bidirectional must have go_backwards=True")
        raise ValueError(f"{layer.name}: go_backwards=True outside a Bidirectional wrapper has no lstmkit "
                         f"equivalent (it reads the sequence reversed, and returns its outputs in reversed order); "
                         f"flip the input in time (input.flip(0)) and read the weights with go_backwards=False")
    if "use_bias" in cfg and bool(cfg["use_bias"]) != (layer.bias is not None):
        raise ValueError(f"{layer.name}: config says use_bias={cfg['use_bias']} but "
                         f"{len(layer.arrays)} weights came")
    if family == "gru" and "reset_after" in cfg and layer.bias is not None:
        if bool(cfg["reset_after"]) != (layer.bias.ndim == 2):
            raise ValueError(f"{layer.name}: config says reset_after={cfg['reset_after']} but the bias is "
                             f"{tuple(layer.bias.shape)} ((2, 3H) with reset_after=True, (3H,) without)")
    if family == "gru" and layer.bias is None:
        options["reset_before"] = not bool(cfg.get("reset_after", True))
    return options


# ------------------------------------------------------------------------------------ inputs -> stack
def _as_array(a) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu()
        a = a.float() if a.dtype == torch.bfloat16 else a
        return a.numpy()
    return np.asarray(a)


def _is_array(a) -> bool:
    return isinstance(a, (np.ndarray, torch.Tensor)) or hasattr(a, "__array__") and not isinstance(a, (list, tuple))


def _one_keras_layer(arrays: Sequence, config, name: str) -> list[KerasLayer]:
    """A Keras layer's ``get_weights()``: 2-3 arrays (one direction) or 4-6 (a Bidirectional's: forward's
    then backward's)."""
    arrays = [_as_array(a) for a in arrays]
    n = len(arrays)
    cfg = config or {}
    if n in (2, 3):
        return [KerasLayer(arrays, cfg if "layer" not in cfg else None, name)]
    if n in (4, 6):
        fwd, bwd = _bidirectional_configs(cfg)
        half = n // 2
        return [KerasLayer(arrays[:half], fwd, f"{name} (forward)", wrapper=cfg or None),
                KerasLayer(arrays[half:], bwd, f"{name} (backward)", wrapper=cfg or None)]
    raise ValueError(f"{name}: a Keras recurrent layer's get_weights() holds 2 or 3 arrays (kernel, "
                     f"recurrent_kernel, bias), a Bidirectional's 4 or 6; got {n}")


def _bidirectional_configs(cfg: dict) -> tuple[Optional[dict], Optional[dict]]:
    """(forward, backward) layer configs of a Keras Bidirectional config (or (None, None) when unknown)."""
    if not cfg:
        return None, {"go_backwards": True}
    fwd = (cfg.get("layer") or {}).get("config", cfg.get("layer"))
    back = cfg.get("backward_layer")
    bwd = dict(back.get("config", back)) if back else {**(fwd or {}), "go_backwards": True}
    return fwd, bwd


def _gather(weights: tuple, layer, config, family: str) -> list[list[KerasLayer]]:
    """The stack as a list of Keras layers, each one or two directions."""
    if len(weights) == 1 and isinstance(weights[0], (str, os.PathLike)):
        from .keras_h5 import read_stack
        if config is not None:
            raise ValueError("config= goes with arrays; a file's config comes from the file")
        return read_stack(weights[0], layer, family)
    if layer is not None:
        raise ValueError("layer= picks layers from a file; with arrays, pass only the ones to convert")
    if len(weights) == 1 and isinstance(weights[0], (list, tuple)):
        weights = tuple(weights[0])
    if not weights:
        raise ValueError("from_keras needs weights: arrays (kernel, recurrent_kernel[, bias]), a list as "
                         "layer.get_weights() returns, a list of those for a stack, or a path")
    if all(_is_array(w) for w in weights):
        return [_one_keras_layer(weights, config, "weights")]
    if not all(isinstance(w, (list, tuple)) for w in weights):
        raise TypeError("from_keras takes arrays, or lists of arrays (one per Keras layer), not a mix: got "
                        + ", ".join(type(w).__name__ for w in weights))
    configs = config if isinstance(config, (list, tuple)) else [config] * len(weights)
    if len(configs) != len(weights):
        raise ValueError(f"config: one per Keras layer ({len(weights)}), got {len(configs)}")
    return [_one_keras_layer(w, c, f"layer {k}") for k, (w, c) in enumerate(zip(weights, configs))]


# ------------------------------------------------------------------------------------ the public API
def _family(cls) -> str:
    name = cls._torch_cls.__name__
    return {"LSTM": "lstm", "GRU": "gru", "RNN": "rnn"}[name]


def _convert(family: str, layer: KerasLayer) -> tuple[dict, dict]:
    k, rk, b = layer.arrays[0], layer.arrays[1], layer.bias
    if family == "lstm":
        return lstm_from_keras_layout(k, rk, b), {}
    if family == "gru":
        w, reset_before = gru_from_keras_layout(k, rk, b)
        return w, ({"reset_before": reset_before} if b is not None else {})
    return rnn_from_keras_layout(k, rk, b), {}


def from_keras(cls, *weights, layer=None, config=None, **options):
    """Build an lstmkit ``cls`` (LSTM, GRU or RNN) holding Keras weights; see ``cls.from_keras``.

    Args:
        weights: one of
            * ``kernel (I, nH), recurrent_kernel (H, nH)[, bias]`` as arrays (numpy, torch, anything
              ``np.asarray`` takes); n = 4 (LSTM), 3 (GRU), 1 (SimpleRNN); bias (nH,), or (2, 3H) for a
              reset-after GRU;
            * a list as a Keras layer's ``get_weights()`` returns (2-3 arrays; 4-6 for a ``Bidirectional``:
              the forward layer's, then the backward's);
            * a list of such lists, one per Keras layer of a stack (-> ``num_layers``);
            * a path (str or PathLike) to a Keras 3 ``.weights.h5``, a ``.keras`` archive or a legacy Keras 2
              ``.h5`` (needs h5py).
        layer: from a file, which layer: its name (a str), or a list of names for a stack. None takes the only
            layer of this family in the file (an error lists them when there are several).
        config: with arrays, the Keras layer's ``get_config()`` (a dict, or one per layer): its activations,
            ``go_backwards``, ``use_bias``, ``reset_after`` are checked; the Keras defaults are assumed without.
        options: more constructor arguments (``batch_first``, ``dtype`` (default: the kernel's), ``device``,
            ``backend``, ``dropout`` ...).

    Example (a Keras ``Bidirectional(LSTM(4))`` over 3 features, then an ``LSTM(4)`` on top)::

        >>> import numpy as np, lstmkit
        >>> from lstmkit.export.keras import from_keras
        >>> rng = np.random.default_rng(0)
        >>> def w(i, h): return [rng.normal(size=(i, 4 * h)), rng.normal(size=(h, 4 * h)), np.zeros(4 * h)]
        >>> from_keras(lstmkit.LSTM, [w(3, 4) + w(3, 4)], batch_first=True)      # forward's, then backward's
        LSTM(3, 4, batch_first=True, bidirectional=True)
        >>> from_keras(lstmkit.LSTM, [w(3, 4), w(4, 4)], config=[{"recurrent_activation": "hard_sigmoid"}] * 2)
        Traceback (most recent call last):
        ...
        ValueError: layer 0: recurrent_activation must be 'sigmoid', got 'hard_sigmoid' (Keras 2's old default; ...
    """
    family = _family(cls)
    stack = _gather(weights, layer, config, family)
    D = len(stack[0])
    state: dict[str, torch.Tensor] = {}
    kw: dict = {}
    dtypes = []
    for k, directions in enumerate(stack):
        if len(directions) != D:
            raise ValueError(f"a stack must be bidirectional in every layer or in none: layer 0 has {D} "
                             f"direction(s), layer {k} ({directions[0].name}) {len(directions)}")
        for d, kl in enumerate(directions):
            I, H = kl.check_shapes(family)
            opts = _check_config(kl, family, backward=d == 1)
            w, form = _convert(family, kl)
            opts.update(form)
            if k == 0 and d == 0:
                kw = {"input_size": I, "hidden_size": H, "bias": kl.bias is not None, **opts}
            want_in = kw["input_size"] if k == 0 else D * kw["hidden_size"]
            checks = {"input_size": (want_in, I), "hidden_size": (kw["hidden_size"], H),
                      "bias": (kw["bias"], kl.bias is not None), **{o: (kw.get(o), v) for o, v in opts.items()}}
            for what, (want, got) in checks.items():
                if want != got:
                    raise ValueError(f"{kl.name}: {what} must be {want} to stack with the layers before it "
                                     f"(lstmkit layers share one {what}), got {got}")
            suffix = f"_l{k}" + ("_reverse" if d == 1 else "")
            for name, a in w.items():
                state[name + suffix] = torch.from_numpy(np.array(a))
            dtypes.append(kl.arrays[0].dtype)
    clash = set(options) & {"input_size", "hidden_size", "num_layers", "bidirectional", "bias"}
    if clash:
        raise ValueError(f"from_keras takes {sorted(clash)} from the weights; drop them from the arguments")
    kw.update(num_layers=len(stack), bidirectional=D == 2)
    for o in set(kw) & set(options):                   # e.g. reset_before / nonlinearity given as well
        if options[o] != kw[o]:
            raise ValueError(f"the Keras weights need {o}={kw[o]!r}, got {o}={options[o]!r}")
    dtype = options.pop("dtype", None)
    if dtype is None:                                  # the kernel's (float32 from Keras), else torch's default
        floating = np.issubdtype(dtypes[0], np.floating)
        dtype = torch.from_numpy(np.zeros(0, dtype=dtypes[0])).dtype if floating else torch.get_default_dtype()
    out = cls(**{**kw, **options}, dtype=dtype)
    with torch.no_grad():
        out.load_state_dict(state, strict=True)
    return out


#: lstmkit options whose non-default values keep the Keras math (training-time or initialisation only)
_KERAS_SAFE = ("input_dropout", "recurrent_dropout", "forget_bias", "init_range", "gate_bias_steps",
               "truncated_gradient", "reset_before")


def _check_expressible(layer, what: str, safe: tuple[str, ...]) -> None:
    extra = {k: v for k, v in layer._variant_options().items() if k not in safe}
    if getattr(layer, "proj_size", 0):
        extra["proj_size"] = layer.proj_size
    if extra:
        raise ValueError(f"{type(layer).__name__} with {extra} has no {what} equivalent; {what} export needs "
                         f"those options at their defaults")


def _numpy(t: Optional[torch.Tensor]) -> Optional[np.ndarray]:
    if t is None:
        return None
    t = t.detach().cpu()
    return (t.float() if t.dtype == torch.bfloat16 else t).numpy().copy()


def to_keras(layer) -> list[list[np.ndarray]]:
    """The weights of an lstmkit LSTM / GRU / RNN as Keras ``set_weights`` lists, one per Keras layer.

    Returns:
        ``num_layers`` lists: ``[kernel (I, nH), recurrent_kernel (H, nH), bias]`` for a unidirectional layer,
        the forward layer's then the backward layer's (6 arrays) for a bidirectional one (a Keras
        ``Bidirectional(..., merge_mode="concat")``); no bias arrays with ``bias=False`` (Keras
        ``use_bias=False``). A GRU gives bias (2, 3H) (Keras ``reset_after=True``), or with
        ``reset_before=True`` bias (3H,) (``reset_after=False``). An RNN's Keras layer is a SimpleRNN with
        ``activation=nonlinearity``.

    Example::

        >>> import lstmkit
        >>> from lstmkit.export.keras import to_keras
        >>> [[a.shape for a in w] for w in to_keras(lstmkit.GRU(3, 4, bidirectional=True))]
        [[(3, 12), (4, 12), (2, 12), (3, 12), (4, 12), (2, 12)]]
        >>> to_keras(lstmkit.LSTM(3, 4, peephole=True))
        Traceback (most recent call last):
        ...
        ValueError: LSTM with {'peephole': True} has no Keras equivalent; Keras export needs those options at ...
    """
    family = _family(type(layer))
    _check_expressible(layer, "Keras", _KERAS_SAFE)
    out = []
    for k in range(layer.num_layers):
        arrays: list[np.ndarray] = []
        for d in range(layer.num_directions):
            p = {f: _numpy(t) for f, t in layer._params(k, d).items()}
            args = (p["w_ih"], p["w_hh"], p.get("b_ih"), p.get("b_hh"))
            if family == "lstm":
                arrays += lstm_to_keras_layout(*args)
            elif family == "gru":
                arrays += gru_to_keras_layout(*args, reset_before=layer.reset_before)
            else:
                arrays += rnn_to_keras_layout(*args)
        out.append(arrays)
    return out


def save_keras_weights(layer, path) -> None:
    """Write ``layer``'s weights as a Keras 3 ``.weights.h5`` file (needs h5py), laid out as Keras 3's
    ``model.save_weights`` writes a ``Sequential`` of ``num_layers`` Keras layers (LSTM, GRU or SimpleRNN;
    each wrapped in ``Bidirectional`` when bidirectional): ``model.load_weights(path)`` on that model reads
    it. Written to a temporary file first, then renamed (atomic).

    Example::

        >>> import os, tempfile, lstmkit
        >>> from lstmkit.export.keras import save_keras_weights
        >>> lstm = lstmkit.LSTM(3, 4, num_layers=2)
        >>> path = os.path.join(tempfile.mkdtemp(), "lstm.weights.h5")
        >>> save_keras_weights(lstm, path)          # a Sequential([LSTM(4, return_sequences=True), LSTM(4)])
        >>> lstmkit.LSTM.from_keras(path, layer=["lstm", "lstm_1"])
        LSTM(3, 4, num_layers=2)
    """
    from .keras_h5 import write_weights_h5
    family = _family(type(layer))
    cls = FAMILIES[family][1]
    write_weights_h5(path, cls, to_keras(layer), layer.bidirectional)
