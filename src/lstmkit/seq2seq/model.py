"""An encoder and an attending decoder as one module, with the teacher-forced loss and both decoders."""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .decoder import AttentionDecoder
from .encoder import Memory
from .search import Decoded, beam_search, greedy_decode

__all__ = ["Seq2Seq", "shift_targets"]


def shift_targets(tgt: Tensor, bos: int) -> Tensor:
    """Teacher forcing's decoder input: ``tgt (B, T)`` (ending in eos, then padding) shifted right by one
    behind the start token: ``(B, T)``."""
    return torch.cat([tgt.new_full((tgt.size(0), 1), bos), tgt[:, :-1]], dim=1)


class Seq2Seq(nn.Module):
    """``encoder`` (anything returning a :class:`~lstmkit.seq2seq.Memory`) + :class:`AttentionDecoder`.

    ``forward(source, tgt)`` takes the encoder's inputs as a tuple (``(src (B, S), lengths (B,))`` for a
    :class:`RecurrentEncoder`, ``(images (B, C, H, W),)`` for an :class:`ImageEncoder`) and the target ids
    ``tgt (B, T)`` (each ending in ``eos``, padded with 0); it returns ``(logits (B, T, vocab), weights
    (B, T, S) or None)`` under teacher forcing. :meth:`loss` is the mean cross-entropy per target token.

    Example::

        >>> import torch
        >>> from lstmkit.seq2seq import AttentionDecoder, RecurrentEncoder, Seq2Seq
        >>> enc = RecurrentEncoder(20, 8, 16)
        >>> model = Seq2Seq(enc, AttentionDecoder(30, 8, 24, 1, enc.output_size, enc.summary_size), bos=1, eos=2)
        >>> src, lengths = torch.randint(4, 20, (3, 7)), torch.tensor([7, 5, 2])
        >>> tgt = torch.tensor([[5, 6, 2], [7, 2, 0], [2, 0, 0]])
        >>> loss = model.loss((src, lengths), tgt); loss.backward(); loss.item() > 0
        True
        >>> [len(t) <= 4 for t in model.translate((src, lengths), max_len=4, beam=3).tokens]
        [True, True, True]
    """

    def __init__(self, encoder: nn.Module, decoder: AttentionDecoder, bos: int = 1, eos: int = 2, pad: int = 0) -> None:
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.bos, self.eos, self.pad = bos, eos, pad

    def encode(self, source: tuple) -> Memory:
        return self.encoder(*source)

    def forward(self, source: tuple, tgt: Tensor) -> tuple[Tensor, Optional[Tensor]]:
        return self.decoder(shift_targets(tgt, self.bos), self.encode(source))

    def loss(self, source: tuple, tgt: Tensor, label_smoothing: float = 0.0) -> Tensor:
        """Mean cross-entropy (nats) per real target token, padding ignored."""
        logits, _ = self(source, tgt)
        return F.cross_entropy(logits.flatten(0, 1), tgt.flatten(), ignore_index=self.pad,
                               label_smoothing=label_smoothing)

    @torch.no_grad()
    def translate(self, source: tuple, max_len: int, beam: int = 1, alpha: float = 0.6,
                  attention: bool = False) -> Decoded:
        """Decode a batch: greedy when ``beam`` is 1, else batched beam search of ``beam`` hypotheses; padding
        and the start token are never emitted."""
        memory = self.encode(source)
        forbid = (self.pad, self.bos)
        if beam == 1:
            return greedy_decode(self.decoder, memory, self.bos, self.eos, max_len, attention=attention, forbid=forbid)
        return beam_search(self.decoder, memory, self.bos, self.eos, max_len, beam, alpha, attention=attention,
                           forbid=forbid)
