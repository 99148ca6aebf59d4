"""What the caption commands do, callable from Python: train (or resume) a run, load it as a
:class:`Captioner`, score held-out images and draw where the model looked for each word."""

from __future__ import annotations

import pathlib
import sys
from dataclasses import dataclass
from typing import IO, Optional

import torch
from torch import Tensor

from ...seq2seq import Seq2Seq
from ...train import CheckpointError, RunDir, TrainResult
from ...train.atomic import write_json
from ..runs import fit_run, open_checkpoint
from ..seq2seq_jobs import decode_all
from ..translate.vocab import Vocab
from .config import CaptionConfig
from .data import CaptionData
from .images import load_image
from .model import build_captioner
from .task import CaptionTask, score_split

__all__ = ["train", "resume", "load_captioner", "Captioner", "test_report", "draw_attention"]


def train(cfg: CaptionConfig, out: Optional[str | pathlib.Path] = None, stream: Optional[IO] = None) -> TrainResult:
    """Train a new run into ``out`` (default ``runs/caption-<timestamp>``), then score the test images with the
    best checkpoint into ``RUN_DIR/test.json`` and draw attention over a few of them into ``RUN_DIR/attention/``.

    Example::

        >>> import tempfile
        >>> from lstmkit.tasks.caption import CaptionConfig, train
        >>> cfg = CaptionConfig(val_size=4, test_size=4, max_steps=2, eval_every=2, cnn_width=4,
        ...                     decoder_hidden=8, embed=8, batch_size=4, beam=2)
        >>> train(cfg, tempfile.mkdtemp() + "/run", stream=open("/dev/null", "w")).step
        2
    """
    return fit_run(CaptionTask(cfg), out, stream=stream, then=_final_test)[0]


def resume(run_path: str | pathlib.Path, cfg: CaptionConfig, stream: Optional[IO] = None) -> TrainResult:
    """Continue run ``run_path`` exactly from its ``last`` checkpoint."""
    return fit_run(CaptionTask(cfg), resume=run_path, stream=stream, then=_final_test)[0]


@dataclass
class Captioner:
    """A trained captioning model with its vocabulary and image format: images in, captions out."""

    model: Seq2Seq
    vocab: Vocab
    channels: int
    image_shape: tuple[int, int]
    max_len: int

    def caption(self, images: Tensor, beam: int = 5, alpha: float = 0.6, attention: bool = False,
                max_len: Optional[int] = None) -> list[dict]:
        """One dict per image of ``images (N, C, H, W)``: ``text``, ``words``, ``score`` and ``weights``
        (``(words + 1, grid locations)`` with ``attention=True``); at most ``max_len`` words (default: the
        run's)."""
        want = (self.channels, *self.image_shape)
        if images.dim() != 4 or tuple(images.shape[1:]) != want:
            raise ValueError(f"images must be (N, {', '.join(map(str, want))}) for this run, got {tuple(images.shape)}")
        device = next(self.model.parameters()).device
        out = decode_all(self.model, len(images), lambda idx: (images[idx].to(device),), max_len or self.max_len,
                         beam=beam, alpha=alpha, attention=attention)
        return [{"text": " ".join(self.vocab.decode(t)), "words": self.vocab.decode(t), "score": s,
                 "weights": out.weights[i] if out.weights is not None else None}
                for i, (t, s) in enumerate(zip(out.tokens, out.scores))]

    def read_images(self, paths: list[str]) -> Tensor:
        """Image files read as this run's training images were (Pillow: colours, central square, size)."""
        if self.image_shape[0] != self.image_shape[1]:
            raise ValueError(f"this run's images are {self.image_shape[0]}x{self.image_shape[1]}, not square; "
                             f"expected a run with square images to read files")
        return torch.stack([load_image(p, self.image_shape[0], self.channels) for p in paths])


def load_captioner(run_path: str | pathlib.Path, checkpoint: str = "auto", device: str = "cpu") -> Captioner:
    """A caption run's model (in eval mode) and vocabulary; ``checkpoint``: best, last or auto.

    Example::

        >>> import tempfile, torch
        >>> from lstmkit.tasks.caption import CaptionConfig, train, load_captioner
        >>> run = tempfile.mkdtemp() + "/run"
        >>> _ = train(CaptionConfig(val_size=2, test_size=0, max_steps=1, cnn_width=4, decoder_hidden=8, embed=8,
        ...                         batch_size=2), run, stream=open("/dev/null", "w"))
        >>> captioner = load_captioner(run)
        >>> len(captioner.caption(torch.rand(3, 1, 60, 60), beam=2))
        3
    """
    cfg, state, checkpoint = open_checkpoint(run_path, CaptionConfig, checkpoint)
    try:
        meta = state["meta"]
        vocab, shape = Vocab.from_json(meta["vocab"]), tuple(meta["image_shape"])
        model = build_captioner(cfg, len(vocab), int(meta["channels"]), shape)
        model.load_state_dict(state["model"])
    except (KeyError, RuntimeError, TypeError, ValueError) as e:
        raise CheckpointError(f"checkpoint {checkpoint} of {run_path} does not match the run's config.json: "
                              f"{str(e).splitlines()[0]}") from None
    return Captioner(model.to(device).eval(), vocab, int(meta["channels"]), shape, int(meta["max_len"]))


def draw_attention(images: Tensor, captions: list[dict], grid: tuple[int, int], folder: pathlib.Path,
                   names: Optional[list[str]] = None, count: int = 4) -> list[pathlib.Path]:
    """For each of the first ``count`` captions made with ``attention=True``: the image, then the attention
    over it for every emitted word (``folder/<name>.png``)."""
    from ...inspect.attention import plot_image_attention
    paths = []
    for k, cap in enumerate(captions[:count]):
        if cap["weights"] is None:
            continue
        folder.mkdir(parents=True, exist_ok=True)
        name = pathlib.Path(names[k]).stem if names else f"caption-{k}"
        paths.append(plot_image_attention(images[k], cap["weights"], cap["words"] + ["<eos>"], grid,
                                          folder / f"{name}.png"))
    return paths


def test_report(model: Seq2Seq, data: CaptionData, split: str, beam: int, alpha: float) -> dict:
    """Greedy and beam-search scores on a held-out split, examples, and the beam's captions (with attention)."""
    greedy = score_split(model, data, split)
    beamed = score_split(model, data, split, beam=beam, alpha=alpha, attention=True)
    keys = ("exact", "bleu1", "bleu2", "bleu3", "bleu4", "chrf", "digit_accuracy", "attention_score", "uniform_score",
            "loss")
    pick = (lambda r: {k: r[k] for k in keys if k in r})
    examples = [{"reference": r[0], "greedy": g, "beam": b} for r, g, b in
                list(zip(beamed["references"], greedy["hypotheses"], beamed["hypotheses"]))[:10]]
    weights = beamed["decoded"].weights or [None] * len(beamed["hypotheses"])      # None: no attention
    captions = [{"text": h, "words": h.split() if h else [], "weights": w} for h, w in
                zip(beamed["hypotheses"], weights)]
    return {"images": len(data.splits[split]), "beam": beam, "length_alpha": alpha, "greedy": pick(greedy),
            "beam_search": pick(beamed), "examples": examples, "_captions": captions}


def _final_test(task: CaptionTask, run: RunDir, cfg: CaptionConfig, stream: Optional[IO]) -> None:
    if "test" not in task.data.splits or (cfg.uses_digits() and not cfg.test_size):
        return
    captioner = load_captioner(run.path)
    report = test_report(captioner.model, task.data, "test", cfg.beam, cfg.length_alpha)
    pictures = draw_attention(task.data.splits["test"].images, report.pop("_captions"), captioner.model.encoder.grid,
                              run.path / "attention")
    write_json(run.path / "test.json", report)
    b = report["beam_search"]
    extra = f", digit words {b['digit_accuracy']:.4f}" if "digit_accuracy" in b else ""
    if "attention_score" in b:
        extra += f", attention on the named digit {b['attention_score']:.3f} (uniform {b['uniform_score']:.3f})"
    print(f"test ({report['images']} held-out images, beam {cfg.beam}): exact {b['exact']:.4f}, BLEU-4 "
          f"{b['bleu4']:.2f}{extra}; wrote {run.path / 'test.json'}"
          + (f" and {len(pictures)} attention pictures in {run.path / 'attention'}" if pictures else ""),
          file=stream or sys.stdout)
