"""Triton LSTM kernel: the reference's plan with each step's gate arithmetic fused into one Triton launch.

Equations: :class:`lstmkit.cells.lstm.LSTMCell`. The readable oracle is :mod:`lstmkit.kernels.reference.lstm`;
this module runs the same plan and saves the same :class:`~lstmkit.kernels.reference.lstm.LSTMSaved`:

* forward: W_ih x_t + b for all steps (one GEMM, layer norm of it in torch ops); per step the recurrent
  GEMM (torch, cuBLAS) and :func:`~.lstm_steps.lstm_forward_step` (gates, peepholes, CIFG, layer norm of
  W_hh h_{t-1} and of c_t, zoneout, lengths); with a projection, h~_t = W_hr m_t is one more GEMM and
  h's bookkeeping runs in torch ops;
* backward: per step :func:`~.lstm_steps.lstm_backward_step` and one GEMM for dh_{t-1} = W_hh^T da_h;
  then every weight gradient as a GEMM or a reduction over all steps (the reference's
  ``_weight_grads``): deterministic, no atomics.

The cell state is float32 whatever the input's dtype (float16/bfloat16 inputs carry c in float32 and run
their GEMMs in their own dtype); the returned c_T has c0's dtype. Resets and recurrent dropout are torch
ops around the step's GEMM.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from ...cells.lstm import LSTMSpec, LSTMWeights, gate_slices, peephole_rows
from ..base import FamilyOps
from ..common import SeqMasks, leave, leave_backward, valid_mask
from ..reference.lstm import LSTMSaved, _input_side, _split_gates, _weight_grads, saved_shapes
from ..reference._shared import recurrent_input
from .lstm_steps import lstm_backward_step, lstm_forward_step
from .triton_env import block_for, zone_strides

#: layer norm needs a whole row of G*H units in one program
MAX_LN_BLOCK = 16384


def unsupported(spec: LSTMSpec, x: Tensor) -> Optional[str]:
    if spec.layer_norm and block_for(spec.hidden_size, cap=1 << 30) > MAX_LN_BLOCK:
        return f"layer norm in one Triton program needs hidden_size <= {MAX_LN_BLOCK}, got {spec.hidden_size}"
    return None


class _Launch:
    """What every step's launch shares: grid, block, warps and the constexpr flags of the call."""

    def __init__(self, spec: LSTMSpec, B: int, m: SeqMasks, proj: bool):
        H = spec.hidden_size
        whole_row = spec.layer_norm                                 # LN reduces over the row
        self.block = block_for(H, cap=1 << 30) if whole_row else block_for(H, cap=1024)
        self.grid = (B, -(-H // self.block))
        self.warps = 4 if self.block <= 256 else 8 if self.block <= 2048 else 16
        s, pr = gate_slices(spec), peephole_rows(spec)
        offs = {g: s[g].start for g in s}
        offs.setdefault("i", offs["f"])                             # CIFG: no i rows; never stored
        self.gates = dict(OFF_I=offs["i"], OFF_F=offs["f"], OFF_G=offs["g"], OFF_O=offs["o"],
                          PR_I=pr.get("i", 0), PR_F=pr["f"], PR_O=pr["o"], CIFG=spec.cifg, PEEP=spec.peephole)
        self.flags = dict(LN_H=spec.layer_norm, LN_C=spec.layer_norm, HAS_ZC=m.zone_c is not None,
                          HAS_ZH=m.zone_h is not None, HAS_LEN=m.lengths is not None, H_SIDE=not proj)


def lstm_forward(spec: LSTMSpec, w: LSTMWeights, x: Tensor, state0: tuple[Tensor, Tensor], m: SeqMasks,
                 save: bool = True):
    """x (T, B, I), state0 (h0 (B, P), c0 (B, H)) -> (y (T, B, P), (h_T, c_T), saved or None)."""
    T, B, _ = x.shape
    H, P, GH = spec.hidden_size, spec.out_size, spec.num_gates * spec.hidden_size
    proj = w.w_hr is not None
    dt, f32 = x.dtype, torch.float32
    valid = valid_mask(m.lengths, T)
    xd, a_x, n_x, rstd_x = _input_side(spec, w, x, m, valid)
    a_x = a_x.contiguous()
    L = _Launch(spec, B, m, proj)
    rows = T + 1 if save else 2                               # carried states: all steps, or a ring of two
    hs, cs = x.new_empty(rows, B, P), x.new_empty(rows, B, H, dtype=f32)
    hs[0], cs[0] = state0[0], state0[1]
    y = x.new_empty(T, B, P)
    n = T if save else 1
    gates, c_new, tc = x.new_empty(n, B, GH), x.new_empty(n, B, H, dtype=f32), x.new_empty(n, B, H)
    ln = spec.layer_norm
    n_h = x.new_empty(n, B, GH) if ln else gates
    rstd_h, n_c, rstd_c = (x.new_empty(n, B, 1, dtype=f32), x.new_empty(n, B, H, dtype=f32),
                           x.new_empty(n, B, 1, dtype=f32)) if ln else (tc, c_new, tc)
    reset = m.reset
    # without a projection the kernel also writes what the next step starts from (P_{t+1} after a reset, the
    # GEMM input with recurrent dropout), so nothing runs between steps; with one, torch ops do it here
    fused_enter = not proj and (reset is not None or m.drop_h is not None)
    hpe = x.new_empty(rows, B, P) if reset is not None else None               # entered states P_t
    cpe = x.new_empty(rows, B, H, dtype=f32) if reset is not None else None
    if reset is not None:
        keep0 = (~reset[0]).unsqueeze(-1)
        hpe[0], cpe[0] = hs[0] * keep0, cs[0] * keep0
    reset_nx = torch.cat([reset[1:], reset.new_zeros(1, B)]).to(torch.uint8) if reset is not None else None
    hdb = x.new_empty(2, B, P) if fused_enter else None                         # the GEMM's input, a ring
    if fused_enter:
        hdb[0] = recurrent_input(hpe[0] if reset is not None else hs[0], m)
    m_t = x.new_empty(B, H) if proj else None
    lengths = m.lengths.contiguous() if m.lengths is not None else x
    drop_h = m.drop_h.contiguous() if m.drop_h is not None else x
    w_ch = w.w_ch.contiguous() if spec.peephole else x
    ln_hh = w.ln_hh if ln else x
    ln_c_w, ln_c_b = (w.ln_c_w, w.ln_c_b if w.ln_c_b is not None else w.ln_c_w) if ln else (x, x)
    w_hh_t = w.w_hh.t()
    szc, szh = zone_strides(m.zone_c), zone_strides(m.zone_h)
    for t in range(T):
        r0, r1 = (t, t + 1) if save else (t % 2, (t + 1) % 2)
        k = t if save else 0
        h_prev, c_prev = hs[r0], cs[r0]
        hp, cp = (hpe[r0], cpe[r0]) if reset is not None else (h_prev, c_prev)
        if fused_enter:
            hd = hdb[t % 2]
        else:
            if reset is not None and t > 0:                   # P_t = 0 where the state restarts
                keep = (~reset[t]).unsqueeze(-1)
                hpe[r0], cpe[r0] = h_prev * keep, c_prev * keep
            hd = recurrent_input(hp, m)
        if ln:
            ah, ax = hd @ w_hh_t, a_x[t]                     # (B, G*H): normalised in the kernel
        else:
            ah, ax = torch.addmm(a_x[t], hd, w_hh_t), a_x[t]  # (B, G*H) pre-activations
        zc = m.zone_c[t] if m.zone_c is not None else x
        zh = m.zone_h[t] if m.zone_h is not None else x
        h_out = m_t if proj else hs[r1]
        nxt = (hpe[r1], cpe[r1]) if reset is not None else (x, x)
        lstm_forward_step[L.grid](
            ax, ah, ln_hh, cp, c_prev, hp, h_prev, w_ch, ln_c_w, ln_c_b, zc, zh, lengths,
            reset_nx[t] if reset is not None else x, drop_h,
            gates[k], c_new[k], tc[k], n_h[k], rstd_h[k], n_c[k], rstd_c[k], cs[r1], h_out, y[t],
            nxt[0], nxt[1], hdb[(t + 1) % 2] if fused_enter else x,
            t, H, ax.stride(0), ah.stride(0), cp.stride(0), hp.stride(0), GH, H, h_out.stride(0), P,
            szc[0], szc[1], szh[0], szh[1], spec.ln_eps,
            **L.gates, ADD_X=ln, LN_C_BIAS=ln and w.ln_c_b is not None, SAVE=save, **L.flags,
            ENTER_NEXT=fused_enter, HAS_RESET=reset is not None, HAS_DROP=m.drop_h is not None,
            BLOCK=L.block, num_warps=L.warps)
        if proj:                                              # h~_t = W_hr m_t, then h's bookkeeping
            h_new = m_t @ w.w_hr.t()
            zone_h = (None if m.zone_h is None else m.zone_h[t],)
            (h_t,), y_t = leave((h_prev,), (hp,), (h_new,), zone_h, None if valid is None else valid[t])
            hs[r1], y[t] = h_t, y_t
    hT, cT = hs[T if save else T % 2].clone(), cs[T if save else T % 2].to(state0[1].dtype)
    if not save:
        return y, (hT, cT), None
    hp_all = hs[:T] if hpe is None else hpe[:T]
    cp_all = cs[:T] if cpe is None else cpe[:T]
    saved = LSTMSaved(xd=xd, hp=hp_all, cp=cp_all, gates=gates, c_new=c_new, tc=tc, c=cs[1:], n_x=n_x,
                      rstd_x=rstd_x, **(dict(n_h=n_h, rstd_h=rstd_h, n_c=n_c, rstd_c=rstd_c) if ln else {}))
    return y, (hT, cT), saved


def lstm_backward(spec: LSTMSpec, w: LSTMWeights, x: Tensor, state0, m: SeqMasks, saved: LSTMSaved,
                  dy: Tensor, d_stateT: tuple[Tensor, Tensor]):
    """BPTT: dy (T, B, P), d_stateT (dh_T (B, P), dc_T (B, H)) -> (dx, (dh0, dc0), dw :class:`LSTMWeights`)."""
    T, B, _ = x.shape
    H, P, GH = spec.hidden_size, spec.out_size, spec.num_gates * spec.hidden_size
    proj = w.w_hr is not None
    sv, ln = saved, spec.layer_norm
    L = _Launch(spec, B, m, proj)
    valid = valid_mask(m.lengths, T)
    dy = dy.contiguous()
    d_pre = x.new_empty(T, B, GH)
    d_ah = x.new_empty(T, B, GH) if ln else d_pre
    d_chat = x.new_empty(T, B, H, dtype=torch.float32) if ln else sv.c_new
    d_hcand = x.new_empty(T, B, P) if proj else None
    dh = d_stateT[0].to(x.dtype).contiguous()
    dc = d_stateT[1].to(torch.float32).contiguous()
    dc_next = torch.empty_like(dc)
    lengths = m.lengths.contiguous() if m.lengths is not None else x
    reset_u8 = m.reset.to(torch.uint8) if m.reset is not None else None
    drop_h = m.drop_h.contiguous() if m.drop_h is not None else x
    # without a projection, a reset's or recurrent dropout's part of dh_{t-1} is folded into the next
    # kernel (FOLD_DH): dhp = W_hh^T da_h and the extra part travel there; else torch ops finish dh here
    fold = not proj and (reset_u8 is not None or m.drop_h is not None)
    dhp, extra = torch.empty_like(dh), (torch.empty_like(dh), torch.empty_like(dh))
    w_ch = w.w_ch.contiguous() if spec.peephole else x
    ln_hh = w.ln_hh if ln else x
    n_h, rstd_h = (sv.n_h, sv.rstd_h) if ln else (d_pre, d_pre)
    n_c, rstd_c = (sv.n_c, sv.rstd_c) if ln else (sv.c_new, sv.c_new)
    ln_c_w = w.ln_c_w if ln else x
    szc, szh = zone_strides(m.zone_c), zone_strides(m.zone_h)
    for t in reversed(range(T)):
        dm, ex_out = x, extra[t % 2]
        if proj:                                              # h's bookkeeping, then dm_t = W_hr^T dh~_t
            zone_h = (None if m.zone_h is None else m.zone_h[t],)
            (dh_c,), (dhp_z,), carry = leave_backward((dh,), dy[t], zone_h, None if valid is None else valid[t])
            d_hcand[t] = dh_c
            dm = dh_c @ w.w_hr
            ex = dhp_z
            if reset_u8 is not None and ex is not None:
                ex = torch.where(m.reset[t].unsqueeze(-1), torch.zeros_like(ex), ex)
            if carry is not None:
                ex = carry[0] if ex is None else ex + carry[0]
            ex_out = torch.zeros_like(dh) if ex is None else ex
        zc = m.zone_c[t] if m.zone_c is not None else x
        zh = m.zone_h[t] if m.zone_h is not None else x
        folding = fold and t < T - 1
        lstm_backward_step[L.grid](
            dh, dc, dy[t], dm, zc, zh, lengths, reset_u8[t] if reset_u8 is not None else x,
            dhp, extra[(t + 1) % 2], reset_u8[t + 1] if folding and reset_u8 is not None else x, drop_h,
            sv.gates[t], sv.cp[t], sv.tc[t], sv.c_new[t], w_ch, ln_c_w, n_c[t], rstd_c[t], ln_hh, n_h[t], rstd_h[t],
            d_pre[t], d_ah[t], d_chat[t], dc_next, ex_out,
            t, H, dh.stride(0), dc.stride(0), dy.stride(1), GH, H, szc[0], szc[1], szh[0], szh[1],
            **L.gates, **L.flags, HAS_RESET=reset_u8 is not None, FOLD_DH=folding,
            HAS_DROP=m.drop_h is not None, BLOCK=L.block, num_warps=L.warps)
        dc, dc_next = dc_next, dc
        if fold:
            torch.mm(d_ah[t], w.w_hh, out=dhp)                # W_hh^T da_h: finished in the next kernel
        elif m.drop_h is None and reset_u8 is None:
            dh = torch.addmm(ex_out, d_ah[t], w.w_hh)          # dh_{t-1} = W_hh^T da_h (+ zoneout, frozen)
        else:                                                 # with a projection: torch ops
            dh_w = d_ah[t] @ w.w_hh
            if m.drop_h is not None:
                dh_w = dh_w * m.drop_h
            if reset_u8 is not None:
                dh_w = torch.where(m.reset[t].unsqueeze(-1), torch.zeros_like(dh_w), dh_w)
            dh = dh_w + ex_out
    if fold:                                                  # dh_0's own assembly, as the kernel does it
        dh_w = dhp if m.drop_h is None else dhp * m.drop_h
        if reset_u8 is not None:
            dh_w = torch.where(m.reset[0].unsqueeze(-1), torch.zeros_like(dh_w), dh_w)
        dh = dh_w + extra[0]
    dw_ch = dln_hh = dln_c_w = dln_c_b = None
    f32 = torch.float32
    if spec.peephole:                                         # rows (i, f, o), or (f, o) with cifg
        s, pr = gate_slices(spec), peephole_rows(spec)
        terms = {"o": (d_pre[..., s["o"]].to(f32) * sv.c_new).sum((0, 1)),
                 "f": (d_pre[..., s["f"]].to(f32) * sv.cp).sum((0, 1))}
        if not spec.cifg:
            terms["i"] = (d_pre[..., s["i"]].to(f32) * sv.cp).sum((0, 1))
        dw_ch = torch.stack([terms[g] for g in sorted(pr, key=pr.get)]).to(w.w_ch.dtype)
    if ln:
        dln_hh = (d_pre.to(f32) * sv.n_h.to(f32)).sum((0, 1)).to(w.ln_hh.dtype)
        dln_c_w = (d_chat * sv.n_c).sum((0, 1)).to(w.ln_c_w.dtype)
        if w.ln_c_b is not None:
            dln_c_b = d_chat.sum((0, 1)).to(w.ln_c_b.dtype)
    return _weight_grads(spec, w, sv, m, d_pre, d_ah, d_hcand, dw_ch, dln_hh, dln_c_w, dln_c_b,
                         (dh.to(state0[0].dtype), dc.to(state0[1].dtype)))


def gates_of(spec: LSTMSpec, saved: LSTMSaved) -> dict:
    """i, f, g, o and c for every step (c in the gates' dtype)."""
    return _split_gates(spec, saved.gates) | {"c": saved.c.to(saved.gates.dtype)}


OPS = FamilyOps(lstm_forward, lstm_backward, saved_shapes, LSTMSaved, gates_of)
