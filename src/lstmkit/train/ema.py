"""Weight averaging: an exponential moving average of a model's weights, used to evaluate and to save."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from torch import Tensor, nn

__all__ = ["WeightAverage"]


class WeightAverage:
    """Exponential moving average (Polyak averaging) of the floating-point entries of ``model``'s
    state dict: after optimiser step n, ``avg <- d_n * avg + (1 - d_n) * w`` with
    ``d_n = min(decay, (1 + n) / (10 + n))``, so early averages are not dominated by the initial weights.

    The average usually scores better than the last weights when the learning rate is still high or the
    model has started to overfit; :meth:`applied` swaps it in for evaluation and swaps back after.
    :meth:`state_dict` / :meth:`load_state_dict` make it part of an exactly resumable checkpoint.

    Example::

        >>> import torch
        >>> from lstmkit.train.ema import WeightAverage
        >>> model = torch.nn.Linear(2, 1)
        >>> avg = WeightAverage(model, decay=0.9)
        >>> with torch.no_grad():
        ...     _ = model.weight.add_(1.0)
        >>> avg.update(model)                                      # d_1 = 2/11: mostly the new weights
        >>> with avg.applied(model):
        ...     inside = model.weight.clone()
        >>> bool((inside < model.weight).all())                     # averaged weights lag behind, then swap back
        True
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0 < decay < 1:
            raise ValueError(f"decay must be in (0, 1), got {decay}")
        self.decay = decay
        state = model.state_dict()
        self.names = [k for k, v in state.items() if v.is_floating_point()]
        self.shadow = [state[k].detach().clone() for k in self.names]
        self.updates = 0

    def _live(self, model: nn.Module) -> list[Tensor]:
        state = model.state_dict()                                   # shares storage with the model
        return [state[k] for k in self.names]

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Fold the model's current weights into the average (call after each optimiser step)."""
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for avg, w in zip(self.shadow, self._live(model)):
            avg.lerp_(w, 1.0 - d)

    @contextmanager
    def applied(self, model: nn.Module) -> Iterator[None]:
        """Within the block ``model`` holds the averaged weights; its own come back afterwards."""
        live = self._live(model)
        with torch.no_grad():
            saved = [w.clone() for w in live]
            for w, avg in zip(live, self.shadow):
                w.copy_(avg)
        try:
            yield
        finally:
            with torch.no_grad():
                for w, s in zip(live, saved):
                    w.copy_(s)

    def state_dict(self) -> dict:
        return {"updates": self.updates, "weights": dict(zip(self.names, self.shadow))}

    def load_state_dict(self, state: dict) -> None:
        weights = state["weights"]
        if sorted(weights) != sorted(self.names):
            raise ValueError(f"the weight average holds {sorted(weights)}; expected the model's "
                             f"{sorted(self.names)}")
        self.updates = int(state["updates"])
        with torch.no_grad():
            for avg, name in zip(self.shadow, self.names):
                avg.copy_(weights[name])
