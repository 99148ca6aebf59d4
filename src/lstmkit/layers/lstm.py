"""lstmkit.LSTM: drop-in for torch.nn.LSTM, plus the LSTM variants and recurrent regularisation."""

from __future__ import annotations

from dataclasses import fields
from typing import Optional

from torch import nn

from ..cells.base import CellSpec, check_prob
from ..cells.lstm import LSTMSpec
from .base import RecurrentBase


class LSTM(RecurrentBase):
    r"""Multi-layer LSTM over a sequence; a drop-in replacement for :class:`torch.nn.LSTM`.

    Equations: :class:`lstmkit.cells.LSTMCell`. Same arguments, parameter names (``weight_ih_l{k}``,
    ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}``, ``weight_hr_l{k}``, ``_reverse`` for the
    backward direction), layouts (rows i|f|g|o), initialisation and outputs as torch.nn.LSTM; a
    state_dict moves between the two unchanged (:meth:`from_torch`, :meth:`to_torch`).

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, proj_size,
            device, dtype: as torch.nn.LSTM (``dropout`` is standard dropout on the outputs of every
            layer but the last, in training).
        peephole: peephole connections (extra parameter ``weight_ch_l{k}``: (3, H) for (i, f, o), or (2, H) for
            (f, o) with ``cifg``).
        layer_norm: layer normalisation of W_ih x_t, W_hh h_{t-1} and c_t (``weight_ln_ih_l{k}``,
            ``weight_ln_hh_l{k}``, ``weight_ln_c_l{k}``, ``bias_ln_c_l{k}``).
        cifg: coupled input-forget gate (i_t = 1 - f_t; weights have 3H rows f|g|o).
        forget_bias: initial forget-gate bias (None: torch.nn's initialisation).
        cells_per_block, forget_gate, input_squash, output_squash, truncated_gradient: the original LSTM of
            Hochreiter & Schmidhuber (1997): memory blocks of ``cells_per_block`` cells sharing their gates
            (weights have H + 3H/S rows i|f|g|o, gates one row per block), no forget gate (the constant
            error carousel; rows i|g|o), the squashing functions g = 4 sigma - 2 and h = 2 sigma - 1 (or
            h = identity), and the truncated gradient (error flows back in time through the cell state only).
            See :class:`lstmkit.cells.LSTMCell`; these run on the reference kernel.
        init_range, gate_bias_steps: the 1997 initialisation: every weight from U(-init_range, init_range),
            and blockwise staggered (input, forget, output) gate biases (see :class:`lstmkit.cells.LSTMSpec`).
        input_dropout: variational dropout on each layer's input x_t, one mask per sequence (Gal &
            Ghahramani 2016), in training.
        recurrent_dropout: variational dropout on h_{t-1} where it enters W_hh h_{t-1}, one mask per
            sequence, in training.
        zoneout_h, zoneout_c: zoneout probabilities of h and c (Krueger et al. 2016): in training each
            unit keeps its previous value with that probability; in evaluation the expectation
            p * previous + (1 - p) * new is used.
        backend: "auto" (the fastest kernel for the device), "reference" (the oracle), "cpu-bf16" (CPU
            kernels with bfloat16 GEMM operands: mixed precision), or another registered kernel.

    Forward: ``output, (h_n, c_n) = lstm(input, hx=None, lengths=None, reset=None)``

    * ``input``: (T, B, I), (B, T, I) with ``batch_first``, (T, I) unbatched, or a ``PackedSequence``.
    * ``hx``: ``(h_0, c_0)`` of (D*num_layers, B, P) and (D*num_layers, B, H) (no B dim unbatched);
      zeros when None. D = 2 if bidirectional else 1; P = proj_size if set else H.
    * ``lengths``: (B,) valid lengths of a padded batch, each in [1, T]. The state stops updating after
      each sequence's end, outputs there are zero, and (h_n, c_n) is the state at each sequence's last
      valid step (the reverse direction runs each sequence backwards from its own last step).
    * ``reset``: (T, B) bool ((B, T) with ``batch_first``): True restarts that sample's state at zero
      before step t (document boundaries in a continuous stream).
    * ``output``: (T, B, D*P) (or batch-first, unbatched, or a PackedSequence like the input);
      ``h_n``: (D*num_layers, B, P); ``c_n``: (D*num_layers, B, H).

    Example::

        >>> import torch, lstmkit
        >>> lstm = lstmkit.LSTM(10, 20, num_layers=2, batch_first=True)
        >>> x = torch.randn(3, 5, 10)
        >>> out, (h, c) = lstm(x, lengths=torch.tensor([5, 3, 2]))
        >>> out.shape, h.shape, c.shape
        (torch.Size([3, 5, 20]), torch.Size([2, 3, 20]), torch.Size([2, 3, 20]))
        >>> ln = lstmkit.LSTM(10, 20, layer_norm=True, peephole=True, zoneout_c=0.5, forget_bias=1.0)
        >>> ln(torch.randn(7, 2, 10))[0].shape
        torch.Size([7, 2, 20])
        >>> lstm97 = lstmkit.LSTM(2, 4, cells_per_block=2, forget_gate=False, input_squash="1997",
        ...                       output_squash="1997", truncated_gradient=True, init_range=0.1,
        ...                       gate_bias_steps=(0.0, 0.0, -1.0))     # 2 blocks of 2 cells, as in 1997
        >>> lstm97.bias_ih_l0[-2:]                  # output-gate biases of blocks 1 and 2
        tensor([-1., -2.], grad_fn=<SliceBackward0>)
    """

    _torch_cls = nn.LSTM
    _torch_args = RecurrentBase._torch_args + ("proj_size",)
    # every LSTMSpec option the layer takes, at its neutral (torch.nn) value
    _variant_defaults = {f.name: f.default for f in fields(LSTMSpec)
                         if f.name not in {g.name for g in fields(CellSpec)} | {"proj_size", "ln_eps"}}
    _init_only_options = ("forget_bias", "init_range", "gate_bias_steps")

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device=None, dtype=None, *, peephole: bool = False,
                 layer_norm: bool = False, cifg: bool = False, forget_bias: Optional[float] = None,
                 input_dropout: float = 0.0, recurrent_dropout: float = 0.0, zoneout_h: float = 0.0,
                 zoneout_c: float = 0.0, cells_per_block: int = 1, forget_gate: bool = True,
                 input_squash: str = "tanh", output_squash: str = "tanh", truncated_gradient: bool = False,
                 init_range: Optional[float] = None, gate_bias_steps=None, backend: str = "auto") -> None:
        self.proj_size = proj_size
        self.zoneout_h = check_prob("zoneout_h", zoneout_h)
        self.zoneout_c = check_prob("zoneout_c", zoneout_c)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device, dtype, input_dropout=input_dropout, recurrent_dropout=recurrent_dropout,
                         backend=backend, proj_size=proj_size, peephole=peephole, layer_norm=layer_norm,
                         cifg=cifg, forget_bias=forget_bias, cells_per_block=cells_per_block,
                         forget_gate=forget_gate, input_squash=input_squash, output_squash=output_squash,
                         truncated_gradient=truncated_gradient, init_range=init_range,
                         gate_bias_steps=gate_bias_steps)

    def _make_spec(self, input_size, hidden_size, bias, **options) -> LSTMSpec:
        return LSTMSpec(input_size, hidden_size, bias, **options)

    def _out_size(self) -> int:
        return self.proj_size if self.proj_size > 0 else self.hidden_size

    def _zoneout_rates(self) -> tuple[float, ...]:
        return (self.zoneout_h, self.zoneout_c)

    def _variant_options(self) -> dict:
        out = super()._variant_options()
        out.pop("proj_size", None)
        for k in ("zoneout_h", "zoneout_c"):
            if getattr(self, k) > 0:
                out[k] = getattr(self, k)
        return out

    def _torch_extra_repr(self) -> dict:
        return {"proj_size": self.proj_size}

    def __setstate__(self, state) -> None:
        super().__setstate__(state)
        if "proj_size" not in state:                   # an LSTM pickled by torch.nn before 1.8 had none
            self.proj_size = 0

    # ------------------------------------------------------------------------------------ other frameworks
    @classmethod
    def from_keras(cls, *weights, layer=None, config=None, **options) -> "LSTM":
        """An LSTM holding Keras LSTM weights (:func:`lstmkit.export.keras.from_keras`): ``kernel`` (I, 4H),
        ``recurrent_kernel`` (H, 4H), ``bias`` (4H,) (gates i|f|c|o), as arrays, a ``get_weights()`` list, a
        list of those for a stack, or a path to a ``.weights.h5`` / ``.keras`` / legacy ``.h5`` file
        (``layer=`` picks layers by name). Bidirectional wrappers give ``bidirectional=True``.

        Example::

            >>> import numpy as np, lstmkit
            >>> rng = np.random.default_rng(0)
            >>> kernel, recurrent, bias = rng.normal(size=(3, 16)), rng.normal(size=(4, 16)), np.zeros(16)
            >>> lstm = lstmkit.LSTM.from_keras(kernel, recurrent, bias, batch_first=True)
            >>> lstm, lstm.weight_ih_l0.dtype
            (LSTM(3, 4, batch_first=True), torch.float64)
        """
        from ..export.keras import from_keras
        return from_keras(cls, *weights, layer=layer, config=config, **options)

    def to_keras(self) -> list:
        """Keras ``set_weights`` lists, one per layer (:func:`lstmkit.export.keras.to_keras`):
        ``[kernel (I, 4H), recurrent_kernel (H, 4H), bias (4H,)]``, 6 arrays for a bidirectional layer.

        Example::

            >>> import lstmkit
            >>> [[a.shape for a in w] for w in lstmkit.LSTM(3, 4, num_layers=2).to_keras()]
            [[(3, 16), (4, 16), (16,)], [(4, 16), (4, 16), (16,)]]
        """
        from ..export.keras import to_keras
        return to_keras(self)

    @classmethod
    def from_haste(cls, *weights, **options) -> "LSTM":
        """An LSTM holding haste LSTM weights (:func:`lstmkit.export.haste.from_haste`): a
        ``haste_pytorch.LSTM``, its state_dict, or ``kernel`` (I, 4H), ``recurrent_kernel`` (H, 4H), ``bias``
        (4H,) in haste's gate order i|g|f|o; a list of those for a stack.

        Example::

            >>> import numpy as np, lstmkit
            >>> lstmkit.LSTM.from_haste(np.zeros((3, 16)), np.zeros((4, 16)), np.zeros(16))
            LSTM(3, 4)
        """
        from ..export.haste import from_haste
        return from_haste(cls, *weights, **options)

    def to_haste(self) -> list:
        """haste's parameters, one dict per layer (:func:`lstmkit.export.haste.to_haste`): ``kernel``
        (I, 4H), ``recurrent_kernel`` (H, 4H), ``bias`` (4H,) in gate order i|g|f|o.

        Example::

            >>> import lstmkit
            >>> {k: v.shape for k, v in lstmkit.LSTM(3, 4).to_haste()[0].items()}
            {'kernel': (3, 16), 'recurrent_kernel': (4, 16), 'bias': (16,)}
        """
        from ..export.haste import to_haste
        return to_haste(self)
