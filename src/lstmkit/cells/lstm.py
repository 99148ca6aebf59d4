"""The LSTM family: the forget-gate LSTM of torch.nn and its variants (peephole, layer norm, CIFG, projection)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import CellModule, CellSpec, ParamInfo, check_size

__all__ = ["LSTMSpec", "LSTMWeights", "LSTMCell", "lstm_step", "gate_slices"]


class LSTMWeights(NamedTuple):
    """LSTM parameters of one layer-direction as plain tensors (G = 4 gates, or 3 with ``cifg``).

    w_ih (G*H, I), w_hh (G*H, P), b_ih (G*H), b_hh (G*H), w_hr (P, H) with ``proj_size``,
    w_ch (3, H) peephole diagonals for (i, f, o) or (2, H) for (f, o) with ``cifg``,
    ln_ih (G*H), ln_hh (G*H) layer-norm gains of W_ih x_t and W_hh h_{t-1},
    ln_c_w (H), ln_c_b (H) layer-norm gain and bias of c_t.
    Absent parameters are None.
    """

    w_ih: Tensor
    w_hh: Tensor
    b_ih: Optional[Tensor] = None
    b_hh: Optional[Tensor] = None
    w_hr: Optional[Tensor] = None
    w_ch: Optional[Tensor] = None
    ln_ih: Optional[Tensor] = None
    ln_hh: Optional[Tensor] = None
    ln_c_w: Optional[Tensor] = None
    ln_c_b: Optional[Tensor] = None


@dataclass(frozen=True)
class LSTMSpec(CellSpec):
    """Options of one LSTM layer-direction. See :class:`LSTMCell` for the equations.

    Attributes:
        input_size, hidden_size: I and H.
        bias: learn b_ih and b_hh (and the layer-norm bias of c_t).
        proj_size: P > 0 projects h_t to P units with W_hr (as torch.nn.LSTM); 0 for none.
        peephole: diagonal peephole connections from the cell to the gates (Gers & Schmidhuber 2000).
        layer_norm: layer-normalise W_ih x_t, W_hh h_{t-1} and c_t (Ba et al. 2016).
        cifg: coupled input-forget gate, i_t = 1 - f_t (Greff et al. 2017); the i rows are dropped.
        forget_bias: if not None, the initial value of the forget-gate bias (b_ih's f rows; b_hh's f
            rows start at 0). None keeps torch.nn's initialisation.
        ln_eps: epsilon of the layer norms.
    """

    proj_size: int = 0
    peephole: bool = False
    layer_norm: bool = False
    cifg: bool = False
    forget_bias: Optional[float] = None
    ln_eps: float = 1e-5

    family = "lstm"
    num_states = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        check_size("proj_size", self.proj_size, minimum=0)
        if self.proj_size > 0 and self.proj_size >= self.hidden_size:
            raise ValueError(f"proj_size must be smaller than hidden_size ({self.hidden_size}), "
                             f"got {self.proj_size}")
        if self.forget_bias is not None:
            if isinstance(self.forget_bias, bool) or not isinstance(self.forget_bias, (int, float)):
                raise TypeError(f"forget_bias must be a number or None, got {type(self.forget_bias).__name__} "
                                f"({self.forget_bias!r})")
            if not math.isfinite(self.forget_bias):
                raise ValueError(f"forget_bias must be finite, got {self.forget_bias}")
        if self.forget_bias is not None and not self.bias:
            raise ValueError(f"forget_bias={self.forget_bias} needs bias=True: with bias=False there is "
                             f"no forget-gate bias to initialise")

    @property
    def num_gates(self) -> int:
        return 3 if self.cifg else 4

    @property
    def out_size(self) -> int:
        return self.proj_size if self.proj_size > 0 else self.hidden_size

    def state_sizes(self) -> tuple[int, ...]:
        return (self.out_size, self.hidden_size)

    def weights_type(self) -> type:
        return LSTMWeights

    def layout(self) -> list[ParamInfo]:
        G, H, I, P = self.num_gates, self.hidden_size, self.input_size, self.out_size
        out = [ParamInfo("w_ih", "weight_ih", (G * H, I)), ParamInfo("w_hh", "weight_hh", (G * H, P))]
        if self.bias:
            out += [ParamInfo("b_ih", "bias_ih", (G * H,)), ParamInfo("b_hh", "bias_hh", (G * H,))]
        if self.proj_size > 0:
            out.append(ParamInfo("w_hr", "weight_hr", (P, H)))
        if self.peephole:
            out.append(ParamInfo("w_ch", "weight_ch", (G - 1, H)))
        if self.layer_norm:
            out += [ParamInfo("ln_ih", "weight_ln_ih", (G * H,), "ones"),
                    ParamInfo("ln_hh", "weight_ln_hh", (G * H,), "ones"),
                    ParamInfo("ln_c_w", "weight_ln_c", (H,), "ones")]
            if self.bias:
                out.append(ParamInfo("ln_c_b", "bias_ln_c", (H,), "zeros"))
        return out

    def init_(self, params, generator=None) -> None:
        super().init_(params, generator)
        if self.forget_bias is not None:
            f = gate_slices(self)["f"]
            with torch.no_grad():
                params["b_ih"][f] = self.forget_bias
                params["b_hh"][f] = 0.0


def gate_slices(spec: LSTMSpec) -> dict[str, slice]:
    """Row ranges of each gate in the (G*H)-sized gate vectors: torch.nn order i|f|g|o, or f|g|o (cifg)."""
    H = spec.hidden_size
    names = "fgo" if spec.cifg else "ifgo"
    return {name: slice(k * H, (k + 1) * H) for k, name in enumerate(names)}


def peephole_rows(spec: LSTMSpec) -> dict[str, int]:
    """Row of each peephole diagonal in w_ch: (i, f, o), or (f, o) with cifg."""
    return {"f": 0, "o": 1} if spec.cifg else {"i": 0, "f": 1, "o": 2}


def lstm_step(spec: LSTMSpec, w: LSTMWeights, x: Tensor, state: tuple[Tensor, Tensor],
              drop_h: Tensor | None = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """One LSTM step in torch ops (differentiable by autograd). Equations: :class:`LSTMCell`.

    Args:
        x: (B, I) input x_t.
        state: (h_{t-1}, c_{t-1}) shaped (B, P) and (B, H).
        drop_h: optional (B, P) recurrent dropout mask (already scaled) applied to h_{t-1} in W_hh h_{t-1}.
    Returns:
        ``(h_t, (h_t, c_t))``.
    """
    h, c = state
    hd = h if drop_h is None else h * drop_h
    a_x = x @ w.w_ih.t()                                      # (B, G*H)
    a_h = hd @ w.w_hh.t()                                     # (B, G*H)
    if spec.layer_norm:
        a_x = F.layer_norm(a_x, a_x.shape[-1:], eps=spec.ln_eps) * w.ln_ih
        a_h = F.layer_norm(a_h, a_h.shape[-1:], eps=spec.ln_eps) * w.ln_hh
    pre = a_x + a_h
    if w.b_ih is not None:
        pre = pre + w.b_ih + w.b_hh
    s, pr = gate_slices(spec), peephole_rows(spec)
    pre_f, pre_g, pre_o = pre[:, s["f"]], pre[:, s["g"]], pre[:, s["o"]]
    if spec.peephole:
        pre_f = pre_f + w.w_ch[pr["f"]] * c
    f = torch.sigmoid(pre_f)
    if spec.cifg:
        i = 1.0 - f
    else:
        pre_i = pre[:, s["i"]]
        if spec.peephole:
            pre_i = pre_i + w.w_ch[pr["i"]] * c
        i = torch.sigmoid(pre_i)
    g = torch.tanh(pre_g)
    c_new = f * c + i * g
    if spec.peephole:
        pre_o = pre_o + w.w_ch[pr["o"]] * c_new
    o = torch.sigmoid(pre_o)
    c_hat = c_new
    if spec.layer_norm:
        c_hat = F.layer_norm(c_new, c_new.shape[-1:], w.ln_c_w, w.ln_c_b, eps=spec.ln_eps)
    h_new = o * torch.tanh(c_hat)
    if w.w_hr is not None:
        h_new = h_new @ w.w_hr.t()
    return h_new, (h_new, c_new)


class LSTMCell(CellModule):
    r"""Long short-term memory cell with forget gate (torch.nn layout), and its variants.

    .. math::
        \begin{aligned}
        a_t &= \mathrm{LN}_{ih}(W_{ih} x_t) + \mathrm{LN}_{hh}(W_{hh} h_{t-1}) + b_{ih} + b_{hh}
               \quad\text{(rows } i|f|g|o\text{)} \\
        i_t &= \sigma(a^i_t + w_{ci} \odot c_{t-1}) \qquad (\text{cifg: } i_t = 1 - f_t) \\
        f_t &= \sigma(a^f_t + w_{cf} \odot c_{t-1}) \\
        g_t &= \tanh(a^g_t) \\
        c_t &= f_t \odot c_{t-1} + i_t \odot g_t \\
        o_t &= \sigma(a^o_t + w_{co} \odot c_t) \\
        h_t &= W_{hr}\,\big(o_t \odot \tanh(\mathrm{LN}_c(c_t))\big)
        \end{aligned}

    where :math:`x_t` (size I) is the input, :math:`h_{t-1}` (size P: ``proj_size`` if set, else H) and
    :math:`c_{t-1}` (size H) the previous hidden and cell state, :math:`i_t, f_t, o_t` the input, forget
    and output gates, :math:`g_t` the candidate cell state :math:`\tilde C_t`, :math:`\sigma` the logistic
    sigmoid and :math:`\odot` the elementwise product. Each option switches a term on:

    * ``peephole``: the diagonal peephole weights :math:`w_{ci}, w_{cf}, w_{co}` (parameter
      ``weight_ch``, rows (i, f, o)); without it those terms are absent.
    * ``layer_norm``: :math:`\mathrm{LN}(a) = \gamma \odot (a - \mu(a)) / \sqrt{\sigma^2(a) + \epsilon}`
      (+ :math:`\beta` for :math:`c_t`) over the whole G*H (or H) vector, with gains ``weight_ln_ih``,
      ``weight_ln_hh``, ``weight_ln_c`` and bias ``bias_ln_c``; without it each LN is the identity.
      The carried :math:`c_t` is the un-normalised one.
    * ``cifg``: no input-gate rows; :math:`i_t = 1 - f_t` (rows f|g|o, ``weight_ch`` rows (f, o)).
    * ``proj_size``: :math:`W_{hr}` (``weight_hr``, (P, H)) projects the output; without it it is the
      identity and P = H.
    * ``bias=False`` drops :math:`b_{ih}, b_{hh}` (and :math:`\beta` of :math:`\mathrm{LN}_c`).

    With every option off this is exactly ``torch.nn.LSTMCell`` (same parameter names and layout).

    Args:
        input_size, hidden_size, bias, proj_size, peephole, layer_norm, cifg, forget_bias: see
            :class:`LSTMSpec`.

    Call as torch.nn.LSTMCell: ``h_t, c_t = cell(x_t, (h, c))`` with ``x_t`` (B, I) or (I,) unbatched,
    ``h`` (B, P) and ``c`` (B, H) (no B dim unbatched), or ``hx=None`` for zeros; ``h_t`` (B, P),
    ``c_t`` (B, H). :meth:`step` is the same step as ``h_t, (h_t, c_t) = cell.step(x_t, state)``, the form
    all three cell families share.

    Example::

        >>> import torch, lstmkit
        >>> cell = lstmkit.LSTMCell(8, 16, peephole=True)
        >>> h, c = torch.zeros(2, 16), torch.zeros(2, 16)
        >>> for x_t in torch.randn(5, 2, 8):
        ...     h, c = cell(x_t, (h, c))
        >>> h.shape, c.shape
        (torch.Size([2, 16]), torch.Size([2, 16]))
        >>> cell
        LSTMCell(8, 16, peephole=True)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *, proj_size: int = 0,
                 peephole: bool = False, layer_norm: bool = False, cifg: bool = False,
                 forget_bias: float | None = None, device=None, dtype=None) -> None:
        super().__init__()
        spec = LSTMSpec(input_size, hidden_size, bias, proj_size=proj_size, peephole=peephole,
                        layer_norm=layer_norm, cifg=cifg, forget_bias=forget_bias)
        self._register(spec, device, dtype)

    _step = staticmethod(lstm_step)
    _torch_cls = nn.LSTMCell
