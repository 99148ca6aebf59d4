"""The tagger network: word embedding + character BiLSTM word encoder -> BiLSTM stack -> per-word logits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import torch
from torch import Tensor, nn

from ...layers import Dropout, LSTM
from .config import TaggerConfig

__all__ = ["Batch", "CharEncoder", "Tagger"]


@dataclass
class Batch:
    """A batch of sentences, padded. T: longest sentence, B: sentences, U: distinct words, L: longest word."""

    words: Tensor                    #: (T, B) word ids, 0 past each sentence's end
    lengths: Tensor                  #: (B,) words per sentence
    chars: Tensor                    #: (L, U) character ids of each distinct word, 0-padded
    char_lengths: Tensor             #: (U,) characters per distinct word
    types: Tensor                    #: (T, B) index of each word into the distinct words (0 past the end)
    tags: Optional[Tensor] = None    #: (T, B) gold tag ids, -100 past the end (ignored by the loss)
    aux_tags: Optional[Tensor] = None  #: (T, B, A) gold ids of the A auxiliary columns, -100 where none

    def to(self, device) -> "Batch":
        return Batch(*(None if t is None else t.to(device) for t in
                       (self.words, self.lengths, self.chars, self.char_lengths, self.types, self.tags,
                        self.aux_tags)))


class CharEncoder(nn.Module):
    """A word's characters -> one vector: embedding -> 1-layer BiLSTM -> [last forward state; last backward
    state] (the backward direction reads each word from its own last character, ``lengths=``).

    Example::

        >>> import torch
        >>> from lstmkit.tasks.tagger.model import CharEncoder
        >>> enc = CharEncoder(n_chars=20, char_dim=8, hidden=16)
        >>> enc(torch.randint(2, 20, (7, 3)), torch.tensor([7, 2, 5])).shape      # (U, 2 * hidden)
        torch.Size([3, 32])
    """

    def __init__(self, n_chars: int, char_dim: int, hidden: int, backend: str = "auto") -> None:
        super().__init__()
        self.embed = nn.Embedding(n_chars, char_dim, padding_idx=0)
        self.rnn = LSTM(char_dim, hidden, bidirectional=True, backend=backend)

    def forward(self, chars: Tensor, lengths: Tensor) -> Tensor:
        _, (h, _) = self.rnn(self.embed(chars), lengths=lengths)        # h: (2, U, H)
        return torch.cat([h[0], h[1]], dim=1)                            # (U, 2H)


class Tagger(nn.Module):
    """Per-word tag scores for a :class:`Batch`: ``forward(batch)`` -> logits (T, B, n_tags).

    Each word is [word embedding (lowercased, <unk> when rare or dropped); character encoding], then a
    bidirectional lstmkit LSTM stack reads the sentence (``lengths=``: each sentence ends at its own length,
    no packing), then dropout and a linear layer give each word's tag scores. ``aux_sizes`` adds one more
    linear layer per auxiliary column (multi-task training, :meth:`aux_logits`); inference ignores them.

    Example::

        >>> import torch
        >>> from lstmkit.tasks.tagger import Tagger, TaggerConfig
        >>> from lstmkit.tasks.tagger.model import Batch
        >>> cfg = TaggerConfig(word_dim=8, char_dim=4, char_hidden=6, hidden=10, layers=2)
        >>> model = Tagger(n_words=12, n_chars=9, n_tags=3, cfg=cfg).eval()
        >>> words = torch.tensor([[2, 5], [3, 0]])                       # (T=2, B=2): lengths 2 and 1
        >>> batch = Batch(words, torch.tensor([2, 1]), torch.randint(2, 9, (4, 3)), torch.tensor([4, 2, 3]),
        ...               torch.tensor([[0, 2], [1, 0]]))
        >>> model(batch).shape
        torch.Size([2, 2, 3])
    """

    def __init__(self, n_words: int, n_chars: int, n_tags: int, cfg: TaggerConfig,
                 aux_sizes: Sequence[int] = ()) -> None:
        super().__init__()
        self.word_embed = nn.Embedding(n_words, cfg.word_dim, padding_idx=0) if cfg.word_dim else None
        self.char_encoder = CharEncoder(n_chars, cfg.char_dim, cfg.char_hidden, cfg.backend) \
            if cfg.char_hidden else None
        size = cfg.word_dim + 2 * cfg.char_hidden
        self.drop = Dropout(cfg.dropout)
        self.rnn = LSTM(size, cfg.hidden, num_layers=cfg.layers, bidirectional=True,
                        dropout=cfg.dropout if cfg.layers > 1 else 0.0, backend=cfg.backend)
        self.head = nn.Linear(2 * cfg.hidden, n_tags)
        self.aux_heads = nn.ModuleList(nn.Linear(2 * cfg.hidden, n) for n in aux_sizes)

    def word_vectors(self, batch: Batch) -> Tensor:
        """(T, B, word_dim + 2 * char_hidden): what the sentence BiLSTM reads."""
        parts = []
        if self.word_embed is not None:
            parts.append(self.word_embed(batch.words))                   # (T, B, Ew)
        if self.char_encoder is not None:
            per_type = self.char_encoder(batch.chars, batch.char_lengths)  # (U, 2Hc)
            parts.append(per_type[batch.types])                          # (T, B, 2Hc)
        return torch.cat(parts, dim=2) if len(parts) > 1 else parts[0]

    def features(self, batch: Batch) -> Tensor:
        """(T, B, 2H): the sentence BiLSTM's outputs after dropout, what every output layer reads."""
        x = self.drop(self.word_vectors(batch))                          # (T, B, E)
        out, _ = self.rnn(x, lengths=batch.lengths)                      # (T, B, 2H), zero past each end
        return self.drop(out)

    def forward(self, batch: Batch) -> Tensor:
        return self.head(self.features(batch))                           # (T, B, n_tags)

    def aux_logits(self, batch: Batch) -> tuple[Tensor, list[Tensor]]:
        """``(logits (T, B, n_tags), [logits (T, B, n_a) of each auxiliary column])`` from one pass."""
        feats = self.features(batch)
        return self.head(feats), [head(feats) for head in self.aux_heads]
