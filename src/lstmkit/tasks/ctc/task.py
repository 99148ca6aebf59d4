"""CTC labelling as a :class:`~lstmkit.train.TrainTask`: fresh digit lines every step, CTC loss, CER."""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from ...train import TrainTask
from .config import CTCConfig
from .decode import beam_search, cer, greedy_decode
from .lines import DigitPools, Lines, make_lines
from .model import CTCModel

__all__ = ["CTCTask", "ctc_loss", "decode_lines", "score_lines"]

FEATURES, N_LABELS = 8, 10            # 8 pixels per column; digits 0-9 are CTC classes 1-10 (0 is blank)


def ctc_loss(log_probs: Tensor, lines: Lines, reduction: str = "mean") -> Tensor:
    """torch's CTC loss of ``log_probs (T, B, C)`` against the lines' digit strings (label d is class d+1)."""
    targets = torch.cat([row[:n] for row, n in zip(lines.targets, lines.target_lengths)]) + 1
    return F.ctc_loss(log_probs, targets.to(log_probs.device), lines.lengths, lines.target_lengths,
                      blank=0, reduction="sum", zero_infinity=True) / (len(lines) if reduction == "mean" else 1)


def decode_lines(log_probs: Tensor, lengths: Tensor, beam: int = 0) -> list[str]:
    """Digit strings read from ``log_probs (T, B, C)``: greedy when ``beam`` is 0, else prefix beam search."""
    lp = log_probs.detach().cpu().double().numpy()
    out = []
    for b, n in enumerate(lengths.tolist()):
        seq = greedy_decode(lp[:n, b]) if beam == 0 else beam_search(lp[:n, b], beam)[0][0]
        out.append("".join(str(c - 1) for c in seq))
    return out


@torch.no_grad()
def score_lines(model: CTCModel, lines: Lines, beam: int = 0, batch: int = 256) -> dict:
    """Mean CTC loss (per line), greedy CER and, with ``beam`` > 0, beam-search CER; plus the decodings."""
    device = next(model.parameters()).device
    total, greedy, beamed = 0.0, [], []
    for s in range(0, len(lines), batch):
        part = lines.subset(s, min(s + batch, len(lines)))
        lp = model(part.x.to(device), part.lengths)
        total += ctc_loss(lp, part, reduction="sum").item()
        greedy += decode_lines(lp, part.lengths)
        if beam:
            beamed += decode_lines(lp, part.lengths, beam)
    refs = lines.strings()
    out = {"loss": total / len(lines), "cer_greedy": cer(greedy, refs), "greedy": greedy, "references": refs}
    if beam:
        out.update(cer_beam=cer(beamed, refs), beam=beamed,
                   line_accuracy_beam=sum(p == r for p, r in zip(beamed, refs)) / len(refs))
    out["line_accuracy_greedy"] = sum(p == r for p, r in zip(greedy, refs)) / len(refs)
    return out


class CTCTask(TrainTask):
    """Draws ``batch_size`` new lines from the training pool each step; validates on fixed lines made of
    the validation pool; the best checkpoint is the one with the lowest greedy CER.

    Example::

        >>> from lstmkit.tasks.ctc import CTCConfig, CTCTask
        >>> task = CTCTask(CTCConfig(val_lines=8))
        >>> len(task.val), task.monitor
        (8, 'val_cer')
    """

    unit = "lines"
    monitor = "val_cer"
    loss_label = "CTC loss (nats/line)"

    def __init__(self, config: CTCConfig, pools: Optional[DigitPools] = None) -> None:
        super().__init__(config)
        config.validate()
        self.pools = pools or DigitPools.load()
        self.spec = config.line_spec()
        self.gen = torch.Generator().manual_seed(config.seed + 1)
        self.val = self.held_out("val", config.val_lines)
        self.device = torch.device(config.device)

    def held_out(self, split: str, n: int) -> Lines:
        """``n`` lines of the ``val`` or ``test`` pool, the same for every run with these line settings."""
        seed = {"val": 1, "test": 2}[split]
        return make_lines(self.pools.images[split], self.pools.labels[split], n, self.spec,
                          torch.Generator().manual_seed(seed))

    def build_model(self) -> CTCModel:
        return CTCModel(FEATURES, N_LABELS, self.config)

    def train_step(self, model: CTCModel, step: int) -> tuple[Tensor, int]:
        lines = make_lines(self.pools.images["train"], self.pools.labels["train"], self.config.batch_size,
                           self.spec, self.gen)
        part = self.shard.part(len(lines), "batch of --batch-size lines")         # this rank's lines
        lines = lines.subset(part.start, part.stop)
        log_probs = model(lines.x.to(self.device), lines.lengths)        # (T, B, 11)
        return ctc_loss(log_probs, lines), len(lines)

    def evaluate(self, model: CTCModel) -> dict[str, float]:
        res = score_lines(model, self.val)
        return {"val_loss": round(res["loss"], 6), "val_cer": round(res["cer_greedy"], 6),
                "val_line_acc": round(res["line_accuracy_greedy"], 6)}

    def metadata(self) -> dict:
        return {"features": FEATURES, "labels": [str(d) for d in range(N_LABELS)], "blank": 0}

    def state_dict(self) -> dict:
        return {"generator": self.gen.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.gen.set_state(state["generator"])
