"""Encoders: what a decoder attends over. A recurrent stack over source tokens, or a CNN over an image giving
a grid of feature vectors (the "annotation vectors" of Show, Attend and Tell, Xu et al. 2015).

Every encoder returns a :class:`Memory`: the annotations, which of them are real (not padding), and one
summary vector per example from which the decoder's first state is made.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..layers import GRU, LSTM, RNN

__all__ = ["Memory", "RecurrentEncoder", "ImageEncoder", "ConvBackbone", "RECURRENT_CELLS"]

RECURRENT_CELLS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}


@dataclass
class Memory:
    """An encoded batch.

    Attributes:
        values: (B, S, V) annotation vectors (encoder outputs at each source position / grid location).
        mask: (B, S) bool, True where ``values`` is real, False for padding.
        summary: (B, U) one vector per example, from which the decoder's initial state is made.
    """

    values: Tensor
    mask: Tensor
    summary: Tensor

    def repeat(self, k: int) -> "Memory":
        """Each example repeated ``k`` times in a row (for a beam of ``k``): B -> B * k."""
        return Memory(*(t.repeat_interleave(k, dim=0) for t in (self.values, self.mask, self.summary)))

    def __len__(self) -> int:
        return self.values.size(0)


class RecurrentEncoder(nn.Module):
    """Token ids -> embeddings -> an lstmkit recurrent stack (any cell, variant, bidirectional or not).

    Args:
        vocab_size: source vocabulary size (id 0 is padding).
        embed_size: token embedding size.
        hidden_size: hidden units per direction.
        num_layers: stacked layers.
        cell: ``lstm``, ``gru`` or ``rnn``.
        bidirectional: read the source both ways (annotations are the two directions concatenated).
        dropout: on the embeddings and between layers.
        backend: lstmkit kernel backend.
        **cell_options: variant options of the cell (e.g. ``layer_norm=True``, ``peephole=True``).

    ``forward(src (B, S) long, lengths (B,) long) -> Memory`` with values ``(B, S, D*H)``, zero past each
    length, and summary ``(B, D*H)`` (LSTM: ``(B, 2*D*H)``, the top layer's final h and c of each direction,
    taken at each sequence's own end).

    Example::

        >>> import torch
        >>> from lstmkit.seq2seq import RecurrentEncoder
        >>> enc = RecurrentEncoder(20, 8, 16, bidirectional=True)
        >>> mem = enc(torch.randint(4, 20, (3, 7)), torch.tensor([7, 5, 2]))
        >>> mem.values.shape, mem.mask.sum(1).tolist(), mem.summary.shape
        (torch.Size([3, 7, 32]), [7, 5, 2], torch.Size([3, 64]))
    """

    def __init__(self, vocab_size: int, embed_size: int, hidden_size: int, num_layers: int = 1,
                 cell: str = "lstm", bidirectional: bool = True, dropout: float = 0.0, backend: str = "auto",
                 **cell_options) -> None:
        super().__init__()
        if cell not in RECURRENT_CELLS:
            raise ValueError(f"cell must be one of {tuple(RECURRENT_CELLS)}, got {cell!r}")
        self.embed = nn.Embedding(vocab_size, embed_size, padding_idx=0)
        self.drop = nn.Dropout(dropout)
        self.rnn = RECURRENT_CELLS[cell](embed_size, hidden_size, num_layers, bidirectional=bidirectional,
                                         dropout=dropout if num_layers > 1 else 0.0, backend=backend,
                                         **cell_options)
        self.directions = 2 if bidirectional else 1
        self.output_size = self.directions * hidden_size
        self.summary_size = self.output_size * (2 if cell == "lstm" else 1)

    def forward(self, src: Tensor, lengths: Tensor) -> Memory:
        if src.dim() != 2 or src.dtype != torch.long:
            raise ValueError(f"src must be (batch, length) token ids of dtype long, got {tuple(src.shape)} "
                             f"{src.dtype}")
        lengths = lengths.to("cpu", torch.long)
        out, state = self.rnn(self.drop(self.embed(src)).transpose(0, 1), lengths=lengths)   # (S, B, D*H)
        states = state if isinstance(state, tuple) else (state,)
        top = [s[-self.directions:] for s in states]                            # each (D, B, H)
        summary = torch.cat([d for s in top for d in s.unbind(0)], dim=-1)      # (B, D*H or 2*D*H)
        mask = torch.arange(src.size(1), device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)  # (B, S)
        return Memory(out.transpose(0, 1), mask.to(src.device), summary)


class ConvBackbone(nn.Sequential):
    """A small CNN trained from scratch: ``blocks`` of [3x3 conv, batch norm, ReLU] x 2, each block but the
    last followed by a 2x2 max-pool, so an image (B, C, H, W) becomes a feature map
    (B, width * 2^(blocks-1), H / 2^(blocks-1), W / 2^(blocks-1)), capped at 256 channels.

    Example::

        >>> import torch
        >>> from lstmkit.seq2seq import ConvBackbone
        >>> ConvBackbone(1, width=16, blocks=3)(torch.rand(2, 1, 48, 48)).shape
        torch.Size([2, 64, 12, 12])
    """

    def __init__(self, in_channels: int, width: int = 32, blocks: int = 3) -> None:
        layers: list[nn.Module] = []
        c = in_channels
        for k in range(blocks):
            out = min(width * 2 ** k, 256)
            for _ in range(2):
                layers += [nn.Conv2d(c, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
                c = out
            if k < blocks - 1:
                layers.append(nn.MaxPool2d(2))
        super().__init__(*layers)
        self.out_channels = c


class ImageEncoder(nn.Module):
    """An image -> a grid of annotation vectors, one per location of a CNN's feature map.

    Args:
        backbone: any ``nn.Module`` mapping ``(B, C, H, W)`` images to a ``(B, F, h, w)`` feature map
            (default: :class:`ConvBackbone`).
        channels: F, the backbone's output channels (read from ``backbone.out_channels`` when it has one).
        grid: ``(h, w)`` the feature map is average-pooled to (None: keep the backbone's own grid).
        positions: add a learned vector per grid location, so a decoder's queries can ask for places
            ("the digit left of the last one") as well as contents.

    ``forward(images (B, C, H, W)) -> Memory`` with values ``(B, h*w, F)`` in row-major grid order, mask all
    True and summary ``(B, F)`` the mean annotation (the decoder's initial state is made from it, as Xu
    et al. 2015 do).

    Example::

        >>> import torch
        >>> from lstmkit.seq2seq import ConvBackbone, ImageEncoder
        >>> enc = ImageEncoder(ConvBackbone(3, width=8, blocks=2), grid=(4, 4))
        >>> mem = enc(torch.rand(2, 3, 32, 32))
        >>> mem.values.shape, bool(mem.mask.all()), mem.summary.shape
        (torch.Size([2, 16, 16]), True, torch.Size([2, 16]))
    """

    def __init__(self, backbone: nn.Module, channels: int | None = None, grid: tuple[int, int] | None = None,
                 positions: bool = True) -> None:
        super().__init__()
        channels = channels or getattr(backbone, "out_channels", None)
        if not channels:
            raise ValueError("ImageEncoder needs channels= (the backbone's output channels) for a backbone "
                             "without an out_channels attribute")
        self.backbone = backbone
        self.pool = nn.AdaptiveAvgPool2d(grid) if grid else nn.Identity()
        self.grid, self.output_size, self.summary_size = grid, channels, channels
        self.positions = nn.Parameter(0.1 * torch.randn(grid[0] * grid[1], channels)) if positions and grid else None
        if positions and not grid:
            raise ValueError("positions=True needs a fixed grid=(h, w) to learn one vector per location")

    def forward(self, images: Tensor) -> Memory:
        if images.dim() != 4:
            raise ValueError(f"images must be (batch, channels, height, width), got {tuple(images.shape)}")
        fmap = self.pool(self.backbone(images))                                 # (B, F, h, w)
        if fmap.dim() != 4 or fmap.size(1) != self.output_size:
            raise ValueError(f"the backbone must give (batch, {self.output_size}, h, w) feature maps, got "
                             f"{tuple(fmap.shape)}")
        values = fmap.flatten(2).transpose(1, 2)                                # (B, h*w, F)
        summary = values.mean(1)
        if self.positions is not None:
            values = values + self.positions
        mask = torch.ones(values.shape[:2], dtype=torch.bool, device=values.device)
        return Memory(values, mask, summary)
