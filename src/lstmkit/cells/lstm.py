"""The LSTM family: the forget-gate LSTM of torch.nn and its variants (peephole, layer norm, CIFG, projection),
and the original LSTM of Hochreiter & Schmidhuber (1997): memory blocks of several cells sharing their gates, no
forget gate, its squashing functions, its truncated gradient and its initialisation."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import CellModule, CellSpec, ParamInfo, check_size

__all__ = ["LSTMSpec", "LSTMWeights", "LSTMCell", "lstm_step", "gate_slices", "squash", "squash_grad",
           "block_sum", "per_cell", "lstm_gates"]

#: the squashing functions a cell's input (g) and output (h) can take, by name
INPUT_SQUASH = ("tanh", "1997")
OUTPUT_SQUASH = ("tanh", "1997", "identity")
#: the 1997 options that change the computation (not only the initialisation)
CLASSIC_OPTIONS = ("cells_per_block", "forget_gate", "input_squash", "output_squash", "truncated_gradient")


class LSTMWeights(NamedTuple):
    """LSTM parameters of one layer-direction as plain tensors (G = 4 gates, or 3 with ``cifg``).

    R = ``spec.gate_rows`` rows of gate pre-activations (4H for torch.nn's LSTM, 3H with ``cifg``; with
    memory blocks of S cells each gate has H/S rows and the cell input g has H: R = H + 3H/S, or H + 2H/S
    without the forget gate):
    w_ih (R, I), w_hh (R, P), b_ih (R), b_hh (R), w_hr (P, H) with ``proj_size``,
    w_ch (3, H) peephole weights for (i, f, o), (2, H) for (f, o) with ``cifg`` or (i, o) without the
    forget gate: one weight per cell (with memory blocks each gate sees every cell of its block),
    ln_ih (R), ln_hh (R) layer-norm gains of W_ih x_t and W_hh h_{t-1},
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
        cells_per_block: S, the memory cells of one memory block (Hochreiter & Schmidhuber 1997): the H cells
            form H/S blocks, and the cells of a block share one input gate, one output gate (and one
            forget gate). S must divide H; 1 is the usual LSTM.
        forget_gate: False drops the forget gate: the 1997 constant error carousel c_t = c_{t-1} + i_t g_t.
        input_squash: the cell input's squashing g: "tanh", or "1997" (4 sigma(x) - 2, range [-2, 2]).
        output_squash: the cell output's squashing h: "tanh", "1997" (2 sigma(x) - 1, range [-1, 1]) or
            "identity" (Gers et al. 2002 drop it).
        truncated_gradient: the 1997 truncated gradient: errors reaching the net inputs of the gates and of
            the cell input are not propagated back in time (to h_{t-1}, nor through the peepholes to
            c_{t-1}); error flows back in time through the cell state only. Weight gradients are kept.
        init_range: if not None, every parameter initialised by torch.nn's U(-1/sqrt(H), 1/sqrt(H)) is
            drawn from U(-init_range, init_range) instead (the 1997 paper: 0.1 or 0.2).
        gate_bias_steps: if not None, (input, forget, output) steps of blockwise staggered gate biases:
            block k (k = 1 .. H/S) starts with bias k * step in b_ih of each gate (b_hh's rows at 0); a
            gate absent from the cell is skipped. Negative output steps are the 1997 cure for the "abuse
            problem" (later blocks open later); (-0.5, 0.5, -0.5) is Gers et al. 2000's scheme.
    """

    proj_size: int = 0
    peephole: bool = False
    layer_norm: bool = False
    cifg: bool = False
    forget_bias: Optional[float] = None
    ln_eps: float = 1e-5
    cells_per_block: int = 1
    forget_gate: bool = True
    input_squash: str = "tanh"
    output_squash: str = "tanh"
    truncated_gradient: bool = False
    init_range: Optional[float] = None
    gate_bias_steps: Optional[tuple] = None

    family = "lstm"
    num_states = 2

    def __post_init__(self) -> None:
        if self.gate_bias_steps is not None:                  # a list (from JSON) becomes a tuple: hashable
            object.__setattr__(self, "gate_bias_steps", _bias_steps(self.gate_bias_steps))
        super().__post_init__()
        check_size("proj_size", self.proj_size, minimum=0)
        self._check_classic()
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

    def _check_classic(self) -> None:
        """Validate the 1997 options (memory blocks, no forget gate, squashing, gradient, initialisation)."""
        check_size("cells_per_block", self.cells_per_block)
        if self.hidden_size % self.cells_per_block:
            raise ValueError(f"cells_per_block must divide hidden_size ({self.hidden_size}) into whole memory "
                             f"blocks, got {self.cells_per_block}")
        for name, value in (("forget_gate", self.forget_gate), ("truncated_gradient", self.truncated_gradient)):
            if not isinstance(value, bool):
                raise TypeError(f"{name} must be a bool, got {type(value).__name__} ({value!r})")
        if not self.forget_gate and self.cifg:
            raise ValueError("cifg=True couples the input gate to the forget gate (i_t = 1 - f_t), so it needs "
                             "forget_gate=True, got forget_gate=False")
        if not self.forget_gate and self.forget_bias is not None:
            raise ValueError(f"forget_bias={self.forget_bias} needs forget_gate=True, got forget_gate=False")
        if self.input_squash not in INPUT_SQUASH:
            raise ValueError(f"input_squash must be one of {INPUT_SQUASH}, got {self.input_squash!r}")
        if self.output_squash not in OUTPUT_SQUASH:
            raise ValueError(f"output_squash must be one of {OUTPUT_SQUASH}, got {self.output_squash!r}")
        if self.init_range is not None:
            if isinstance(self.init_range, bool) or not isinstance(self.init_range, (int, float)) or \
                    not 0 < self.init_range < math.inf:
                raise ValueError(f"init_range must be a positive number or None, got {self.init_range!r}")
        if self.gate_bias_steps is not None and not self.bias:
            raise ValueError(f"gate_bias_steps={self.gate_bias_steps} needs bias=True: with bias=False there "
                             f"are no gate biases to initialise")

    @property
    def num_gates(self) -> int:
        """Gate groups in the pre-activation rows: i|f|g|o (4), f|g|o with cifg or i|g|o without the forget
        gate (3). Each has H rows, except that with memory blocks i, f and o have one row per block."""
        return len(self.gate_names)

    @property
    def gate_names(self) -> str:
        """The row groups in order: "ifgo" (torch.nn), "fgo" (cifg) or "igo" (no forget gate)."""
        return "fgo" if self.cifg else ("ifgo" if self.forget_gate else "igo")

    @property
    def num_blocks(self) -> int:
        """Memory blocks: H / cells_per_block (H with one cell per block)."""
        return self.hidden_size // self.cells_per_block

    @property
    def gate_rows(self) -> int:
        """R, the rows of W_ih, W_hh and the biases: H for g plus one row per block for each gate."""
        return self.hidden_size + (self.num_gates - 1) * self.num_blocks

    @property
    def classic(self) -> dict:
        """The 1997 options that change the computation (memory blocks, no forget gate, squashing,
        truncated gradient) set away from the usual LSTM's, {} when none: the kernels that run them are
        the ones whose ``runs_classic`` is set (the reference)."""
        usual = self.__dataclass_fields__
        return {k: getattr(self, k) for k in CLASSIC_OPTIONS if getattr(self, k) != usual[k].default}

    @property
    def out_size(self) -> int:
        return self.proj_size if self.proj_size > 0 else self.hidden_size

    def state_sizes(self) -> tuple[int, ...]:
        return (self.out_size, self.hidden_size)

    def weights_type(self) -> type:
        return LSTMWeights

    def layout(self) -> list[ParamInfo]:
        G, H, I, P, R = self.num_gates, self.hidden_size, self.input_size, self.out_size, self.gate_rows
        out = [ParamInfo("w_ih", "weight_ih", (R, I)), ParamInfo("w_hh", "weight_hh", (R, P))]
        if self.bias:
            out += [ParamInfo("b_ih", "bias_ih", (R,)), ParamInfo("b_hh", "bias_hh", (R,))]
        if self.proj_size > 0:
            out.append(ParamInfo("w_hr", "weight_hr", (P, H)))
        if self.peephole:
            out.append(ParamInfo("w_ch", "weight_ch", (G - 1, H)))
        if self.layer_norm:
            out += [ParamInfo("ln_ih", "weight_ln_ih", (R,), "ones"),
                    ParamInfo("ln_hh", "weight_ln_hh", (R,), "ones"),
                    ParamInfo("ln_c_w", "weight_ln_c", (H,), "ones")]
            if self.bias:
                out.append(ParamInfo("ln_c_b", "bias_ln_c", (H,), "zeros"))
        return out

    def init_(self, params, generator=None) -> None:
        super().init_(params, generator)
        with torch.no_grad():
            if self.init_range is not None:
                for info in self.layout():
                    if info.init == "uniform":
                        params[info.field].uniform_(-self.init_range, self.init_range, generator=generator)
            if self.forget_bias is not None:
                f = gate_slices(self)["f"]
                params["b_ih"][f] = self.forget_bias
                params["b_hh"][f] = 0.0
            if self.gate_bias_steps is not None:
                s = gate_slices(self)
                blocks = torch.arange(1, self.num_blocks + 1, dtype=params["b_ih"].dtype)
                for name, step in zip("ifo", self.gate_bias_steps):
                    if name in s:
                        params["b_ih"][s[name]] = blocks * step
                        params["b_hh"][s[name]] = 0.0


def _bias_steps(value) -> tuple:
    """gate_bias_steps as a tuple of three finite floats (input, forget, output), or a clear error."""
    try:
        steps = tuple(float(v) for v in value if not isinstance(v, bool))
    except (TypeError, ValueError):
        steps = ()
    if len(steps) != 3 or len(steps) != len(tuple(value)) or not all(math.isfinite(v) for v in steps):
        raise ValueError(f"gate_bias_steps must be three finite numbers (input, forget, output), got {value!r}")
    return steps


def gate_slices(spec: LSTMSpec) -> dict[str, slice]:
    """Row ranges of each gate in the R-sized gate vectors, in torch.nn's order i|f|g|o (f|g|o with cifg,
    i|g|o without the forget gate): H rows for g, one per memory block (H with one cell each) for the others."""
    out, start = {}, 0
    for name in spec.gate_names:
        n = spec.hidden_size if name == "g" else spec.num_blocks
        out[name], start = slice(start, start + n), start + n
    return out


def peephole_rows(spec: LSTMSpec) -> dict[str, int]:
    """Row of each peephole weight vector in w_ch: (i, f, o), (f, o) with cifg, (i, o) without forget gate."""
    return {name: k for k, name in enumerate(n for n in spec.gate_names if n != "g")}


def block_sum(v: Tensor, cells_per_block: int) -> Tensor:
    """(..., H) per cell -> (..., H/S) per memory block: the sum over each block's S cells."""
    if cells_per_block == 1:
        return v
    return v.reshape(*v.shape[:-1], v.shape[-1] // cells_per_block, cells_per_block).sum(-1)


def per_cell(v: Tensor, cells_per_block: int) -> Tensor:
    """(..., H/S) per memory block -> (..., H): each block's value repeated for its S cells."""
    return v if cells_per_block == 1 else v.repeat_interleave(cells_per_block, dim=-1)


def squash(kind: str, x: Tensor) -> Tensor:
    """The squashing functions: tanh; the 1997 input squashing 4 sigma(x) - 2 = 2 tanh(x/2) (range [-2, 2])
    and output squashing 2 sigma(x) - 1 = tanh(x/2) (range [-1, 1]), told apart by ``kind`` = "1997g" /
    "1997h"; or the identity."""
    if kind == "tanh":
        return torch.tanh(x)
    if kind == "1997g":
        return 4.0 * torch.sigmoid(x) - 2.0
    if kind == "1997h":
        return 2.0 * torch.sigmoid(x) - 1.0
    return x


def squash_grad(kind: str, y: Tensor) -> Tensor:
    """The derivative of :func:`squash` at the point whose value is y: tanh 1 - y^2; 4 sigma - 2:
    1 - y^2 / 4; 2 sigma - 1: (1 - y^2) / 2; identity 1."""
    if kind == "tanh":
        return 1.0 - y * y
    if kind == "1997g":
        return 1.0 - 0.25 * y * y
    if kind == "1997h":
        return 0.5 * (1.0 - y * y)
    return torch.ones_like(y)


def squash_kinds(spec: LSTMSpec) -> tuple[str, str]:
    """(g's kind, h's kind) for :func:`squash`."""
    g = "1997g" if spec.input_squash == "1997" else "tanh"
    h = {"1997": "1997h", "identity": "identity"}.get(spec.output_squash, "tanh")
    return g, h


def lstm_gates(spec: LSTMSpec, w: LSTMWeights, pre: Tensor, c: Tensor, c_net: Optional[Tensor] = None):
    """The gates and the new cell state of one step, from the net inputs ``pre`` (B, R) (a_t with the
    biases) and c_{t-1} (B, H); ``c_net`` is c_{t-1} as the input and forget gates' peepholes see it
    (default ``c``; detached for the truncated gradient).

    Returns:
        (f (B, H/S) or None without forget gate, i (B, H/S), g (B, H), o (B, H/S), c_t (B, H)).
    """
    S = spec.cells_per_block
    c_net = c if c_net is None else c_net
    s, pr = gate_slices(spec), peephole_rows(spec)
    pre_g, pre_o = pre[:, s["g"]], pre[:, s["o"]]
    f = None
    if spec.forget_gate:
        pre_f = pre[:, s["f"]]
        if spec.peephole:
            pre_f = pre_f + block_sum(w.w_ch[pr["f"]] * c_net, S)
        f = torch.sigmoid(pre_f)                                      # f_t (one per block)
    if spec.cifg:
        i = 1.0 - f                                                   # i_t = 1 - f_t
    else:
        pre_i = pre[:, s["i"]]
        if spec.peephole:
            pre_i = pre_i + block_sum(w.w_ch[pr["i"]] * c_net, S)
        i = torch.sigmoid(pre_i)                                      # i_t
    g = squash(squash_kinds(spec)[0], pre_g)                          # g_t = C~_t
    c_new = per_cell(i, S) * g                                        # c_t = f_t c_{t-1} + i_t g_t
    c_new = c + c_new if f is None else per_cell(f, S) * c + c_new
    if spec.peephole:
        pre_o = pre_o + block_sum(w.w_ch[pr["o"]] * c_new, S)
    o = torch.sigmoid(pre_o)                                          # o_t
    return f, i, g, o, c_new


def lstm_step(spec: LSTMSpec, w: LSTMWeights, x: Tensor, state: tuple[Tensor, Tensor],
              drop_h: Tensor | None = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """One LSTM step in torch ops (differentiable by autograd). Equations: :class:`LSTMCell`.

    With ``truncated_gradient`` the previous state enters the net inputs detached, so autograd gives the
    1997 truncated gradient (error reaches the past through the cell state only).

    Args:
        x: (B, I) input x_t.
        state: (h_{t-1}, c_{t-1}) shaped (B, P) and (B, H).
        drop_h: optional (B, P) recurrent dropout mask (already scaled) applied to h_{t-1} in W_hh h_{t-1}.
    Returns:
        ``(h_t, (h_t, c_t))``.
    """
    h, c = state
    c_net = c.detach() if spec.truncated_gradient else c           # c_{t-1} as the peepholes see it
    hd = h if drop_h is None else h * drop_h
    if spec.truncated_gradient:
        hd = hd.detach()
    a_x = x @ w.w_ih.t()                                      # (B, R)
    a_h = hd @ w.w_hh.t()                                     # (B, R)
    if spec.layer_norm:
        a_x = F.layer_norm(a_x, a_x.shape[-1:], eps=spec.ln_eps) * w.ln_ih
        a_h = F.layer_norm(a_h, a_h.shape[-1:], eps=spec.ln_eps) * w.ln_hh
    pre = a_x + a_h
    if w.b_ih is not None:
        pre = pre + w.b_ih + w.b_hh
    f, i, g, o, c_new = lstm_gates(spec, w, pre, c, c_net)
    c_hat = c_new
    if spec.layer_norm:
        c_hat = F.layer_norm(c_new, c_new.shape[-1:], w.ln_c_w, w.ln_c_b, eps=spec.ln_eps)
    h_new = per_cell(o, spec.cells_per_block) * squash(squash_kinds(spec)[1], c_hat)
    if w.w_hr is not None:
        h_new = h_new @ w.w_hr.t()
    return h_new, (h_new, c_new)


class LSTMCell(CellModule):
    r"""Long short-term memory cell with forget gate (torch.nn layout), its variants, and the 1997 LSTM.

    .. math::
        \begin{aligned}
        a_t &= \mathrm{LN}_{ih}(W_{ih} x_t) + \mathrm{LN}_{hh}(W_{hh} h_{t-1}) + b_{ih} + b_{hh}
               \quad\text{(rows } i|f|g|o\text{)} \\
        i_t &= \sigma(a^i_t + w_{ci} \odot c_{t-1}) \qquad (\text{cifg: } i_t = 1 - f_t) \\
        f_t &= \sigma(a^f_t + w_{cf} \odot c_{t-1}) \qquad (\text{forget\_gate=False: } f_t = 1) \\
        g_t &= g(a^g_t) \\
        c_t &= f_t \odot c_{t-1} + i_t \odot g_t \\
        o_t &= \sigma(a^o_t + w_{co} \odot c_t) \\
        h_t &= W_{hr}\,\big(o_t \odot h(\mathrm{LN}_c(c_t))\big)
        \end{aligned}

    where :math:`x_t` (size I) is the input, :math:`h_{t-1}` (size P: ``proj_size`` if set, else H) and
    :math:`c_{t-1}` (size H) the previous hidden and cell state, :math:`i_t, f_t, o_t` the input, forget
    and output gates, :math:`g_t` the candidate cell state :math:`\tilde C_t`, :math:`\sigma` the logistic
    sigmoid, :math:`g = h = \tanh` the squashing functions and :math:`\odot` the elementwise product.
    Each option switches a term on:

    * ``peephole``: the peephole weights :math:`w_{ci}, w_{cf}, w_{co}` (parameter ``weight_ch``, rows
      (i, f, o)); without it those terms are absent.
    * ``layer_norm``: :math:`\mathrm{LN}(a) = \gamma \odot (a - \mu(a)) / \sqrt{\sigma^2(a) + \epsilon}`
      (+ :math:`\beta` for :math:`c_t`) over the whole R (or H) vector, with gains ``weight_ln_ih``,
      ``weight_ln_hh``, ``weight_ln_c`` and bias ``bias_ln_c``; without it each LN is the identity.
      The carried :math:`c_t` is the un-normalised one.
    * ``cifg``: no input-gate rows; :math:`i_t = 1 - f_t` (rows f|g|o, ``weight_ch`` rows (f, o)).
    * ``proj_size``: :math:`W_{hr}` (``weight_hr``, (P, H)) projects the output; without it it is the
      identity and P = H.
    * ``bias=False`` drops :math:`b_{ih}, b_{hh}` (and :math:`\beta` of :math:`\mathrm{LN}_c`).

    The original LSTM (Hochreiter & Schmidhuber 1997) in the same equations:

    * ``cells_per_block=S``: memory blocks. The H cells form H/S blocks; block b's S cells share one
      :math:`i, f, o` (rows i, f and o have H/S entries, g has H: R = H + 3H/S), so in the equations
      :math:`i_t, f_t, o_t` of cell j are those of its block :math:`b(j) = \lfloor j / S \rfloor` and a
      peephole term of block b is :math:`\sum_{j \in b} w_{c,j}\, c_j` (one weight per cell).
    * ``forget_gate=False``: the constant error carousel :math:`c_t = c_{t-1} + i_t \odot g_t` (rows
      i|g|o, ``weight_ch`` rows (i, o)).
    * ``input_squash="1997"``: :math:`g(x) = 4\sigma(x) - 2`, range [-2, 2];
      ``output_squash="1997"``: :math:`h(x) = 2\sigma(x) - 1`, range [-1, 1]; ``output_squash="identity"``:
      :math:`h(x) = x` (Gers et al. 2002).
    * ``truncated_gradient``: the backward pass drops the errors that would flow from the net inputs
      :math:`a_t` back to :math:`h_{t-1}` and (through the peepholes) :math:`c_{t-1}`; only the cell state
      carries error back in time. The forward pass is unchanged.
    * ``init_range``, ``gate_bias_steps``: the paper's initialisation, see :class:`LSTMSpec`.

    With every option off this is exactly ``torch.nn.LSTMCell`` (same parameter names and layout).

    Args:
        input_size, hidden_size, bias, proj_size, peephole, layer_norm, cifg, forget_bias, cells_per_block,
            forget_gate, input_squash, output_squash, truncated_gradient, init_range, gate_bias_steps: see
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
        >>> cell97 = lstmkit.LSTMCell(8, 4, cells_per_block=2, forget_gate=False, input_squash="1997",
        ...                           output_squash="1997", truncated_gradient=True, init_range=0.1)
        >>> cell97.weight_ih.shape                  # rows: i (2 blocks) | g (4 cells) | o (2 blocks)
        torch.Size([8, 8])
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *, proj_size: int = 0,
                 peephole: bool = False, layer_norm: bool = False, cifg: bool = False,
                 forget_bias: float | None = None, cells_per_block: int = 1, forget_gate: bool = True,
                 input_squash: str = "tanh", output_squash: str = "tanh", truncated_gradient: bool = False,
                 init_range: float | None = None, gate_bias_steps=None, device=None, dtype=None) -> None:
        super().__init__()
        spec = LSTMSpec(input_size, hidden_size, bias, proj_size=proj_size, peephole=peephole,
                        layer_norm=layer_norm, cifg=cifg, forget_bias=forget_bias,
                        cells_per_block=cells_per_block, forget_gate=forget_gate, input_squash=input_squash,
                        output_squash=output_squash, truncated_gradient=truncated_gradient,
                        init_range=init_range, gate_bias_steps=gate_bias_steps)
        self._register(spec, device, dtype)

    _step = staticmethod(lstm_step)
    _torch_cls = nn.LSTMCell
