"""The character model: embedding -> lstmkit recurrent stack -> dropout -> linear to the vocabulary."""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor, nn

from ...layers import Dropout, GRU, LSTM, RNN
from .config import CELL_OPTIONS, CharLMConfig

__all__ = ["CharLM", "make_recurrent"]


def make_recurrent(cfg: CharLMConfig, input_size: int) -> nn.Module:
    """The lstmkit layer stack that ``cfg`` describes (cell, size, regularisation, variants)."""
    common = dict(input_size=input_size, hidden_size=cfg.hidden, num_layers=cfg.layers,
                  dropout=cfg.dropout if cfg.layers > 1 else 0.0, input_dropout=cfg.input_dropout,
                  recurrent_dropout=cfg.recurrent_dropout, backend=cfg.backend)
    own = {name: getattr(cfg, name) for name, cells in CELL_OPTIONS.items() if cfg.cell in cells}
    cls = {"lstm": LSTM, "gru": GRU, "rnn": RNN}[cfg.cell]
    return cls(**common, **own)


class CharLM(nn.Module):
    """Next-character model over a vocabulary of ``vocab_size`` symbols.

    ``forward(ids (T, B), state)`` -> ``(logits (T, B, V), state)`` for training;
    ``step(ids (B,), state)`` -> ``(logits (B, V), state)`` runs one character through every layer with
    the recurrent layer's :meth:`~lstmkit.LSTM.step`, carrying the state (generation).

    Example::

        >>> import torch
        >>> from lstmkit.tasks.charlm import CharLM, CharLMConfig
        >>> model = CharLM(30, CharLMConfig(hidden=32, embed=8, layer_norm=True)).eval()
        >>> logits, state = model(torch.randint(30, (10, 4)))
        >>> logits.shape
        torch.Size([10, 4, 30])
        >>> step_logits, _ = model.step(torch.tensor([1, 2, 3, 4]), state)
        >>> step_logits.shape
        torch.Size([4, 30])
    """

    def __init__(self, vocab_size: int, cfg: CharLMConfig) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.embed = nn.Embedding(vocab_size, cfg.embed)
        self.rnn = make_recurrent(cfg, cfg.embed)
        self.drop = Dropout(cfg.dropout)
        out = cfg.proj_size if cfg.cell == "lstm" and cfg.proj_size else cfg.hidden
        self.head = nn.Linear(out, vocab_size)

    def forward(self, ids: Tensor, state: Optional[Any] = None) -> tuple[Tensor, Any]:
        out, state = self.rnn(self.embed(ids), state)                  # (T, B, H)
        return self.head(self.drop(out)), state                          # (T, B, V)

    def features(self, ids: Tensor, state: Optional[Any] = None) -> tuple[Tensor, Any]:
        """The recurrent outputs (T, B, H) before the head, and the final state."""
        return self.rnn(self.embed(ids), state)

    def logits(self, features: Tensor) -> Tensor:
        return self.head(self.drop(features))

    def step(self, ids: Tensor, state: Optional[Any] = None) -> tuple[Tensor, Any]:
        """One character per sequence: ids (B,) -> logits (B, V), the new state. (A torch.nn recurrent
        module in place of ``rnn``, which has no ``step``, runs a length-1 sequence instead.)"""
        x = self.embed(ids)                                              # (B, E)
        if hasattr(self.rnn, "step"):
            y, state = self.rnn.step(x, state)                           # (B, H)
        else:
            out, state = self.rnn(x.unsqueeze(0), state)
            y = out[0]
        return self.head(self.drop(y)), state

    @torch.no_grad()
    def prime(self, ids: Tensor) -> tuple[Tensor, Any]:
        """Read a prefix ids (T,) in one whole-sequence pass: logits after its last character (V,), and the
        state, batched as (.., 1, ..) for :meth:`step`."""
        logits, state = self(ids.unsqueeze(1))                          # (T, 1, V)
        return logits[-1, 0], state
