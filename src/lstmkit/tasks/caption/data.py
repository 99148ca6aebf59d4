"""A caption run's data, behind one interface: generated digit canvases (fresh every training step) or a
folder of the user's images with their captions (split once)."""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from ..ctc.lines import DigitPools
from ..translate.vocab import Vocab, pad_batch
from .canvas import CANVAS_WORDS, Canvases, cell_masks, make_canvases
from .config import CaptionConfig
from .images import ImageCaptions, load_image_captions, split_images

__all__ = ["CaptionData", "DigitCanvases", "UserImages", "open_data", "Split"]


class Split:
    """Held-out images: ``images (N, C, H, W)``, ``references[i]`` (list of reference captions, token
    strings), ``cells[i]`` (digits: per token of the first reference, the named cell or -1; else None)."""

    def __init__(self, images: Tensor, references: list[list[str]], cells: Optional[list[list[int]]] = None) -> None:
        self.images, self.references, self.cells = images, references, cells

    def __len__(self) -> int:
        return len(self.references)


class CaptionData:
    """What scoring needs from caption data: the vocabulary, the image format, the held-out splits and (digits)
    the cells' masks. The training sources (:class:`DigitCanvases`, :class:`UserImages`) add
    ``train_batch(n, generator) -> (images (n, C, H, W), target ids (n, T) ending in eos)``."""

    vocab: Vocab
    channels: int
    image_shape: tuple[int, int]
    max_len: int
    splits: dict[str, Split]

    def target_ids(self, captions: list[str], device="cpu") -> Tensor:
        return pad_batch([self.vocab.encode(c.split(), eos=True) for c in captions])[0].to(device)

    def masks(self, grid: tuple[int, int]) -> Optional[Tensor]:
        """Digits: :func:`~lstmkit.tasks.caption.canvas.cell_masks` for an encoder grid; else None."""
        return None

    def metadata(self) -> dict:
        return {"vocab": self.vocab.to_json(), "channels": self.channels, "image_shape": list(self.image_shape),
                "max_len": self.max_len}


class DigitCanvases(CaptionData):
    """Canvases of scikit-learn's digits: training draws new canvases from the train pool every step; the
    validation and test canvases are fixed (seeds 1 and 2) and made of the other pools' digit images."""

    def __init__(self, cfg: CaptionConfig, pools: Optional[DigitPools] = None) -> None:
        self.spec = cfg.canvas_spec()
        self.pools = pools or DigitPools.load()
        self.vocab = Vocab.build([list(CANVAS_WORDS)])
        self.channels, self.image_shape = 1, tuple(self.spec.shape[1:])
        self.max_len = 4 * self.spec.max_digits + 4
        self.splits = {"val": self.held_out("val", cfg.val_size)}
        if cfg.test_size:
            self.splits["test"] = self.held_out("test", cfg.test_size)

    def held_out(self, split: str, n: int) -> Split:
        c = make_canvases(self.pools.images[split], self.pools.labels[split], n, self.spec,
                          torch.Generator().manual_seed({"val": 1, "test": 2}[split]))
        return self.from_canvases(c)

    @staticmethod
    def from_canvases(c: Canvases) -> Split:
        return Split(c.images, [[cap] for cap in c.captions], c.cells)

    def train_batch(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        c = make_canvases(self.pools.images["train"], self.pools.labels["train"], n, self.spec, generator)
        return c.images, self.target_ids(c.captions)

    def masks(self, grid: tuple[int, int]) -> Tensor:
        return cell_masks(self.spec, *grid)

    def metadata(self) -> dict:
        return {**super().metadata(), "canvas": {"rows": self.spec.rows, "cols": self.spec.cols}}


class UserImages(CaptionData):
    """The user's images and captions, split once into train/val/test by the config's fractions and seed;
    a training batch pairs each drawn image with one of its references, drawn at random."""

    def __init__(self, cfg: CaptionConfig) -> None:
        data: ImageCaptions = load_image_captions(cfg.images, cfg.captions, cfg.image_size, cfg.channels)
        train, val, test = split_images(len(data.names), cfg.val_fraction, cfg.test_fraction, cfg.seed)
        if not len(train) or not len(val):
            raise ValueError(f"{cfg.captions}: {len(data.names)} captioned images leave train {len(train)}, "
                             f"validation {len(val)}; expected at least one of each (more images, or other "
                             f"--val-fraction/--test-fraction)")
        self.train = data.select(train)
        self.vocab = Vocab.build([c.split() for refs in self.train.captions for c in refs], min_count=cfg.min_count)
        self.channels, self.image_shape = cfg.channels, (cfg.image_size, cfg.image_size)
        longest = max(len(c.split()) for refs in data.captions for c in refs)
        self.max_len = longest + 10
        parts = {"val": data.select(val), "test": data.select(test)}
        self.splits = {k: Split(v.images, v.captions) for k, v in parts.items() if len(v.names)}

    def train_batch(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        idx = torch.randint(len(self.train.names), (n,), generator=generator).tolist()
        caps = [self.train.captions[i][int(torch.randint(len(self.train.captions[i]), (1,), generator=generator))]
                for i in idx]
        return self.train.images[idx], self.target_ids(caps)


def open_data(cfg: CaptionConfig) -> CaptionData:
    """The data the config names: digit canvases, or ``--images`` with ``--captions``."""
    return DigitCanvases(cfg) if cfg.uses_digits() else UserImages(cfg)
