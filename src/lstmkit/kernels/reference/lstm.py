"""Reference LSTM kernel: whole-sequence forward and hand-written BPTT in torch ops.

Equations: :class:`lstmkit.cells.lstm.LSTMCell` (with the 1997 options: memory blocks, no forget gate,
the 1997 squashing functions and truncated gradient); state bookkeeping (reset, zoneout, lengths):
:mod:`lstmkit.kernels.common`. Plan (as haste): one GEMM for W_ih x_t over all steps, then per step one
recurrent GEMM and the pointwise gate math; the backward runs the reverse-time recursion per step and
finishes with big GEMMs over all steps for dW_ih, dW_hh, dW_hr, db and dx.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import torch
from torch import Tensor

from ...cells.lstm import (LSTMSpec, LSTMWeights, block_sum, gate_slices, lstm_gates, peephole_rows, per_cell, squash,
                           squash_grad, squash_kinds)
from ..common import (SeqMasks, add_opt, enter, enter_backward, leave, leave_backward, ln_backward,
                      ln_forward, valid_mask)
from ._shared import at, drop_input, gemm_grad, input_grads, project_all, recurrent_input, zones_at


class LSTMSaved(NamedTuple):
    """What the forward keeps for the backward (T steps, G gates)."""

    xd: Tensor                  # (T, B, I)  input after padding zeroed and input dropout
    hp: Tensor                  # (T, B, P)  h entering each step (after reset), P_t's h
    cp: Tensor                  # (T, B, H)  c entering each step
    gates: Tensor               # (T, B, R) activated gates i|f|g|o (f|g|o with cifg, i|g|o without f)
    c_new: Tensor               # (T, B, H)  candidate cell state c~_t
    tc: Tensor                  # (T, B, H)  h(LN_c(c~_t)), the squashed cell output (tanh by default)
    c: Tensor                   # (T, B, H)  c_t, the carried state (after zoneout and lengths)
    n_x: Optional[Tensor] = None     # (T, B, R) normalised W_ih x_t     (layer_norm)
    rstd_x: Optional[Tensor] = None  # (T, B, 1)
    n_h: Optional[Tensor] = None     # (T, B, R) normalised W_hh h_{t-1}
    rstd_h: Optional[Tensor] = None
    n_c: Optional[Tensor] = None     # (T, B, H) normalised c~_t
    rstd_c: Optional[Tensor] = None


def saved_shapes(spec: LSTMSpec, T: int, B: int, I: int, m: SeqMasks) -> dict:
    """Shapes of the tensors :func:`lstm_forward` saves, in field order (for fake tensors)."""
    H, P, GH = spec.hidden_size, spec.out_size, spec.gate_rows
    out = dict(xd=(T, B, I), hp=(T, B, P), cp=(T, B, H), gates=(T, B, GH), c_new=(T, B, H), tc=(T, B, H), c=(T, B, H))
    if spec.layer_norm:
        out.update(n_x=(T, B, GH), rstd_x=(T, B, 1), n_h=(T, B, GH), rstd_h=(T, B, 1), n_c=(T, B, H),
                   rstd_c=(T, B, 1))
    return out


def gates_of(spec: LSTMSpec, saved: LSTMSaved) -> dict:
    """i, f, g, o and c for every step (processing order), from what the forward saved, (T, B, H) each:
    a memory block's gate is shown on each of its cells, and without a forget gate f is the carousel's 1."""
    return _split_gates(spec, saved.gates) | {"c": saved.c}


def _split_gates(spec: LSTMSpec, gates: Tensor) -> dict:
    s = gate_slices(spec)
    out = {name: gates[..., sl] for name, sl in s.items()}
    if spec.cifg:
        out["i"] = 1.0 - out["f"]                                      # i_t = 1 - f_t
    if not spec.forget_gate:
        out["f"] = torch.ones_like(out["i"])                           # the constant error carousel
    return {k: out[k] if k == "g" else per_cell(out[k], spec.cells_per_block) for k in "ifgo"}


def _input_side(spec: LSTMSpec, w: LSTMWeights, x: Tensor, m: SeqMasks, valid: Optional[Tensor]):
    """xd, and the input half of the gate pre-activations for all steps: (T, B, G*H), one GEMM."""
    xd = drop_input(x, m, valid)
    a_x = project_all(xd, w.w_ih)                                     # (T, B, G*H)
    n_x = rstd_x = None
    if spec.layer_norm:
        n_x, rstd_x = ln_forward(a_x, spec.ln_eps)
        a_x = n_x * w.ln_ih
    if w.b_ih is not None:
        a_x = a_x + (w.b_ih + w.b_hh)
    return xd, a_x, n_x, rstd_x


def lstm_forward(spec: LSTMSpec, w: LSTMWeights, x: Tensor, state0: tuple[Tensor, Tensor], m: SeqMasks,
                 save: bool = True):
    """Run the sequence forward in time.

    Args:
        x: (T, B, I); state0: (h0 (B, P), c0 (B, H)); m: :class:`SeqMasks`.
    Returns:
        (y (T, B, P), (h_T (B, P), c_T (B, H)), saved :class:`LSTMSaved` or None).
    """
    T, B, _ = x.shape
    s, pr = gate_slices(spec), peephole_rows(spec)
    S, sq_h = spec.cells_per_block, squash_kinds(spec)[1]
    valid = valid_mask(m.lengths, T)
    xd, a_x, n_x, rstd_x = _input_side(spec, w, x, m, valid)
    zones = m.zones(2)
    keep = save
    rec = {k: [] for k in ("hp", "cp", "gates", "c_new", "tc", "c", "n_h", "rstd_h", "n_c", "rstd_c")}
    ys = []
    state = tuple(state0)
    for t in range(T):
        hp, cp = enter(state, at(m.reset, t))
        hd = recurrent_input(hp, m)
        a_h = hd @ w.w_hh.t()                                         # (B, R)
        if spec.layer_norm:
            n_h, rstd_h = ln_forward(a_h, spec.ln_eps)
            a_h = n_h * w.ln_hh
        pre = a_x[t] + a_h                                            # (B, R)
        f, i, g, o, c_new = lstm_gates(spec, w, pre, cp)
        c_hat = c_new
        if spec.layer_norm:
            n_c, rstd_c = ln_forward(c_new, spec.ln_eps)
            c_hat = n_c * w.ln_c_w if w.ln_c_b is None else n_c * w.ln_c_w + w.ln_c_b
        tc = squash(sq_h, c_hat)                                      # h(ĉ_t)
        h_new = per_cell(o, S) * tc                                   # h_t = o_t h(c_t)
        if w.w_hr is not None:
            h_new = h_new @ w.w_hr.t()                                # h_t = W_hr (o_t h(c_t))
        state, y = leave(state, (hp, cp), (h_new, c_new), zones_at(zones, t), at(valid, t))
        ys.append(y)
        if keep:
            gates = torch.cat([{"i": i, "f": f, "g": g, "o": o}[k] for k in spec.gate_names], dim=1)
            for k, v in (("hp", hp), ("cp", cp), ("gates", gates), ("c_new", c_new), ("tc", tc), ("c", state[1])):
                rec[k].append(v)
            if spec.layer_norm:
                for k, v in (("n_h", n_h), ("rstd_h", rstd_h), ("n_c", n_c), ("rstd_c", rstd_c)):
                    rec[k].append(v)
    y = torch.stack(ys)
    if not keep:
        return y, state, None
    st = {k: torch.stack(v) for k, v in rec.items() if v}
    saved = LSTMSaved(xd=xd, n_x=n_x, rstd_x=rstd_x, **st)
    return y, state, saved


def lstm_backward(spec: LSTMSpec, w: LSTMWeights, x: Tensor, state0, m: SeqMasks, saved: LSTMSaved,
                  dy: Tensor, d_stateT: tuple[Tensor, Tensor]):
    """Backpropagation through time (with ``truncated_gradient``, the 1997 truncated gradient: nothing flows
    from the net inputs back to h_{t-1} or, through the peepholes, to c_{t-1}).

    Args:
        dy: (T, B, P) gradient of the outputs; d_stateT: (dh_T (B, P), dc_T (B, H)).
    Returns:
        (dx (T, B, I), (dh0, dc0), dw :class:`LSTMWeights` of gradients, None where no parameter).
    """
    T = x.shape[0]
    s, pr = gate_slices(spec), peephole_rows(spec)
    S, (sq_g, sq_h) = spec.cells_per_block, squash_kinds(spec)
    valid = valid_mask(m.lengths, T)
    zones = m.zones(2)
    sv = saved
    # per step, from t = T-1 down (lists, not in-place writes: this backward is differentiable and
    # vmappable, for double backward and torch.func): dL/d(gate pre-activations) (B, R),
    # dL/d(W_hh h_{t-1}) (B, R), dL/dh~_t (B, P), and the per-step terms of the small parameters
    acc = {k: [] for k in ("d_pre", "d_ah", "d_hcand", "w_ch_i", "w_ch_f", "w_ch_o", "ln_hh", "ln_c_w", "ln_c_b")}
    dh, dc = d_stateT
    for t in reversed(range(T)):
        (dh_c, dc_c), (dhp_z, dcp_z), carry = leave_backward((dh, dc), dy[t], zones_at(zones, t), at(valid, t))
        gates, cp, tc = sv.gates[t], sv.cp[t], sv.tc[t]
        g, o = gates[:, s["g"]], gates[:, s["o"]]                     # g (B, H); o (B, H/S) per block
        f = gates[:, s["f"]] if spec.forget_gate else None
        i = 1.0 - f if spec.cifg else gates[:, s["i"]]
        if w.w_hr is not None:
            acc["d_hcand"].append(dh_c)
            dh_c = dh_c @ w.w_hr                                      # dm_t = W_hr^T dh~_t
        # do_t = sum over the block's cells of dh_t * h(ĉ_t) ;  dĉ_t = dh_t * o_t * h'(ĉ_t)
        d_o = block_sum(dh_c * tc, S)
        d_chat = dh_c * per_cell(o, S) * squash_grad(sq_h, tc)
        if spec.layer_norm:
            n_c = sv.n_c[t]
            acc["ln_c_w"].append((d_chat * n_c).sum(0))
            if w.ln_c_b is not None:
                acc["ln_c_b"].append(d_chat.sum(0))
            d_chat = ln_backward(d_chat * w.ln_c_w, n_c, sv.rstd_c[t])
        # dc_t = dĉ_t (through LN_c) + dc_{t+1} f_{t+1} (arrived in dc_c) [+ dpre_o w_co]
        dc_c = dc_c + d_chat
        d_pre_o = d_o * o * (1.0 - o)                                  # dpre_o = do_t o_t (1 - o_t)
        if spec.peephole:
            d_pre_o_cells = per_cell(d_pre_o, S)
            dc_c = dc_c + d_pre_o_cells * w.w_ch[pr["o"]]
            acc["w_ch_o"].append((d_pre_o_cells * sv.c_new[t]).sum(0))
        # di = sum_block dc g ; dg = dc i ; df = sum_block dc c_{t-1}
        d_i, d_g = block_sum(dc_c * g, S), dc_c * per_cell(i, S)
        d_pre_g = d_g * squash_grad(sq_g, g)                          # dpre_g = dg g'(pre_g)
        d_pre_i = d_pre_f = None
        if spec.forget_gate:
            d_f = block_sum(dc_c * cp, S)
            dcp = dc_c * per_cell(f, S)                               # dc_{t-1} = dc_t f_t (+ peepholes)
            if spec.cifg:
                d_pre_f = (d_f - d_i) * f * (1.0 - f)                 # i = 1 - f: df_total = df - di
            else:
                d_pre_f = d_f * f * (1.0 - f)
        else:
            dcp = dc_c                                                # the carousel: dc_{t-1} = dc_t
        if not spec.cifg:
            d_pre_i = d_i * i * (1.0 - i)
        if spec.peephole:
            for name, d_pre_k in (("f", d_pre_f), ("i", d_pre_i)):
                if d_pre_k is None:
                    continue
                d_cells = per_cell(d_pre_k, S)
                acc["w_ch_" + name].append((d_cells * cp).sum(0))
                if not spec.truncated_gradient:                       # truncated: no error back through a_t
                    dcp = dcp + d_cells * w.w_ch[pr[name]]
        parts = {"i": d_pre_i, "f": d_pre_f, "g": d_pre_g, "o": d_pre_o}
        d_pre = torch.cat([parts[k] for k in spec.gate_names], 1)
        acc["d_pre"].append(d_pre)
        d_ah = d_pre
        if spec.layer_norm:
            acc["ln_hh"].append((d_pre * sv.n_h[t]).sum(0))
            d_ah = ln_backward(d_pre * w.ln_hh, sv.n_h[t], sv.rstd_h[t])
            acc["d_ah"].append(d_ah)
        if spec.truncated_gradient:
            dhp = torch.zeros_like(dh)                                # no error from a_t back to h_{t-1}
        else:
            dhp = d_ah @ w.w_hh                                       # dh_{t-1} = W_hh^T da_h
            if m.drop_h is not None:
                dhp = dhp * m.drop_h
        d_prev = enter_backward((add_opt(dhp, dhp_z), add_opt(dcp, dcp_z)), at(m.reset, t))
        if carry is not None:
            d_prev = (d_prev[0] + carry[0], d_prev[1] + carry[1])
        dh, dc = d_prev
    seq = {k: torch.stack(v[::-1]) if v else None for k, v in acc.items() if k.startswith("d_")}
    total = {k: torch.stack(v).sum(0) if v else None for k, v in acc.items() if not k.startswith("d_")}
    dw_ch = None
    if spec.peephole:                                                  # rows as peephole_rows: (i, f, o) ...
        dw_ch = torch.stack([total["w_ch_" + g] for g in sorted(pr, key=pr.get)])
    return _weight_grads(spec, w, sv, m, seq["d_pre"], seq["d_ah"] if spec.layer_norm else seq["d_pre"],
                         seq["d_hcand"], dw_ch, total["ln_hh"], total["ln_c_w"], total["ln_c_b"], (dh, dc))


def _weight_grads(spec, w, sv: LSTMSaved, m: SeqMasks, d_pre_all, d_ah_all, d_hcand_all,
                  dw_ch, dln_hh, dln_c_w, dln_c_b, d_state0):
    """dx and the weight gradients as big GEMMs over all T*B rows."""
    T, B, GH = d_pre_all.shape
    d_ax_all = d_pre_all                                              # dL/d(W_ih x_t)
    dln_ih = None
    if spec.layer_norm:
        dln_ih = (d_pre_all * sv.n_x).sum((0, 1))
        d_ax_all = ln_backward(d_pre_all * w.ln_ih, sv.n_x, sv.rstd_x)
    dw_ih, dx = input_grads(d_ax_all, sv.xd, w.w_ih, m)
    dw_hh = gemm_grad(d_ah_all, recurrent_input(sv.hp, m))            # dW_hh = sum_t da_h^T h_{t-1}
    db = d_pre_all.sum((0, 1)) if w.b_ih is not None else None        # db_ih = db_hh = sum_t da
    dw_hr = None
    if w.w_hr is not None:
        s = gate_slices(spec)
        mm = per_cell(sv.gates[..., s["o"]], spec.cells_per_block) * sv.tc     # (T, B, H) o_t h(c_t)
        dw_hr = gemm_grad(d_hcand_all, mm)                            # dW_hr = sum_t dh~_t^T m_t
    dw = LSTMWeights(w_ih=dw_ih, w_hh=dw_hh, b_ih=db, b_hh=None if db is None else db.clone(), w_hr=dw_hr,
                     w_ch=dw_ch, ln_ih=dln_ih, ln_hh=dln_hh, ln_c_w=dln_c_w, ln_c_b=dln_c_b)
    return dx, d_state0, dw


def lstm_jvp(spec: LSTMSpec, w: LSTMWeights, x: Tensor, state0, m: SeqMasks, dw: LSTMWeights, dx: Tensor,
             d_state0: tuple[Tensor, Tensor]):
    """Forward-mode derivative (tangent propagation, the transpose of :func:`lstm_backward`).

    Args:
        dw, dx, d_state0: tangents of the weights (an :class:`LSTMWeights` of tensors shaped as ``w``'s),
            the input (T, B, I) and the initial state ((B, P), (B, H)).
    Returns:
        (y, final state, dy (T, B, P), final state's tangent): the outputs and their tangents. The
        tangents are differentiable torch ops of every argument, like the forward itself.
    """
    y, stateT, sv = lstm_forward(spec, w, x, state0, m, save=True)
    T = x.shape[0]
    s, pr = gate_slices(spec), peephole_rows(spec)
    valid = valid_mask(m.lengths, T)
    zones = m.zones(2)
    # dW_ih x_t + W_ih dx_t, through LN_ih (its Jacobian is symmetric: ln_backward applies it)
    da_x = project_all(drop_input(dx, m, valid), w.w_ih) + project_all(sv.xd, dw.w_ih)     # (T, B, G*H)
    if spec.layer_norm:
        da_x = ln_backward(da_x, sv.n_x, sv.rstd_x) * w.ln_ih + sv.n_x * dw.ln_ih
    if w.b_ih is not None:
        da_x = da_x + (dw.b_ih + dw.b_hh)
    tan, dys = tuple(d_state0), []
    S, (sq_g, sq_h) = spec.cells_per_block, squash_kinds(spec)
    cut = spec.truncated_gradient              # the tangent of the forward whose net inputs see the past detached
    for t in range(T):
        dhp, dcp = enter(tan, at(m.reset, t))
        hp, cp, gates = sv.hp[t], sv.cp[t], sv.gates[t]
        g, o = gates[:, s["g"]], gates[:, s["o"]]
        f = gates[:, s["f"]] if spec.forget_gate else None
        i = 1.0 - f if spec.cifg else gates[:, s["i"]]
        da_h = recurrent_input(hp, m) @ dw.w_hh.t()
        if not cut:
            da_h = da_h + recurrent_input(dhp, m) @ w.w_hh.t()
        if spec.layer_norm:
            da_h = ln_backward(da_h, sv.n_h[t], sv.rstd_h[t]) * w.ln_hh + sv.n_h[t] * dw.ln_hh
        d_pre = da_x[t] + da_h                                        # (B, R)

        def peep(name, c_val, dc_val, cut_here):                      # tangent of sum_block w_c c
            out = block_sum(dw.w_ch[pr[name]] * c_val, S)
            return out if cut_here else out + block_sum(w.w_ch[pr[name]] * dc_val, S)

        d_f = d_i = None
        if spec.forget_gate:
            d_pre_f = d_pre[:, s["f"]]
            if spec.peephole:
                d_pre_f = d_pre_f + peep("f", cp, dcp, cut)
            d_f = d_pre_f * f * (1.0 - f)                             # df = f (1 - f) dpre_f
        if spec.cifg:
            d_i = -d_f                                                # i = 1 - f
        else:
            d_pre_i = d_pre[:, s["i"]]
            if spec.peephole:
                d_pre_i = d_pre_i + peep("i", cp, dcp, cut)
            d_i = d_pre_i * i * (1.0 - i)
        d_g = d_pre[:, s["g"]] * squash_grad(sq_g, g)                 # dg = g'(pre_g) dpre_g
        # dc_t = df c_{t-1} + f dc_{t-1} + di g + i dg  (f = 1, df = 0 without a forget gate)
        d_c = per_cell(d_i, S) * g + per_cell(i, S) * d_g
        d_c = d_c + (dcp if f is None else per_cell(d_f, S) * cp + per_cell(f, S) * dcp)
        d_pre_o = d_pre[:, s["o"]]
        if spec.peephole:
            d_pre_o = d_pre_o + peep("o", sv.c_new[t], d_c, False)
        d_o = d_pre_o * o * (1.0 - o)
        d_chat = d_c
        if spec.layer_norm:
            d_chat = ln_backward(d_c, sv.n_c[t], sv.rstd_c[t]) * w.ln_c_w + sv.n_c[t] * dw.ln_c_w
            if w.ln_c_b is not None:
                d_chat = d_chat + dw.ln_c_b
        tc, o_cells = sv.tc[t], per_cell(o, S)
        d_h = per_cell(d_o, S) * tc + o_cells * squash_grad(sq_h, tc) * d_chat   # dh = do h(c) + o h'(c) dĉ
        if w.w_hr is not None:
            d_h = d_h @ w.w_hr.t() + (o_cells * tc) @ dw.w_hr.t()     # d(W_hr m) = W_hr dm + dW_hr m
        tan, dy_t = leave(tan, (dhp, dcp), (d_h, d_c), zones_at(zones, t), at(valid, t))
        dys.append(dy_t)
    return y, stateT, torch.stack(dys), tan
