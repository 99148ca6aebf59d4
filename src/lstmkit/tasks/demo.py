"""The no-setup demo: "I grew up in France ... I speak fluent ___".

A generated task that needs memory across a long gap: each sentence names a country at its start, then
a variable number of filler words, then asks for the language. Training grows the gaps from 1 word to
the full range over its first half. An LSTM learns to carry the country across the gap, and keeps it
over gaps longer than any it was trained on; an Elman RNN, whose gradient vanishes over the gap, does
not.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..layers import GRU, LSTM, RNN

COUNTRIES = {"France": "French", "Spain": "Spanish", "Germany": "German", "Italy": "Italian",
             "Japan": "Japanese", "China": "Chinese", "Greece": "Greek", "Portugal": "Portuguese",
             "Russia": "Russian", "Poland": "Polish"}
FILLER = ("and then we moved to a small town near the coast where my parents opened a bakery that sold "
          "bread every morning before school so I learned to work early while friends slept late ; years "
          "later I studied music , played in a band , travelled a lot and met many people").split()
PREFIX = "I grew up in".split()
SUFFIX = ". I speak fluent".split()
CELLS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}


@dataclass
class DemoConfig:
    """Settings of ``lstmkit demo`` (defaults train in about a minute on 2 CPU cores)."""

    cell: str = "lstm"           #: lstm, gru or rnn
    compare: str = "rnn"         #: a second cell trained the same way for contrast ("" for none)
    steps: int = 400             #: optimisation steps per model
    batch: int = 64
    gap_min: int = 20            #: filler words between the country and the question, drawn uniformly
    gap_max: int = 60            #: (a curriculum grows the gaps from 1 to these over the first half)
    hidden: int = 64
    lr: float = 1e-2
    seed: int = 0


class Vocab:
    def __init__(self) -> None:
        words = PREFIX + SUFFIX + list(COUNTRIES) + sorted(set(FILLER))
        self.words = list(dict.fromkeys(words))
        self.index = {w: i for i, w in enumerate(self.words)}
        self.languages = list(COUNTRIES.values())


def make_batch(vocab: Vocab, batch: int, gap_min: int, gap_max: int, g: torch.Generator):
    """Token ids (T, B), lengths (B,), target language ids (B,) and the sentences as word lists."""
    countries = list(COUNTRIES)
    sents, targets = [], []
    for _ in range(batch):
        k = int(torch.randint(len(countries), (1,), generator=g))
        gap = int(torch.randint(gap_min, gap_max + 1, (1,), generator=g))
        start = int(torch.randint(len(FILLER), (1,), generator=g))
        filler = [FILLER[(start + j) % len(FILLER)] for j in range(gap)]
        sents.append(PREFIX + [countries[k]] + filler + SUFFIX)
        targets.append(k)
    lengths = torch.tensor([len(s) for s in sents])
    ids = torch.zeros(int(lengths.max()), batch, dtype=torch.long)
    for b, s in enumerate(sents):
        ids[: len(s), b] = torch.tensor([vocab.index[w] for w in s])
    return ids, lengths, torch.tensor(targets), sents


class Reader(nn.Module):
    """Embedding -> recurrent layer -> linear on each sentence's last valid step."""

    def __init__(self, vocab_size: int, n_out: int, cell: str, hidden: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, 32)
        self.rnn = CELLS[cell](32, hidden)
        self.head = nn.Linear(hidden, n_out)

    def forward(self, ids, lengths):
        out, _ = self.rnn(self.embed(ids), lengths=lengths)          # (T, B, H), zero past each end
        last = out[lengths - 1, torch.arange(ids.shape[1])]           # (B, H)
        return self.head(last)


def train_one(cfg: DemoConfig, cell: str, vocab: Vocab, log) -> tuple[Reader, float]:
    torch.manual_seed(cfg.seed)
    g = torch.Generator().manual_seed(cfg.seed)
    model = Reader(len(vocab.words), len(vocab.languages), cell, cfg.hidden)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    t0 = time.perf_counter()
    for step in range(1, cfg.steps + 1):
        grow = min(1.0, 2 * step / cfg.steps)                         # curriculum: short gaps first
        ids, lengths, y, _ = make_batch(vocab, cfg.batch, max(1, int(cfg.gap_min * grow)),
                                        max(1, int(cfg.gap_max * grow)), g)
        loss = nn.functional.cross_entropy(model(ids, lengths), y)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 50 == 0 or step == cfg.steps:
            log(f"  {cell:4s} step {step:4d}  loss {loss.item():.3f}  ({time.perf_counter() - t0:.0f}s)")
    return model, time.perf_counter() - t0


@torch.no_grad()
def accuracy(model: Reader, vocab: Vocab, gap_min: int, gap_max: int, n: int = 512, seed: int = 123) -> float:
    g = torch.Generator().manual_seed(seed)
    ids, lengths, y, _ = make_batch(vocab, n, gap_min, gap_max, g)
    return (model.eval()(ids, lengths).argmax(1) == y).float().mean().item()


def run(cfg: DemoConfig, log=print) -> dict:
    """Train, evaluate on fresh sentences (also with gaps twice as long as in training), show examples."""
    if cfg.cell not in CELLS or (cfg.compare and cfg.compare not in CELLS):
        raise ValueError(f"cell and compare must be one of {sorted(CELLS)}, got {cfg.cell!r} and {cfg.compare!r}")
    for name in ("steps", "batch", "hidden"):
        if getattr(cfg, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(cfg, name)}")
    if not 0 <= cfg.gap_min <= cfg.gap_max:
        raise ValueError(f"the gaps must satisfy 0 <= --gap-min <= --gap-max, got --gap-min {cfg.gap_min} "
                         f"--gap-max {cfg.gap_max}")
    if not (math.isfinite(cfg.lr) and cfg.lr > 0):
        raise ValueError(f"lr must be a finite number > 0, got {cfg.lr}")
    vocab = Vocab()
    log(f"Task: 'I grew up in <country> <{cfg.gap_min}-{cfg.gap_max} filler words> . I speak fluent ___'"
        f" -> the language ({len(COUNTRIES)} choices, chance = {100 / len(COUNTRIES):.0f}%)")
    results = {"config": asdict(cfg), "models": {}}
    models = {}
    for cell in [cfg.cell] + ([cfg.compare] if cfg.compare and cfg.compare != cfg.cell else []):
        log(f"Training {cell.upper()} ({cfg.steps} steps of {cfg.batch} sentences):")
        model, secs = train_one(cfg, cell, vocab, log)
        acc = accuracy(model, vocab, cfg.gap_min, cfg.gap_max)
        acc_long = accuracy(model, vocab, 2 * cfg.gap_max, 2 * cfg.gap_max + 20)
        results["models"][cell] = {"accuracy": acc, "accuracy_long_gaps": acc_long, "train_seconds": secs}
        models[cell] = model
    log("\nAccuracy on fresh sentences:")
    for cell, r in results["models"].items():
        log(f"  {cell.upper():5s} gaps {cfg.gap_min}-{cfg.gap_max}: {100 * r['accuracy']:5.1f}%   "
            f"gaps {2 * cfg.gap_max}-{2 * cfg.gap_max + 20} (never seen): {100 * r['accuracy_long_gaps']:5.1f}%   "
            f"trained in {r['train_seconds']:.0f}s")
    g = torch.Generator().manual_seed(7)
    ids, lengths, y, sents = make_batch(vocab, 3, cfg.gap_max, cfg.gap_max + 10, g)
    main = models[cfg.cell]
    probs = main(ids, lengths).softmax(1)
    log(f"\nWhat the {cfg.cell.upper()} says:")
    for b, s in enumerate(sents):
        k = int(probs[b].argmax())
        text = " ".join(s[:6]) + f" ...({len(s) - 10} words)... " + " ".join(s[-4:])
        log(f"  {text} {vocab.languages[k]}  (p={probs[b, k]:.2f})")
    return results


def register(commands, train_commands) -> None:
    p = commands.add_parser("demo", help="train a small LSTM to remember across a long gap (about a minute)",
                            description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                            epilog="example: lstmkit demo --steps 100 --compare gru")
    d = DemoConfig()
    p.add_argument("--cell", choices=sorted(CELLS), default=d.cell)
    p.add_argument("--compare", default=d.compare, help="second cell for contrast, '' for none (default: rnn)")
    p.add_argument("--steps", type=int, default=d.steps)
    p.add_argument("--gap-min", type=int, default=d.gap_min)
    p.add_argument("--gap-max", type=int, default=d.gap_max)
    p.add_argument("--seed", type=int, default=d.seed)
    p.set_defaults(func=lambda a: run(DemoConfig(cell=a.cell, compare=a.compare, steps=a.steps,
                                                 gap_min=a.gap_min, gap_max=a.gap_max, seed=a.seed)))
