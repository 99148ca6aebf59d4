"""The Keras weight layouts, one named converter each way per layer class (numpy in, numpy out).

Keras keeps ``kernel`` (I, nH) and ``recurrent_kernel`` (H, nH) with the gate blocks side by side along the
last axis; torch.nn stacks them as rows of ``weight_ih`` (nH, I) and ``weight_hh`` (nH, H). LSTM: Keras
i|f|c|o = torch i|f|g|o. GRU: Keras z|r|h, torch r|z|n. SimpleRNN: one block. See :mod:`.keras`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["lstm_from_keras_layout", "lstm_to_keras_layout", "gru_from_keras_layout", "gru_to_keras_layout",
           "rnn_from_keras_layout", "rnn_to_keras_layout", "FAMILIES"]

#: lstmkit family -> (gate blocks per layer, Keras class name)
FAMILIES = {"lstm": (4, "LSTM"), "gru": (3, "GRU"), "rnn": (1, "SimpleRNN")}
_GRU_ORDER = [1, 0, 2]                       # z|r|h <-> r|z|n (the same swap both ways)


def _blocks(a: np.ndarray, order: list[int]) -> np.ndarray:
    """Reorder the gate blocks along the last axis."""
    parts = np.split(a, len(order), axis=-1)
    return np.concatenate([parts[k] for k in order], axis=-1)


def lstm_from_keras_layout(kernel, recurrent_kernel, bias=None) -> dict[str, np.ndarray]:
    """Keras LSTM (kernel (I, 4H), recurrent_kernel (H, 4H), bias (4H,) or None; gates i|f|c|o) to
    torch.nn's {'weight_ih': (4H, I), 'weight_hh': (4H, H), 'bias_ih': (4H,), 'bias_hh': (4H,) zeros}
    (rows i|f|g|o; no biases when ``bias`` is None).

    Example::

        >>> import numpy as np
        >>> w = lstm_from_keras_layout(np.ones((3, 8)), np.ones((2, 8)), np.arange(8.0))
        >>> w["weight_ih"].shape, w["weight_hh"].shape, w["bias_ih"][:3], w["bias_hh"][:3]
        ((8, 3), (8, 2), array([0., 1., 2.]), array([0., 0., 0.]))
    """
    out = {"weight_ih": np.ascontiguousarray(kernel.T), "weight_hh": np.ascontiguousarray(recurrent_kernel.T)}
    if bias is not None:
        out["bias_ih"], out["bias_hh"] = np.array(bias), np.zeros_like(bias)
    return out


def lstm_to_keras_layout(weight_ih, weight_hh, bias_ih=None, bias_hh=None) -> list[np.ndarray]:
    """torch.nn's LSTM layout (weight_ih (4H, I), weight_hh (4H, H), bias_ih and bias_hh (4H,) or None) to
    Keras's ``[kernel (I, 4H), recurrent_kernel (H, 4H), bias (4H,)]`` (no bias without biases).

    Example::

        >>> import numpy as np
        >>> [a.shape for a in lstm_to_keras_layout(np.ones((8, 3)), np.ones((8, 2)), np.ones(8), np.ones(8))]
        [(3, 8), (2, 8), (8,)]
    """
    out = [np.ascontiguousarray(weight_ih.T), np.ascontiguousarray(weight_hh.T)]
    if bias_ih is not None:
        out.append(bias_ih + bias_hh)
    return out


def gru_from_keras_layout(kernel, recurrent_kernel, bias=None) -> tuple[dict[str, np.ndarray], bool]:
    """Keras GRU (kernel (I, 3H), recurrent_kernel (H, 3H) in z|r|h order; bias (2, 3H) with
    ``reset_after=True``, (3H,) with ``reset_after=False``, or None) to (torch.nn's layout in r|z|n order,
    ``reset_before``): reset_after=False is lstmkit's ``reset_before=True``. With a bias (2, 3H) the input
    bias goes to ``bias_ih`` and the recurrent one to ``bias_hh``; with (3H,), ``bias_hh`` is zeros. Without a
    bias the form is the torch.nn one (``reset_before=False``); pass the Keras ``reset_after`` through
    :func:`from_keras`'s config when it was False.

    Example::

        >>> import numpy as np
        >>> k = np.repeat(np.array([[0.0, 1.0, 2.0]]), 2, axis=0)          # (I=2, 3H) with H=1: z=0, r=1, h=2
        >>> w, reset_before = gru_from_keras_layout(k, np.zeros((1, 3)), np.zeros(3))
        >>> w["weight_ih"][:, 0], reset_before                              # rows r|z|n
        (array([1., 0., 2.]), True)
    """
    out = {"weight_ih": np.ascontiguousarray(_blocks(kernel, _GRU_ORDER).T),
           "weight_hh": np.ascontiguousarray(_blocks(recurrent_kernel, _GRU_ORDER).T)}
    if bias is None:
        return out, False
    if bias.ndim == 2:                                          # reset_after=True: (input, recurrent)
        out["bias_ih"], out["bias_hh"] = _blocks(bias[0], _GRU_ORDER), _blocks(bias[1], _GRU_ORDER)
        return out, False
    out["bias_ih"], out["bias_hh"] = _blocks(bias, _GRU_ORDER), np.zeros_like(bias)
    return out, True


def gru_to_keras_layout(weight_ih, weight_hh, bias_ih=None, bias_hh=None, *,
                        reset_before: bool = False) -> list[np.ndarray]:
    """torch.nn's GRU layout (weight_ih (3H, I), weight_hh (3H, H), bias_ih and bias_hh (3H,) or None; rows
    r|z|n) to Keras's ``[kernel (I, 3H), recurrent_kernel (H, 3H), bias]`` (z|r|h): bias (2, 3H) for the
    torch.nn form (Keras ``reset_after=True``), (3H,) = bias_ih + bias_hh for ``reset_before=True`` (Keras
    ``reset_after=False``; exact, as b_hn sits outside the reset there).

    Example::

        >>> import numpy as np
        >>> [a.shape for a in gru_to_keras_layout(np.ones((6, 3)), np.ones((6, 2)), np.ones(6), np.ones(6))]
        [(3, 6), (2, 6), (2, 6)]
    """
    out = [np.ascontiguousarray(_blocks(weight_ih.T, _GRU_ORDER)),
           np.ascontiguousarray(_blocks(weight_hh.T, _GRU_ORDER))]
    if bias_ih is not None:
        if reset_before:
            out.append(_blocks(bias_ih + bias_hh, _GRU_ORDER))
        else:
            out.append(np.stack([_blocks(bias_ih, _GRU_ORDER), _blocks(bias_hh, _GRU_ORDER)]))
    return out


def rnn_from_keras_layout(kernel, recurrent_kernel, bias=None) -> dict[str, np.ndarray]:
    """Keras SimpleRNN (kernel (I, H), recurrent_kernel (H, H), bias (H,) or None) to torch.nn's RNN
    layout (weight_ih (H, I), weight_hh (H, H), bias_ih (H,), bias_hh (H,) zeros).

    Example::

        >>> import numpy as np
        >>> sorted(rnn_from_keras_layout(np.ones((3, 2)), np.ones((2, 2)), np.ones(2)))
        ['bias_hh', 'bias_ih', 'weight_hh', 'weight_ih']
    """
    return lstm_from_keras_layout(kernel, recurrent_kernel, bias)


def rnn_to_keras_layout(weight_ih, weight_hh, bias_ih=None, bias_hh=None) -> list[np.ndarray]:
    """torch.nn's RNN layout (weight_ih (H, I), weight_hh (H, H), biases (H,) or None) to Keras SimpleRNN's
    ``[kernel (I, H), recurrent_kernel (H, H), bias (H,)]``.

    Example::

        >>> import numpy as np
        >>> [a.shape for a in rnn_to_keras_layout(np.ones((2, 3)), np.ones((2, 2)))]
        [(3, 2), (2, 2)]
    """
    return lstm_to_keras_layout(weight_ih, weight_hh, bias_ih, bias_hh)
