"""Translation as a :class:`~lstmkit.train.TrainTask`: random batches of pairs, teacher-forced cross-entropy,
validation loss, greedy exact match, BLEU and chrF."""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from ...seq2seq import Seq2Seq
from ..seq2seq_jobs import Seq2SeqTask, decode_all, text_scores
from .config import TranslateConfig
from .corpus import Corpus, build_corpus
from .model import build_translator

__all__ = ["TranslateTask", "score_split"]


@torch.no_grad()
def teacher_forced_loss(model: Seq2Seq, corpus: Corpus, split: str, batch: int = 256) -> float:
    """Mean cross-entropy per target token (nats) of a split under teacher forcing."""
    device = next(model.parameters()).device
    total, tokens = 0.0, 0
    n = len(corpus.pairs[split])
    for s in range(0, n, batch):
        idx = list(range(s, min(n, s + batch)))
        tgt = corpus.targets(split, idx, device)
        k = int((tgt != 0).sum())
        total += model.loss(corpus.sources(split, idx, device), tgt).item() * k
        tokens += k
    return total / max(1, tokens)


def score_split(model: Seq2Seq, corpus: Corpus, split: str, beam: int = 1, alpha: float = 0.6,
                attention: bool = False, limit: Optional[int] = None) -> dict:
    """Decode (the first ``limit`` pairs of) a split and score it: ``{"bleu", "chrf", "exact", "hypotheses",
    "references", "sources", "decoded"}``."""
    device = next(model.parameters()).device
    n = len(corpus.pairs[split]) if limit is None else min(limit, len(corpus.pairs[split]))
    order = sorted(range(n), key=lambda i: len(corpus.ids[split][i][0]))
    out = decode_all(model, n, lambda idx: corpus.sources(split, idx, device), corpus.max_target_len, beam=beam,
                     alpha=alpha, attention=attention, order=order)
    hyps = [corpus.target_text(t) for t in out.tokens]
    refs = corpus.pairs[split].targets[:n]
    scores = text_scores(hyps, refs, tokenize=corpus.bleu_tokenize())
    return {**scores, "hypotheses": hyps, "references": refs, "sources": corpus.pairs[split].sources[:n],
            "decoded": out}


class TranslateTask(Seq2SeqTask):
    """Draws ``batch_size`` training pairs each step; validates on the held-out pairs; the best checkpoint
    is the one with the lowest validation loss.

    Example::

        >>> from lstmkit.tasks.translate import TranslateConfig, TranslateTask
        >>> task = TranslateTask(TranslateConfig(val_size=8, test_size=8, max_number=2000))
        >>> len(task.corpus.pairs["val"]), task.monitor, task.corpus.pairs["val"].sources[0] != ""
        (8, 'val_loss', True)
    """

    unit = "pairs"
    monitor = "val_loss"
    loss_label = "cross-entropy (nats/token)"

    def __init__(self, config: TranslateConfig, corpus: Optional[Corpus] = None) -> None:
        super().__init__(config)
        self.corpus = corpus or build_corpus(config)

    def build_model(self) -> Seq2Seq:
        return build_translator(self.config, len(self.corpus.source_vocab), len(self.corpus.target_vocab))

    def train_step(self, model: Seq2Seq, step: int) -> tuple[Tensor, int]:
        n = self.corpus.size("train")
        idx = torch.randint(n, (self.config.batch_size,), generator=self.gen).tolist()
        idx = self.shard.take(idx, "batch of --batch-size pairs")                 # this rank's pairs
        tgt = self.corpus.targets("train", idx, self.device)
        loss = model.loss(self.corpus.sources("train", idx, self.device), tgt,
                          label_smoothing=self.config.label_smoothing)
        return loss, len(idx), int((tgt != model.pad).sum())                     # a mean over target tokens

    def evaluate(self, model: Seq2Seq) -> dict[str, float]:
        res = score_split(model, self.corpus, "val")
        return {"val_loss": round(teacher_forced_loss(model, self.corpus, "val"), 6),
                "val_exact": round(res["exact"], 6), "val_bleu": round(res["bleu"], 4),
                "val_chrf": round(res["chrf"], 4)}

    def sample(self, model: Seq2Seq, step: int) -> Optional[str]:
        res = score_split(model, self.corpus, "val", limit=8)
        return "\n".join(f"{s}\n  -> {h}\n  want {r}" for s, h, r in
                         zip(res["sources"], res["hypotheses"], res["references"])) + "\n"

    def metadata(self) -> dict:
        return self.corpus.metadata()
