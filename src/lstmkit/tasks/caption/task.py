"""Captioning as a :class:`~lstmkit.train.TrainTask`: teacher-forced cross-entropy on image batches; BLEU-1..4,
chrF and exact match of greedy captions; on digit canvases also digit-word accuracy and the attention score."""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from ...seq2seq import Seq2Seq
from ..seq2seq_jobs import Seq2SeqTask, decode_all, text_scores
from .canvas import DIGIT_WORDS, attention_score
from .config import CaptionConfig
from .data import CaptionData, Split, open_data
from .model import build_captioner

__all__ = ["CaptionTask", "score_split", "digit_accuracy"]


def digit_accuracy(hypotheses: list[str], references: list[str]) -> float:
    """Of the reference captions' digit words, the share the hypothesis has at the same position.

    Example::

        >>> from lstmkit.tasks.caption.task import digit_accuracy
        >>> digit_accuracy(["seven left of two"], ["seven left of three"])
        0.5
    """
    right = total = 0
    for h, r in zip(hypotheses, references):
        hyp = h.split()
        for i, word in enumerate(r.split()):
            if word in DIGIT_WORDS:
                total += 1
                right += i < len(hyp) and hyp[i] == word
    return right / max(1, total)


@torch.no_grad()
def _teacher_forced(model: Seq2Seq, data: CaptionData, split: Split, masks: Optional[Tensor], batch: int = 250
                    ) -> tuple[float, Optional[float]]:
    """Mean cross-entropy per token of the first references, and (digits) the attention score: the mean
    attention mass on the named digit's cell when the decoder is about to write that digit's word."""
    device = next(model.parameters()).device
    total = tokens = 0.0
    weights, cells = [], []
    for s in range(0, len(split), batch):
        tgt = data.target_ids([refs[0] for refs in split.references[s:s + batch]], device)
        k = int((tgt != 0).sum())
        logits, w = model((split.images[s:s + batch].to(device),), tgt)
        total += torch.nn.functional.cross_entropy(logits.flatten(0, 1), tgt.flatten(), ignore_index=0,
                                                   reduction="sum").item()
        tokens += k
        if masks is not None and w is not None and split.cells is not None:
            for b, c in enumerate(split.cells[s:s + batch]):
                weights.append(w[b, :len(c)].cpu())
                cells.append(torch.tensor(c))
    score = attention_score(torch.cat(weights), torch.cat(cells), masks) if weights else None
    return total / max(1, tokens), score


def score_split(model: Seq2Seq, data: CaptionData, split: str, beam: int = 1, alpha: float = 0.6,
                attention: bool = False, limit: Optional[int] = None) -> dict:
    """Caption (the first ``limit`` images of) a split and score it: loss, BLEU-1..4 (Xu et al. 2015's
    table), chrF, exact match; digits also ``digit_accuracy`` and ``attention_score``."""
    part = data.splits[split]
    n = len(part) if limit is None else min(limit, len(part))
    device = next(model.parameters()).device
    out = decode_all(model, n, lambda idx: (part.images[idx].to(device),), data.max_len, beam=beam, alpha=alpha,
                     attention=attention)
    hyps = [" ".join(data.vocab.decode(t)) for t in out.tokens]
    refs = part.references[:n]
    res = text_scores(hyps, refs, bleu_orders=(1, 2, 3, 4))
    grid = model.encoder.grid
    masks = data.masks(grid) if grid else None
    sub = Split(part.images[:n], refs, part.cells[:n] if part.cells is not None else None)
    res["loss"], att = _teacher_forced(model, data, sub, masks)
    if part.cells is not None:
        res["digit_accuracy"] = digit_accuracy(hyps, [r[0] for r in refs])
    if att is not None:
        res.update(attention_score=att, uniform_score=1.0 / masks.size(0))
    return {**res, "hypotheses": hyps, "references": refs, "decoded": out}


class CaptionTask(Seq2SeqTask):
    """Draws ``batch_size`` images (digits: new canvases) each step; validates on the held-out images; the
    best checkpoint is the one with the lowest validation loss.

    Example::

        >>> from lstmkit.tasks.caption import CaptionConfig, CaptionTask
        >>> task = CaptionTask(CaptionConfig(val_size=4, test_size=4))
        >>> len(task.data.splits["val"]), task.data.splits["val"].images.shape[1:]
        (4, torch.Size([1, 60, 60]))
    """

    unit = "images"
    monitor = "val_loss"
    loss_label = "cross-entropy (nats/word)"

    def __init__(self, config: CaptionConfig, data: Optional[CaptionData] = None) -> None:
        super().__init__(config)
        self.data = data or open_data(config)

    def build_model(self) -> Seq2Seq:
        return build_captioner(self.config, len(self.data.vocab), self.data.channels, self.data.image_shape)

    def train_step(self, model: Seq2Seq, step: int) -> tuple[Tensor, int]:
        images, tgt = self.data.train_batch(self.config.batch_size, self.gen)
        part = self.shard.part(len(images), "batch of --batch-size images")       # this rank's images
        images, tgt = images[part], tgt[part]
        loss = model.loss((images.to(self.device),), tgt.to(self.device), label_smoothing=self.config.label_smoothing)
        return loss, len(images), int((tgt != model.pad).sum())                  # a mean over caption tokens

    def evaluate(self, model: Seq2Seq) -> dict[str, float]:
        res = score_split(model, self.data, "val")
        keys = ("loss", "exact", "bleu4", "chrf", "digit_accuracy", "attention_score")
        return {f"val_{k}": round(float(res[k]), 6) for k in keys if k in res}

    def sample(self, model: Seq2Seq, step: int) -> Optional[str]:
        res = score_split(model, self.data, "val", limit=8)
        return "".join(f"{h}\n  want {r[0]}\n" for h, r in zip(res["hypotheses"], res["references"]))

    def metadata(self) -> dict:
        return self.data.metadata()
