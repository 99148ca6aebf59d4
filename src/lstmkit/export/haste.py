"""haste (lmnt-com/haste) weights to and from lstmkit layers: ``LSTM.from_haste`` / ``to_haste`` and the
GRU's.

haste's PyTorch layers keep Keras-like parameters: ``kernel`` (I, nH), ``recurrent_kernel`` (H, nH) and
biases, gate blocks side by side along the last axis.

* :func:`lstm_from_haste_layout` / :func:`lstm_to_haste_layout`: ``haste_pytorch.LSTM``: gates i|g|f|o
  (against torch's i|f|g|o), one ``bias`` (4H,).
* :func:`gru_from_haste_layout` / :func:`gru_to_haste_layout`: ``haste_pytorch.GRU``: gates z|r|h (against
  torch's r|z|n), ``bias`` and ``recurrent_bias`` (3H,) each; the reset-after form, as torch.nn.GRU.

haste layers are single-layer and unidirectional; a list of them reads as a stack (``num_layers``).
"""

from __future__ import annotations

import numpy as np
import torch

from .keras import _as_array, _check_expressible, _family, _numpy
from .keras_layout import _GRU_ORDER, _blocks

__all__ = ["from_haste", "to_haste", "lstm_from_haste_layout", "lstm_to_haste_layout", "gru_from_haste_layout",
           "gru_to_haste_layout"]

_LSTM_ORDER = [0, 2, 1, 3]                   # i|g|f|o <-> i|f|g|o (the same swap both ways)
_NAMES = {"lstm": ("kernel", "recurrent_kernel", "bias"),
          "gru": ("kernel", "recurrent_kernel", "bias", "recurrent_bias")}


def lstm_from_haste_layout(kernel, recurrent_kernel, bias) -> dict[str, np.ndarray]:
    """haste LSTM (kernel (I, 4H), recurrent_kernel (H, 4H), bias (4H,); gates i|g|f|o) to torch.nn's
    {'weight_ih': (4H, I), 'weight_hh': (4H, H), 'bias_ih': (4H,), 'bias_hh': (4H,) zeros} (rows i|f|g|o).

    Example::

        >>> import numpy as np
        >>> w = lstm_from_haste_layout(np.zeros((3, 4)), np.zeros((1, 4)), np.array([0.0, 1.0, 2.0, 3.0]))
        >>> w["bias_ih"]                                # haste's i, g, f, o = 0, 1, 2, 3 -> i|f|g|o
        array([0., 2., 1., 3.])
    """
    return {"weight_ih": _blocks(kernel, _LSTM_ORDER).T.copy(),
            "weight_hh": _blocks(recurrent_kernel, _LSTM_ORDER).T.copy(),
            "bias_ih": _blocks(bias, _LSTM_ORDER), "bias_hh": np.zeros_like(bias)}


def lstm_to_haste_layout(weight_ih, weight_hh, bias_ih, bias_hh) -> dict[str, np.ndarray]:
    """torch.nn's LSTM layout (weight_ih (4H, I), weight_hh (4H, H), bias_ih, bias_hh (4H,); rows i|f|g|o)
    to haste's {'kernel': (I, 4H), 'recurrent_kernel': (H, 4H), 'bias': (4H,)} (i|g|f|o; bias_ih + bias_hh).

    Example::

        >>> import numpy as np
        >>> {k: v.shape for k, v in lstm_to_haste_layout(np.ones((8, 3)), np.ones((8, 2)), np.ones(8),
        ...                                               np.ones(8)).items()}
        {'kernel': (3, 8), 'recurrent_kernel': (2, 8), 'bias': (8,)}
    """
    return {"kernel": _blocks(weight_ih.T, _LSTM_ORDER), "recurrent_kernel": _blocks(weight_hh.T, _LSTM_ORDER),
            "bias": _blocks(bias_ih + bias_hh, _LSTM_ORDER)}


def gru_from_haste_layout(kernel, recurrent_kernel, bias, recurrent_bias) -> dict[str, np.ndarray]:
    """haste GRU (kernel (I, 3H), recurrent_kernel (H, 3H), bias and recurrent_bias (3H,); gates z|r|h) to
    torch.nn's GRU layout (weight_ih (3H, I), weight_hh (3H, H), bias_ih, bias_hh (3H,); rows r|z|n).

    Example::

        >>> import numpy as np
        >>> gru_from_haste_layout(np.zeros((2, 3)), np.zeros((1, 3)), np.array([0.0, 1.0, 2.0]),
        ...                       np.zeros(3))["bias_ih"]
        array([1., 0., 2.])
    """
    return {"weight_ih": _blocks(kernel, _GRU_ORDER).T.copy(),
            "weight_hh": _blocks(recurrent_kernel, _GRU_ORDER).T.copy(),
            "bias_ih": _blocks(bias, _GRU_ORDER), "bias_hh": _blocks(recurrent_bias, _GRU_ORDER)}


def gru_to_haste_layout(weight_ih, weight_hh, bias_ih, bias_hh) -> dict[str, np.ndarray]:
    """torch.nn's GRU layout (weight_ih (3H, I), weight_hh (3H, H), bias_ih, bias_hh (3H,)) to haste's
    {'kernel': (I, 3H), 'recurrent_kernel': (H, 3H), 'bias': (3H,), 'recurrent_bias': (3H,)} (z|r|h).

    Example::

        >>> import numpy as np
        >>> sorted(gru_to_haste_layout(np.ones((6, 3)), np.ones((6, 2)), np.ones(6), np.ones(6)))
        ['bias', 'kernel', 'recurrent_bias', 'recurrent_kernel']
    """
    return {"kernel": _blocks(weight_ih.T, _GRU_ORDER), "recurrent_kernel": _blocks(weight_hh.T, _GRU_ORDER),
            "bias": _blocks(bias_ih, _GRU_ORDER), "recurrent_bias": _blocks(bias_hh, _GRU_ORDER)}


def _one(weights, family: str, where: str) -> tuple[list[np.ndarray], dict]:
    """(arrays in haste's parameter order, options read from a haste module) of one haste layer."""
    names = _NAMES[family]
    opts: dict = {}
    if isinstance(weights, torch.nn.Module):
        zoneout = float(getattr(weights, "zoneout", 0.0) or 0.0)
        if zoneout:
            opts["zoneout_h" if family == "lstm" else "zoneout"] = zoneout
        opts["batch_first"] = bool(getattr(weights, "batch_first", False))
        weights = weights.state_dict()
    if isinstance(weights, dict):
        missing = [n for n in names if n not in weights]
        if missing:
            raise ValueError(f"{where}: a haste {family.upper()} has parameters {list(names)}; missing {missing} "
                             f"(got {sorted(weights)})")
        weights = [weights[n] for n in names]
    arrays = [_as_array(a) for a in weights]
    if len(arrays) != len(names):
        raise ValueError(f"{where}: a haste {family.upper()} has {len(names)} arrays {list(names)}, got {len(arrays)}")
    n = 4 if family == "lstm" else 3
    k, rk = arrays[0], arrays[1]
    if rk.ndim != 2 or rk.shape[1] != n * rk.shape[0]:
        raise ValueError(f"{where}: recurrent_kernel must be (H, {n}H), got {tuple(rk.shape)}")
    H = rk.shape[0]
    if k.ndim != 2 or k.shape[1] != n * H:
        raise ValueError(f"{where}: kernel must be (input_size, {n * H}) ({n}H, H={H}), got {tuple(k.shape)}")
    for name, b in zip(names[2:], arrays[2:]):
        if b.shape != (n * H,):
            raise ValueError(f"{where}: {name} must be ({n * H},) ({n}H, H={H}), got {tuple(b.shape)}")
    return arrays, opts


def from_haste(cls, *weights, **options):
    """Build an lstmkit LSTM or GRU holding haste weights; see ``LSTM.from_haste``.

    Args:
        weights: a haste module (``haste_pytorch.LSTM`` / ``GRU``: its zoneout and batch_first are kept),
            its ``state_dict()``, the arrays in haste's order (LSTM: kernel (I, 4H), recurrent_kernel
            (H, 4H), bias (4H,); GRU: kernel (I, 3H), recurrent_kernel (H, 3H), bias (3H,), recurrent_bias
            (3H,)), or a list of any of those, one per layer of a stack.
        options: more constructor arguments (``dtype`` defaults to the kernel's).

    Example::

        >>> import numpy as np, lstmkit
        >>> from lstmkit.export.haste import from_haste
        >>> state = {"kernel": np.zeros((3, 16)), "recurrent_kernel": np.zeros((4, 16)), "bias": np.ones(16)}
        >>> from_haste(lstmkit.LSTM, [state, {**state, "kernel": np.zeros((4, 16))}])      # a 2-layer stack
        LSTM(3, 4, num_layers=2)
    """
    family = _family(cls)
    if family not in _NAMES:
        raise ValueError(f"haste has no {cls.__name__} layout (LSTM and GRU only)")
    if len(weights) == 1 and isinstance(weights[0], (list, tuple)) and weights[0] \
            and not isinstance(weights[0][0], (np.ndarray, torch.Tensor)):
        layers = list(weights[0])                      # a stack: one entry per layer
    else:
        layers = [weights[0] if len(weights) == 1 else list(weights)]
    state, kw, read = {}, None, {}
    for k, entry in enumerate(layers):
        arrays, opts = _one(entry, family, f"layer {k}")
        read = read or opts
        I, H = arrays[0].shape[0], arrays[1].shape[0]
        if kw is None:
            kw = {"input_size": I, "hidden_size": H, "dtype": torch.from_numpy(arrays[0][:0].copy()).dtype}
        elif (I, H) != (kw["hidden_size"], kw["hidden_size"]):
            raise ValueError(f"layer {k}: a stack needs kernel ({kw['hidden_size']}, ...) and hidden size "
                             f"{kw['hidden_size']}, got input size {I}, hidden size {H}")
        conv = lstm_from_haste_layout if family == "lstm" else gru_from_haste_layout
        for name, a in conv(*arrays).items():
            state[f"{name}_l{k}"] = torch.from_numpy(np.array(a))
    layer = cls(**{**kw, **read, **options, "num_layers": len(layers)})
    with torch.no_grad():
        layer.load_state_dict(state, strict=True)
    return layer


def to_haste(layer) -> list[dict[str, np.ndarray]]:
    """haste's parameters of an lstmkit LSTM or GRU, one dict per layer (``haste_layer.load_state_dict``
    takes each, as torch tensors); see ``LSTM.to_haste``.

    Example::

        >>> import lstmkit
        >>> from lstmkit.export.haste import to_haste
        >>> [{k: v.shape for k, v in d.items()} for d in to_haste(lstmkit.GRU(3, 4))]
        [{'kernel': (3, 12), 'recurrent_kernel': (4, 12), 'bias': (12,), 'recurrent_bias': (12,)}]
    """
    family = _family(type(layer))
    if family not in _NAMES:
        raise ValueError(f"haste has no {type(layer).__name__} layout (LSTM and GRU only)")
    _check_expressible(layer, "haste", ("input_dropout", "recurrent_dropout", "forget_bias", "init_range",
                                        "gate_bias_steps", "truncated_gradient", "zoneout", "zoneout_h"))
    if layer.bidirectional:
        raise ValueError("haste's layers are unidirectional; to_haste needs bidirectional=False")
    if not layer.bias:
        raise ValueError("haste's layers always have biases; to_haste needs bias=True")
    out = []
    for k in range(layer.num_layers):
        p = {f: _numpy(t) for f, t in layer._params(k, 0).items()}
        conv = lstm_to_haste_layout if family == "lstm" else gru_to_haste_layout
        out.append(conv(p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"]))
    return out
