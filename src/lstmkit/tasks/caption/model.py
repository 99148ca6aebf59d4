"""The captioning model: a small CNN (or any backbone) as :class:`~lstmkit.seq2seq.ImageEncoder` + the
configured attending decoder."""

from __future__ import annotations

from ...seq2seq import ConvBackbone, ImageEncoder, Seq2Seq
from ..seq2seq_jobs import build_decoder
from .config import CaptionConfig

__all__ = ["build_captioner", "feature_grid"]


def feature_grid(cfg: CaptionConfig, image_shape: tuple[int, int]) -> tuple[int, int]:
    """The encoder's grid: ``cfg.grid`` square, or the CNN's own map (each block but the last halves the
    resolution); for your own images at most 8 x 8 unless ``--grid`` says otherwise."""
    if cfg.grid:
        return cfg.grid, cfg.grid
    shrink = 2 ** (cfg.cnn_blocks - 1)
    h, w = max(1, image_shape[0] // shrink), max(1, image_shape[1] // shrink)
    return (h, w) if cfg.uses_digits() else (min(h, 8), min(w, 8))


def build_captioner(cfg: CaptionConfig, vocab_size: int, channels: int, image_shape: tuple[int, int]) -> Seq2Seq:
    """The encoder-decoder of a caption run for images of ``channels x image_shape``.

    Example::

        >>> import torch
        >>> from lstmkit.tasks.caption import CaptionConfig, build_captioner
        >>> model = build_captioner(CaptionConfig(cnn_width=8, decoder_hidden=16, embed=8), 20, 1, (60, 60))
        >>> logits, weights = model((torch.rand(2, 1, 60, 60),), torch.ones(2, 5).long())
        >>> logits.shape, weights.shape
        (torch.Size([2, 5, 20]), torch.Size([2, 5, 225]))
    """
    enc = ImageEncoder(ConvBackbone(channels, cfg.cnn_width, cfg.cnn_blocks), grid=feature_grid(cfg, image_shape))
    return Seq2Seq(enc, build_decoder(cfg, vocab_size, enc.output_size, enc.summary_size))
