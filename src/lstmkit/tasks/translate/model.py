"""The translation model: :class:`~lstmkit.seq2seq.RecurrentEncoder` + the configured attending decoder."""

from __future__ import annotations

from ...seq2seq import RecurrentEncoder, Seq2Seq
from ..seq2seq_jobs import build_decoder
from .config import TranslateConfig

__all__ = ["build_translator"]


def build_translator(cfg: TranslateConfig, source_vocab: int, target_vocab: int) -> Seq2Seq:
    """The encoder-decoder of a translate run, for vocabularies of these sizes (ids 0-3: pad, bos, eos, unk).

    Example::

        >>> import torch
        >>> from lstmkit.tasks.translate import TranslateConfig, build_translator
        >>> model = build_translator(TranslateConfig(hidden=16, decoder_hidden=32, embed=8), 30, 40)
        >>> logits, weights = model((torch.randint(4, 30, (2, 5)), torch.tensor([5, 3])), torch.ones(2, 4).long())
        >>> logits.shape, weights.shape
        (torch.Size([2, 4, 40]), torch.Size([2, 4, 5]))
    """
    enc = RecurrentEncoder(source_vocab, cfg.embed, cfg.hidden, cfg.layers, cell=cfg.cell,
                           bidirectional=cfg.bidirectional, dropout=cfg.dropout, backend=cfg.backend)
    return Seq2Seq(enc, build_decoder(cfg, target_vocab, enc.output_size, enc.summary_size))
