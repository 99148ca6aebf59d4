"""What makes a layer drop-in for torch.nn.RNNBase beyond its math: the constructor checks with
torch.nn's messages and exception types, and torch.nn's flat-weight bookkeeping (``_flat_weights``,
``_flat_weights_names``, ``_all_weights``, ``all_weights``, ``flatten_parameters()``) that third-party code
reaches for (weight drop as in AWD-LSTM, ``torch.nn.utils.weight_norm``, pruning, ``functional_call``).

The layer computes with ``_flat_weights`` exactly as torch.nn does: the list is refreshed when a weight
attribute is assigned (``setattr``, a pruning or weight-norm hook), when the module moves
(``.to()``, ``.double()``), and before each forward when an attribute no longer is the tensor the list
holds (a parametrization, ``torch.func.functional_call``).
"""

from __future__ import annotations

import numbers
import weakref

from torch import nn

from ..errors import OptionError

__all__ = ["FlatWeights", "check_layer_args", "no_projection"]


def check_layer_args(input_size, hidden_size, num_layers, bias, batch_first, dropout, proj_size=0) -> None:
    """torch.nn.RNNBase's constructor checks, in its order, with its messages and exception types (the
    value received appended)."""
    if isinstance(dropout, bool) or not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1:
        raise ValueError("dropout should be a number in range [0, 1] representing the probability of an "
                         f"element being zeroed, got {dropout!r}")
    for name, flag in (("bias", bias), ("batch_first", batch_first)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} should be of type bool, got: {type(flag).__name__} ({flag!r})")
    for name, size in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
        if isinstance(size, bool) or not isinstance(size, int):
            raise TypeError(f"{name} should be of type int, got: {type(size).__name__} ({size!r})")
        if size <= 0:
            raise ValueError(f"{name} must be greater than zero, got {size}")
    if isinstance(proj_size, bool) or not isinstance(proj_size, int):
        raise TypeError(f"proj_size should be of type int, got: {type(proj_size).__name__} ({proj_size!r})")
    if proj_size < 0:
        raise ValueError(f"proj_size should be a positive integer or zero to disable projections, got {proj_size}")
    if proj_size >= hidden_size:
        raise ValueError(f"proj_size has to be smaller than hidden_size ({hidden_size}), got {proj_size}")


def no_projection(proj_size) -> None:
    """torch.nn.GRU and RNN refuse ``proj_size`` (any value) with this message."""
    if proj_size is not None:
        raise OptionError(f"proj_size argument is only supported for LSTM, not RNN or GRU (got proj_size={proj_size!r})")


class FlatWeights(nn.Module):
    """torch.nn.RNNBase's flat-weight list. Subclasses set ``_all_weights`` (parameter names per
    layer-direction) and ``_flat_weights_names`` (all of them, in order), then call
    :meth:`_init_flat_weights`."""

    def _init_flat_weights(self) -> None:
        self._flat_weights = [getattr(self, n) if hasattr(self, n) else None for n in self._flat_weights_names]
        self._flat_weight_refs = [weakref.ref(w) if w is not None else None for w in self._flat_weights]
        self.flatten_parameters()                              # as torch.nn (cuDNN's buffer on CUDA)

    def __setattr__(self, attr, value) -> None:
        names = self.__dict__.get("_flat_weights_names")
        if names is not None and attr in names:                # keep the list current on self.weight = ...
            self._flat_weights[names.index(attr)] = value
        super().__setattr__(attr, value)

    def _apply(self, fn, recurse=True):
        self._flat_weight_refs = []
        ret = super()._apply(fn, recurse)
        self._init_flat_weights()
        return ret

    def _weights_have_changed(self) -> bool:
        """Whether a weight attribute is no longer the tensor the list holds (e.g. functional_call)."""
        params = self._parameters                  # (read first: a parametrized name is a property instead)
        for ref, name in zip(self._flat_weight_refs, self._flat_weights_names):
            weight = params.get(name)
            if weight is None:
                weight = getattr(self, name, None)
            if weight is not None and ref is not None and ref() is not weight:
                return True
        return False

    def _update_flat_weights(self) -> None:
        if self._weights_have_changed():
            self._init_flat_weights()

    @property
    def all_weights(self) -> list[list[nn.Parameter]]:
        """The weights grouped per layer-direction, as torch.nn's ``all_weights``."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def flatten_parameters(self) -> None:
        """As torch.nn: packs cuDNN's weight buffer; a no-op here (the layers pack it on CUDA for their
        cuDNN route)."""

    def __getstate__(self):
        self._update_flat_weights()
        state = self.__dict__.copy()
        state.pop("_flat_weight_refs", None)                   # weak references do not pickle
        return state

    def __setstate__(self, state) -> None:
        super().__setstate__(state)
        if "_flat_weights_names" not in state:                 # pickled before lstmkit kept the list
            self._all_weights = [[name for _, name in fields] for fields in self._fields]
            self._flat_weights_names = [name for names in self._all_weights for name in names]
        self._init_flat_weights()

    def _replicate_for_data_parallel(self):
        replica = super()._replicate_for_data_parallel()
        replica._flat_weights = replica._flat_weights[:]       # the replica's own list, as torch.nn
        replica._flat_weights_names = replica._flat_weights_names[:]
        return replica
