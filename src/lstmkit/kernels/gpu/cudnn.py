"""The cuDNN route (``backend="cudnn"``): a whole standard stack through torch's own RNN ops.

Every configuration torch.nn can express -- the plain LSTM (with ``proj_size``), GRU, RNN tanh/relu,
stacked, bidirectional, ``bias=False``, ``dropout`` between layers -- runs as **one** call of
``torch._VF.lstm`` / ``gru`` / ``rnn_tanh`` / ``rnn_relu`` with the layer's flat weight list (same names,
order and layout as torch.nn's ``_flat_weights``), exactly as ``torch.nn.LSTM.forward`` calls it. On CUDA
tensors that is cuDNN (forward and its own backward); on CPU tensors the same calls run ATen / oneDNN,
which is how the plumbing is tested without a GPU. The equations are the cells' docstrings
(:class:`lstmkit.cells.LSTMCell`, ...): cuDNN computes the same functions.

Lengths (padded input, ``lengths`` (B,)): when every length is T the plain call runs. Otherwise the batch
is packed (``pack_padded_sequence(..., enforce_sorted=False)``) and the packed overload of the same op
runs, exactly what torch.nn does for a PackedSequence: the output is unpacked to (T, B, D*P) with zeros
past each length and put back in the caller's batch order, and the final states are permuted back with
``unsorted_indices``. That gives lstmkit's semantics (:mod:`lstmkit.kernels.common`): the state freezes at
each sequence's end and the reverse direction starts from each sequence's own last step.
We pack for every family rather than run padded and gather h at ``length - 1``: gathering cannot give an
LSTM's final c (cuDNN returns only the last step's), and for a bidirectional or stacked layer the reverse
direction would have to run per layer on sequences reversed within their lengths -- one op call per
layer-direction instead of one per stack. Packing costs one host sync for the lengths (the kernels'
lengths route syncs too) and cuDNN's packed path.

What does not run here (the layers fall back to lstmkit's kernels under ``backend="auto"``;
``backend="cudnn"`` raises :class:`ValueError` naming it): lstmkit's variant options (peepholes, layer
norm, CIFG, GRU ``reset_before``, variational input/recurrent dropout, zoneout), ``reset=``, recording
(``record=True``, an inspect recorder), other dtypes than float32/64/16 and bfloat16, forward-mode AD
and ``torch.func`` transforms. Double backward through cuDNN's backward is not supported (as in torch.nn).
Gradients in eval mode are (unlike torch.nn on CUDA, whose cuDNN backward refuses them): an eval call
that needs a backward runs cuDNN's training forward with dropout 0, the same numbers.
This module knows nothing about nn.Module: the layers pass plain tensors and options.
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor
from torch.autograd import forward_ad
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from ..base import Kernel
from ..common import transformed

__all__ = ["CudnnRoute", "DTYPES", "mode_of", "unsupported_config", "unsupported", "run", "flatten"]

#: dtypes the route takes (those torch's RNN ops accept on CPU and cuDNN on CUDA)
DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
#: torch.nn's mode name -> the ``torch._VF`` op
_OPS = {"LSTM": "lstm", "GRU": "gru", "RNN_TANH": "rnn_tanh", "RNN_RELU": "rnn_relu"}


def mode_of(spec) -> str:
    """torch.nn's mode string ("LSTM", "GRU", "RNN_TANH", "RNN_RELU") of a cell spec."""
    if spec.family == "rnn":
        return "RNN_" + spec.nonlinearity.upper()
    return {"lstm": "LSTM", "gru": "GRU"}[spec.family]


def unsupported_config(family: str, variant: dict) -> Optional[str]:
    """None if a layer of ``family`` with the non-torch.nn options ``variant`` ({option: value}, empty for
    a standard configuration) can run here, else the reason, naming the options."""
    if family not in ("lstm", "gru", "rnn"):
        return f"the cudnn route has no {family} implementation"
    if variant:
        named = ", ".join(f"{k}={v!r}" for k, v in variant.items())
        return f"{named} is an lstmkit option torch.nn (cuDNN) has no equivalent of"
    return None


def unsupported(spec, x: Tensor, tensors: Sequence[Optional[Tensor]], variant: dict, reset: bool = False,
                recording: bool = False) -> Optional[str]:
    """None if one call of a layer (``spec``: its first layer's; ``variant``: its non-torch.nn options) over
    ``x`` (T, B, I) with ``tensors`` (initial states, flat weights) runs here, else the reason."""
    why = unsupported_config(spec.family, variant)
    if why is not None:
        return why
    if reset:
        return "reset= (per-sample state resets) is not something torch.nn (cuDNN) can run"
    if recording:
        return "recording (record=True or an inspect recorder) needs every step's gates, which cuDNN does not keep"
    if x.device.type not in ("cpu", "cuda"):
        return f"torch's RNN ops run here on cpu and cuda tensors, got {x.device.type}"
    if x.dtype not in DTYPES:
        return f"dtype must be one of {[str(d) for d in DTYPES]}, got {x.dtype}"
    if forward_ad._current_level >= 0:
        return "forward-mode AD is active (cuDNN's RNN has no forward derivative)"
    if transformed((x, *tensors)):
        return "a torch.func transform (vmap, grad, jacrev, ...) wraps an input"
    return None


def run(mode: str, x: Tensor, state0: tuple[Tensor, ...], weights: list[Tensor], lengths: Optional[Tensor], *,
        bias: bool, num_layers: int, dropout: float, train: bool,
        bidirectional: bool) -> tuple[Tensor, tuple[Tensor, ...]]:
    """The whole stack in one torch RNN op.

    Args:
        mode: "LSTM", "GRU", "RNN_TANH" or "RNN_RELU" (:func:`mode_of`).
        x: (T, B, I) time-major; state0: (h0 (L*D, B, P)[, c0 (L*D, B, H)]).
        weights: torch.nn's ``_flat_weights`` order (per layer-direction w_ih, w_hh[, b_ih, b_hh][, w_hr]).
        lengths: (B,) int64 in [1, T] or None (on the CPU where the caller has them there: no device sync).
        dropout, train: torch.nn's dropout between layers and the module's training flag.
    Returns:
        (y (T, B, D*P) zero past each length, final states as state0's shapes).

    Example::

        >>> import torch
        >>> lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
        >>> x, h0, c0 = torch.randn(5, 2, 3), torch.zeros(4, 2, 4), torch.zeros(4, 2, 4)
        >>> y, (h, c) = run("LSTM", x, (h0, c0), lstm._flat_weights, torch.tensor([5, 3]), bias=True,
        ...                 num_layers=2, dropout=0.0, train=False, bidirectional=True)
        >>> y.shape, h.shape, bool((y[3:, 1] == 0).all())
        (torch.Size([5, 2, 8]), torch.Size([4, 2, 4]), True)
    """
    op = getattr(torch._VF, _OPS[mode])
    lstm = mode == "LSTM"
    if not train:       # cuDNN's backward needs its training forward: eval's math is that forward with dropout 0
        dropout, train = 0.0, torch.is_grad_enabled() and any(t.requires_grad for t in (x, *state0, *weights))
    T = x.shape[0]
    lens = None if lengths is None else lengths.cpu()              # one host sync (packing needs them there)
    if lens is None or lens.numel() == 0 or int(lens.min()) == T:
        out = op(x, tuple(state0) if lstm else state0[0], weights, bias, num_layers, dropout, train,
                 bidirectional, False)
        return out[0], tuple(out[1:])
    packed = pack_padded_sequence(x, lens, enforce_sorted=False)  # data (sum(lengths), I)
    order, back = packed.sorted_indices, packed.unsorted_indices
    hx = tuple(s.index_select(1, order) for s in state0)            # the states in packed (sorted) order
    out = op(packed.data, packed.batch_sizes, hx if lstm else hx[0], weights, bias, num_layers, dropout, train,
             bidirectional)
    y, _ = pad_packed_sequence(PackedSequence(out[0], packed.batch_sizes, order, back), total_length=T)
    return y, tuple(s.index_select(1, back) for s in out[1:])     # (T, B, D*P), caller's batch order


def flatten(weights: list[Tensor], mode: str, input_size: int, hidden_size: int, proj_size: int, num_layers: int,
            bias: bool, bidirectional: bool) -> bool:
    """torch.nn.RNNBase.flatten_parameters: put CUDA weights into cuDNN's one contiguous buffer (each
    tensor keeps its identity; its storage becomes a view of the buffer), so cuDNN does not copy them
    on every call. A no-op (False) unless every weight is a CUDA tensor cuDNN accepts, of one dtype, none
    aliasing another, and cuDNN is enabled -- torch.nn's guards."""
    if not weights or not all(isinstance(w, Tensor) for w in weights):
        return False
    first = weights[0]
    if not all(w.dtype == first.dtype and w.is_cuda and torch.backends.cudnn.is_acceptable(w) for w in weights):
        return False
    if len({w.data_ptr() for w in weights}) != len(weights):     # aliasing parameters: the copying path
        return False
    import torch.backends.cudnn.rnn as cudnn_rnn
    with torch.cuda.device_of(first), torch.no_grad():             # in place on the weights: no autograd
        if not torch._use_cudnn_rnn_flatten_weight():
            return False
        per_layer = (4 if bias else 2) + (1 if proj_size > 0 else 0)
        torch._cudnn_rnn_flatten_weight(weights, per_layer, input_size, cudnn_rnn.get_cudnn_mode(mode),
                                        hidden_size, proj_size, num_layers, False, bool(bidirectional))
    return True


class CudnnRoute(Kernel):
    """The name ``"cudnn"`` among the kernels (:func:`lstmkit.kernels.available`). The route runs whole
    stacks from the layers (:func:`run`, decided by :func:`lstmkit.kernels.dispatch.cudnn_route`), never
    one layer-direction, so as a per-layer-direction kernel it supports nothing."""

    name = "cudnn"
    families: dict = {}

    def unsupported(self, spec, x) -> Optional[str]:
        return ("the cudnn route runs a layer's whole stack (lstmkit.LSTM/GRU/RNN with backend='cudnn'), "
                "not one layer-direction")
