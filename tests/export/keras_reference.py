"""Keras's recurrent layers in NumPy, written from Keras's documentation and cell code (keras.layers.LSTMCell,
GRUCell, SimpleRNNCell), independent of lstmkit: batch-major inputs (B, T, I), Keras's weight layout."""

from __future__ import annotations

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def lstm_cell(x, state, kernel, recurrent_kernel, bias):
    """i, f, c, o gates side by side: z = x W + h U + b; c = f c + i tanh(z_c); h = o tanh(c)."""
    h, c = state
    z = x @ kernel + h @ recurrent_kernel
    if bias is not None:
        z = z + bias
    z0, z1, z2, z3 = np.split(z, 4, axis=-1)
    i, f, o = sigmoid(z0), sigmoid(z1), sigmoid(z3)
    c = f * c + i * np.tanh(z2)
    h = o * np.tanh(c)
    return h, (h, c)


def gru_cell(x, state, kernel, recurrent_kernel, bias, reset_after):
    """z, r, h~ side by side. reset_after: h~ = tanh(x W_h + b_h + r * (h U_h + b'_h)); else
    h~ = tanh(x W_h + b_h + (r * h) U_h). h = z h_prev + (1 - z) h~."""
    (h,) = state
    H = h.shape[-1]
    if reset_after:
        b_in, b_rec = (bias[0], bias[1]) if bias is not None else (0.0, 0.0)
        mx = x @ kernel + b_in
        mh = h @ recurrent_kernel + b_rec
        x_z, x_r, x_h = np.split(mx, 3, axis=-1)
        h_z, h_r, h_h = np.split(mh, 3, axis=-1)
        z, r = sigmoid(x_z + h_z), sigmoid(x_r + h_r)
        hh = np.tanh(x_h + r * h_h)
    else:
        mx = x @ kernel + (bias if bias is not None else 0.0)
        x_z, x_r, x_h = np.split(mx, 3, axis=-1)
        z = sigmoid(x_z + h @ recurrent_kernel[:, :H])
        r = sigmoid(x_r + h @ recurrent_kernel[:, H:2 * H])
        hh = np.tanh(x_h + (r * h) @ recurrent_kernel[:, 2 * H:])
    h = z * h + (1.0 - z) * hh
    return h, (h,)


def simple_rnn_cell(x, state, kernel, recurrent_kernel, bias, activation):
    (h,) = state
    a = x @ kernel + h @ recurrent_kernel + (bias if bias is not None else 0.0)
    h = np.tanh(a) if activation == "tanh" else np.maximum(a, 0.0)
    return h, (h,)


def run_layer(kind: str, x, arrays, go_backwards=False, **kw):
    """One Keras layer with return_sequences=True, return_state=True: (outputs (B, T, H) in the order
    processed (reversed with go_backwards, as Keras returns them), final states)."""
    kernel, recurrent_kernel = arrays[0], arrays[1]
    bias = arrays[2] if len(arrays) == 3 else None
    B, T = x.shape[0], x.shape[1]
    H = recurrent_kernel.shape[0]
    zeros = np.zeros((B, H), dtype=x.dtype)
    state = (zeros, zeros) if kind == "lstm" else (zeros,)
    steps = range(T - 1, -1, -1) if go_backwards else range(T)
    outs = []
    for t in steps:
        if kind == "lstm":
            y, state = lstm_cell(x[:, t], state, kernel, recurrent_kernel, bias)
        elif kind == "gru":
            y, state = gru_cell(x[:, t], state, kernel, recurrent_kernel, bias, **kw)
        else:
            y, state = simple_rnn_cell(x[:, t], state, kernel, recurrent_kernel, bias, **kw)
        outs.append(y)
    return np.stack(outs, axis=1), state


def run_stack(kind: str, x, layers, bidirectional: bool, **kw):
    """A stack of Keras layers (each a Bidirectional(merge_mode='concat') when ``bidirectional``):
    (output (B, T, D*H), [final state per layer and direction])."""
    finals = []
    for arrays in layers:
        if bidirectional:
            half = len(arrays) // 2
            y, s = run_layer(kind, x, arrays[:half], **kw)
            y_rev, s_rev = run_layer(kind, x, arrays[half:], go_backwards=True, **kw)
            x = np.concatenate([y, y_rev[:, ::-1]], axis=-1)        # Keras flips the backward outputs back
            finals += [s, s_rev]
        else:
            x, s = run_layer(kind, x, arrays, **kw)
            finals.append(s)
    return x, finals
