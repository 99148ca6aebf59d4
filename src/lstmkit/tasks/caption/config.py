"""Settings of ``lstmkit train caption``: the engine's, the decoder's (:class:`Seq2SeqConfig`), the images
and the CNN encoder. Every field is a command-line flag."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ...train import max_steps_opt, opt
from ..seq2seq_jobs import Seq2SeqConfig
from .canvas import CanvasSpec

__all__ = ["CaptionConfig"]


@dataclass
class CaptionConfig(Seq2SeqConfig):
    """Image captioning (Show, Attend and Tell): a CNN turns the image into a grid of feature vectors, an LSTM
    decoder writes the caption word by word while attending over the grid.

    The default data are canvases of real handwritten digits (scikit-learn's bundled 8x8 digits) on a grid,
    captioned with their spatial relations ("seven left of three , one below"); the test canvases use digit
    images never seen in training, and since each digit's cell is known, where the model looks is scored.

    Example::

        >>> from lstmkit.tasks.caption import CaptionConfig
        >>> cfg = CaptionConfig(rows=2, cols=2, max_digits=3)
        >>> cfg.validate(); cfg.canvas_spec().shape
        (1, 40, 40)
    """

    task: ClassVar[str] = "caption"

    # ------------------------------------------------------------------ engine and decoder defaults
    max_steps: int = max_steps_opt(2500)
    eval_every: int = opt(250, "steps between evaluations on the validation images (and checkpoints)")
    attention: str = opt("additive", "score function of the attention: additive (Bahdanau et al. 2015, as Xu et "
                                     "al. 2015 use), dot or general (Luong et al. 2015), or none (the decoder "
                                     "sees the image only through its initial state)",
                         choices=("additive", "dot", "general", "none"))
    input_feeding: bool = opt(True, "feed the previous attentional vector into the decoder, so it knows where it "
                                    "looked last")

    # ------------------------------------------------------------------ data
    images: str = opt("", "a folder of your own images (with --captions); default: generated digit canvases")
    captions: str = opt("", "captions of --images: Flickr8k form (image.jpg#0<TAB>caption) or COCO captions JSON")
    image_size: int = opt(128, "--images: each image's central square is resized to this many pixels a side")
    channels: int = opt(3, "--images: 3 (RGB) or 1 (grey)", choices=(1, 3))
    val_fraction: float = opt(0.05, "--images: share of the images held out for validation")
    test_fraction: float = opt(0.1, "--images: share of the images held out for the test")
    min_count: int = opt(1, "--images: words seen fewer times in training captions become <unk>")
    rows: int = opt(3, "digits: rows of the canvas grid")
    cols: int = opt(3, "digits: columns of the canvas grid")
    min_digits: int = opt(2, "digits: fewest digits on a canvas")
    max_digits: int = opt(4, "digits: most digits on a canvas")
    jitter: int = opt(2, "digits: largest shift of a digit from its cell's centre, in pixels")
    noise: float = opt(0.05, "digits: standard deviation of the Gaussian pixel noise (ink is 0..1)")
    val_size: int = opt(500, "digits: validation canvases (validation pool's digit images)")
    test_size: int = opt(1000, "digits: test canvases (test pool's digit images, never trained on), scored with "
                               "the best checkpoint when training ends (0: none)", control=True)

    # ------------------------------------------------------------------ encoder
    cnn_width: int = opt(32, "channels of the CNN's first block (doubling each block, at most 256)")
    cnn_blocks: int = opt(3, "blocks of the CNN (each but the last halves the resolution)")
    grid: int = opt(0, "average-pool the CNN's feature map to grid x grid locations (0: keep it; digits: "
                       "a 60-pixel canvas through 3 blocks gives 15 x 15)")

    def uses_digits(self) -> bool:
        return not self.images

    def canvas_spec(self) -> CanvasSpec:
        return CanvasSpec(rows=self.rows, cols=self.cols, jitter=self.jitter, cell=8 * 2 + 2 * self.jitter,
                          min_digits=self.min_digits, max_digits=self.max_digits, noise=self.noise)

    def validate(self) -> None:
        super().validate()
        if bool(self.images) != bool(self.captions):
            raise ValueError(f"--images and --captions go together (a folder of images and its captions file); "
                             f"got images={self.images!r}, captions={self.captions!r}")
        for name in ("image_size", "cnn_width", "cnn_blocks", "val_size", "min_count"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("grid", "test_size"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("val_fraction", "test_fraction"):
            if not 0 <= getattr(self, name) < 0.5:
                raise ValueError(f"{name} must be in [0, 0.5), got {getattr(self, name)}")
        if self.uses_digits():
            self.canvas_spec().validate()
        elif self.val_fraction <= 0:
            raise ValueError("val_fraction must be > 0 with --images: validation picks the best checkpoint")
