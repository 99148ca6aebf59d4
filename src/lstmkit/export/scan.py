"""The variants' recurrent graphs: the cell step of :mod:`lstmkit.cells` (LSTM with every option, GRU, Elman
RNN) written with ONNX operators, and a layer direction as a ``Scan`` over time whose body is that step, with
zoneout (as its expectation) and sequence lengths. :mod:`lstmkit.export.recurrent` chooses between these and
ONNX's own operators."""

from __future__ import annotations

import numpy as np

from .graph import Graph, _onnx


def _np(t) -> np.ndarray:
    """A parameter as a float32 numpy array."""
    return t.detach().cpu().float().numpy()


def _zeros(g: Graph, x: str, batch_axis: int, size: int) -> str:
    """(B, size) float32 zeros, B = dim ``batch_axis`` of ``x``."""
    key = ("zeros", x, batch_axis, size)
    memo = g._memo
    if key not in memo:
        batch = g.op("Shape", [x], start=batch_axis, end=batch_axis + 1, hint="batch")
        shape = g.op("Concat", [batch, g.ints([size])], axis=0, hint="zeros_shape")
        memo[key] = g.op("ConstantOfShape", [shape], hint=f"zeros_{size}",
                         value=_onnx().numpy_helper.from_array(np.zeros(1, np.float32)))
    return memo[key]


def _valid_mask(g: Graph, xt: str, lengths: str) -> str:
    """(T, B, 1) bool, True where t < lengths[b]."""
    memo = g._memo
    key = ("valid", xt, lengths)
    if key not in memo:
        T = g.op("Squeeze", [g.op("Shape", [xt], start=0, end=1, hint="T1"), g.ints([0])], hint="T")
        t = g.op("Range", [g.scalar(0, np.int64, "zero_i"), T, g.scalar(1, np.int64, "one_i")], hint="t")
        t = g.op("Unsqueeze", [t, g.ints([1])], hint="t_col")                          # (T, 1)
        valid = g.op("Less", [t, g.op("Unsqueeze", [lengths, g.ints([0])], hint="len_row")], hint="valid_tb")
        memo[key] = g.op("Unsqueeze", [valid, g.ints([2])], hint="valid")               # (T, B, 1)
    return memo[key]


def _layer_norm(g: Graph, a: str, weight, bias, eps: float, hint: str) -> str:
    """LayerNormalization over the last axis with gain ``weight`` (and ``bias``), as :func:`F.layer_norm`."""
    scale = g.const(_np(weight), f"{hint}_gain")
    b = None if bias is None else g.const(_np(bias), f"{hint}_bias")
    return g.op("LayerNormalization", [a, scale, b], axis=-1, epsilon=float(eps), hint=hint)


def _input_side(g: Graph, spec, w, x: str) -> str:
    """The input half of the pre-activations for every step at once: (..., I) -> (..., R), one MatMul; LSTM:
    LN_ih (layer_norm) and b_ih + b_hh; GRU: b_ih (b_hh enters the step); RNN: b_ih + b_hh."""
    a = g.op("MatMul", [x, g.const(_np(w.w_ih).T.copy(), "W_ih_T")], hint="a_x")
    if spec.family == "lstm" and spec.layer_norm:
        a = _layer_norm(g, a, w.ln_ih, None, spec.ln_eps, "ln_ih")
    if w.b_ih is not None:
        bias = _np(w.b_ih) if spec.family == "gru" else _np(w.b_ih + w.b_hh)
        a = g.op("Add", [a, g.const(bias, "b_x")], hint="a_x_b")
    return a


def _per_cell(g: Graph, v: str, S: int, nb: int) -> str:
    """(B, H/S) per memory block -> (B, H): each block's value repeated for its S cells."""
    if S == 1:
        return v
    v = g.op("Unsqueeze", [v, g.ints([2])], hint="blk")                             # (B, nb, 1)
    v = g.op("Expand", [v, g.ints([1, nb, S])], hint="blk_cells")                    # (B, nb, S)
    return g.op("Reshape", [v, g.ints([0, -1])], hint="per_cell")


def _block_sum(g: Graph, v: str, S: int, nb: int) -> str:
    """(B, H) per cell -> (B, H/S): the sum over each block's S cells."""
    if S == 1:
        return v
    v = g.op("Reshape", [v, g.ints([0, nb, S])], hint="cells_blk")
    return g.op("ReduceSum", [v, g.ints([2])], keepdims=0, hint="block_sum")


def _squash(g: Graph, kind: str, v: str) -> str:
    """tanh, 4 sigma - 2 ("1997g"), 2 sigma - 1 ("1997h") or the identity, as :func:`lstmkit.cells.lstm.squash`."""
    if kind == "tanh":
        return g.op("Tanh", [v])
    if kind in ("1997g", "1997h"):
        a, b = (4.0, 2.0) if kind == "1997g" else (2.0, 1.0)
        s = g.op("Mul", [g.op("Sigmoid", [v]), g.scalar(a)], hint="squash")
        return g.op("Sub", [s, g.scalar(b)], hint="squash")
    return v


def _lstm_step(g: Graph, spec, w, a_x: str, h: str, c: str) -> tuple:
    """One LSTM step (:class:`lstmkit.cells.LSTMCell`): a_x (B, R) with biases, h (B, P), c (B, H) ->
    (h_t (B, P), c_t (B, H))."""
    from ..cells.lstm import gate_slices, peephole_rows, squash_kinds
    S, nb = spec.cells_per_block, spec.num_blocks
    a_h = g.op("MatMul", [h, g.const(_np(w.w_hh).T.copy(), "W_hh_T")], hint="a_h")  # (B, R)
    if spec.layer_norm:
        a_h = _layer_norm(g, a_h, w.ln_hh, None, spec.ln_eps, "ln_hh")
    pre = g.op("Add", [a_x, a_h], hint="pre")
    sl = gate_slices(spec)
    names = list(spec.gate_names)
    parts = g.op("Split", [pre, g.ints([sl[n].stop - sl[n].start for n in names])], axis=1,
                 outputs=len(names), hint="pre_gate")
    pre_of = dict(zip(names, parts))
    pr, (sq_g, sq_h) = peephole_rows(spec), squash_kinds(spec)

    def peep(name: str, cell: str) -> str:
        if not spec.peephole:
            return pre_of[name]
        wc = g.const(_np(w.w_ch)[pr[name]], f"w_c{name}")
        return g.op("Add", [pre_of[name], _block_sum(g, g.op("Mul", [wc, cell]), S, nb)], hint=f"pre_{name}")

    f = g.op("Sigmoid", [peep("f", c)], hint="f") if spec.forget_gate else None      # f_t
    i = g.op("Sub", [g.scalar(1.0), f], hint="i") if spec.cifg else g.op("Sigmoid", [peep("i", c)], hint="i")
    gg = _squash(g, sq_g, pre_of["g"])                                                # g_t
    ig = g.op("Mul", [_per_cell(g, i, S, nb), gg], hint="ig")
    fc = c if f is None else g.op("Mul", [_per_cell(g, f, S, nb), c], hint="fc")
    c_new = g.op("Add", [fc, ig], hint="c_t")                                        # c_t = f c + i g
    o = g.op("Sigmoid", [peep("o", c_new)], hint="o")                                # o_t
    c_hat = c_new
    if spec.layer_norm:
        c_hat = _layer_norm(g, c_new, w.ln_c_w, w.ln_c_b, spec.ln_eps, "ln_c")
    h_new = g.op("Mul", [_per_cell(g, o, S, nb), _squash(g, sq_h, c_hat)], hint="h_t")
    if w.w_hr is not None:
        h_new = g.op("MatMul", [h_new, g.const(_np(w.w_hr).T.copy(), "W_hr_T")], hint="h_t_proj")
    return h_new, c_new


def _gru_step(g: Graph, spec, w, a_x: str, h: str) -> tuple:
    """One GRU step (:class:`lstmkit.cells.GRUCell`): a_x (B, 3H) with b_ih, h (B, H) -> (h_t,)."""
    H = spec.hidden_size
    w_hh, b_hh = _np(w.w_hh), None if w.b_hh is None else _np(w.b_hh)
    x_r, x_z, x_n = g.op("Split", [a_x, g.ints([H, H, H])], axis=1, outputs=3, hint="a_x_gate")

    def lin(v: str, rows: slice, hint: str) -> str:
        out = g.op("MatMul", [v, g.const(w_hh[rows].T.copy(), f"W_hh_{hint}_T")], hint=hint)
        return out if b_hh is None else g.op("Add", [out, g.const(b_hh[rows], f"b_hh_{hint}")], hint=hint)

    if spec.reset_before:
        h_r, h_z = g.op("Split", [lin(h, slice(0, 2 * H), "a_rz"), g.ints([H, H])], axis=1, outputs=2)
        r = g.op("Sigmoid", [g.op("Add", [x_r, h_r])], hint="r")
        z = g.op("Sigmoid", [g.op("Add", [x_z, h_z])], hint="z")
        a_n = lin(g.op("Mul", [r, h], hint="rh"), slice(2 * H, 3 * H), "a_n")
        n = g.op("Tanh", [g.op("Add", [x_n, a_n])], hint="n")
    else:
        h_r, h_z, h_n = g.op("Split", [lin(h, slice(0, 3 * H), "a_h"), g.ints([H, H, H])], axis=1, outputs=3)
        r = g.op("Sigmoid", [g.op("Add", [x_r, h_r])], hint="r")
        z = g.op("Sigmoid", [g.op("Add", [x_z, h_z])], hint="z")
        n = g.op("Tanh", [g.op("Add", [x_n, g.op("Mul", [r, h_n])])], hint="n")
    one_z = g.op("Sub", [g.scalar(1.0), z], hint="one_minus_z")
    h_new = g.op("Add", [g.op("Mul", [one_z, n]), g.op("Mul", [z, h])], hint="h_t")  # (1 - z) n + z h
    return (h_new,)


def _rnn_step(g: Graph, spec, w, a_x: str, h: str) -> tuple:
    """One Elman step: a_x (B, H) with both biases, h (B, H) -> (h_t,)."""
    a_h = g.op("MatMul", [h, g.const(_np(w.w_hh).T.copy(), "W_hh_T")], hint="a_h")
    pre = g.op("Add", [a_x, a_h], hint="pre")
    return (g.op("Tanh" if spec.nonlinearity == "tanh" else "Relu", [pre], hint="h_t"),)


def _emit_scan_direction(g: Graph, layer, k: int, d: int, xt: str, state0: tuple, lengths) -> tuple:
    """Layer ``k``, direction ``d`` as a Scan over time: y (T, B, P) and the final states ((B, P), (B, H))."""
    spec, w = layer._specs[k], layer.weights(k, d)
    rates = layer._zoneout_rates()
    D, reverse = layer.num_directions, d == 1
    a_x = _input_side(g, spec, w, xt)                                                # (T, B, R)
    sizes = spec.state_sizes()
    inits = []
    for s0, size in zip(state0, sizes):
        if s0 is None:
            inits.append(_zeros(g, xt, 1, size))
        else:
            inits.append(g.op("Gather", [s0, g.scalar(k * D + d, np.int64, "idx")], axis=0, hint="state0"))
    valid = None
    if lengths is not None:
        valid = _valid_mask(g, xt, lengths)
        if reverse:           # each sequence backwards from its own last step; the mask is unchanged by it
            a_x = g.op("ReverseSequence", [a_x, lengths], batch_axis=1, time_axis=0, hint="a_x_rev")
    body = g.subgraph(g.fresh(f"step_l{k}{'_reverse' if reverse else ''}"))
    prev = [body._input_as(body.fresh(f"{n}_prev"), np.float32, [None, size]) for n, size in zip("hc", sizes)]
    rows = {"lstm": getattr(spec, "gate_rows", 0), "gru": 3 * spec.hidden_size, "rnn": spec.hidden_size}
    a_t = body._input_as(body.fresh("a_x_t"), np.float32, [None, rows[spec.family]])
    m_t = body._input_as(body.fresh("valid_t"), np.bool_, [None, 1]) if valid is not None else None
    if spec.family == "lstm":
        cand = _lstm_step(body, spec, w, a_t, prev[0], prev[1])
    else:
        cand = (_gru_step if spec.family == "gru" else _rnn_step)(body, spec, w, a_t, prev[0])
    new = []
    for p_, c_, rate in zip(prev, cand, rates):          # zoneout in evaluation: p * previous + (1 - p) * new
        if rate > 0:
            keep = body.op("Mul", [body.scalar(np.float32(rate), hint="zone"), p_], hint="zone_keep")
            take = body.op("Mul", [body.scalar(np.float32(1.0) - np.float32(rate), hint="zone_1m"), c_],
                           hint="zone_new")
            c_ = body.op("Add", [keep, take], hint="zoned")
        new.append(c_)
    y = new[0]
    if m_t is not None:                  # past the length: the state keeps its value and the output is zero
        y = body.op("Where", [m_t, y, body.scalar(0.0, hint="zero")], hint="y_t")
        new = [body.op("Where", [m_t, s, p_], hint="state_t") for s, p_ in zip(new, prev)]
    for s, size in zip(new, sizes):
        body._output_as(body.fresh("state_out"), np.float32, [None, size], s)
    body._output_as(body.fresh("y_out"), np.float32, [None, spec.out_size], y)
    scan_in = [a_x] + ([valid] if valid is not None else [])
    direction = 1 if reverse and lengths is None else None
    outs = g.op("Scan", inits + scan_in, outputs=len(sizes) + 1, hint=f"scan_l{k}", body=body.graph_proto(),
                num_scan_inputs=len(scan_in),
                scan_input_directions=None if direction is None else [1] * len(scan_in),
                scan_output_directions=None if direction is None else [1])
    y_seq, finals = outs[-1], outs[:-1]
    if reverse and lengths is not None:
        y_seq = g.op("ReverseSequence", [y_seq, lengths], batch_axis=1, time_axis=0, hint="y_rev")
    return y_seq, finals
