"""The issue's peer, rebuilt to be timed beside lstmkit's tagger on the same day: a plain torch.nn UPOS tagger
of the shape the issue names (100-d word embedding, character BiLSTM 2x50, 2-layer BiLSTM 2x200, dropout
0.3, Adam), trained on UD English EWT train with packed sequences, dev accuracy against wall-clock time.

Only the data handling is lstmkit's (the same vocabulary rule: lowercased words seen once read <unk>; the
same batches of 32 sentences of similar length); the model, its LSTMs (torch.nn.LSTM over
PackedSequence), the loss and the Adam loop are plain PyTorch.

    flock /tmp/lstmkit-cpu.lock python benchmarks/tagger_peer_torchnn.py --minutes 12

Writes benchmarks/results/tagger_peer_torchnn_<minutes>m.json (the curve and the first time at 95.3%).
Run it alone on the machine: it measures wall time.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import write_result  # noqa: E402
from tagger_ewt import EWT, first_reaching  # noqa: E402

from lstmkit.tasks.tagger import read_conllu  # noqa: E402
from lstmkit.tasks.tagger.data import BucketSampler, CharCache, gold_tags, length_batches, make_batch  # noqa: E402
from lstmkit.tasks.tagger.vocab import TaggerVocab  # noqa: E402


class PeerTagger(nn.Module):
    """words (T, B) + characters of the batch's distinct words (L, U) -> tag logits (T, B, K)."""

    def __init__(self, n_words: int, n_chars: int, n_tags: int, word_dim=100, char_dim=50, char_hidden=50,
                 hidden=200, dropout=0.3) -> None:
        super().__init__()
        self.word_embed = nn.Embedding(n_words, word_dim, padding_idx=0)
        self.char_embed = nn.Embedding(n_chars, char_dim, padding_idx=0)
        self.char_rnn = nn.LSTM(char_dim, char_hidden, bidirectional=True)
        self.rnn = nn.LSTM(word_dim + 2 * char_hidden, hidden, num_layers=2, bidirectional=True, dropout=dropout)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(2 * hidden, n_tags)

    def forward(self, b) -> torch.Tensor:
        packed = pack_padded_sequence(self.char_embed(b.chars), b.char_lengths, enforce_sorted=False)
        _, (h, _) = self.char_rnn(packed)                                  # h: (2, U, Hc)
        per_type = torch.cat([h[0], h[1]], dim=1)[b.types]                 # (T, B, 2Hc)
        x = self.drop(torch.cat([self.word_embed(b.words), per_type], dim=2))
        out, _ = self.rnn(pack_padded_sequence(x, b.lengths, enforce_sorted=False))
        out, _ = pad_packed_sequence(out, total_length=x.shape[0])          # (T, B, 2H)
        return self.head(self.drop(out))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=12.0, help="training budget (evaluations included)")
    p.add_argument("--eval-every", type=int, default=300, help="steps between dev evaluations")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate (constant)")
    p.add_argument("--data", type=pathlib.Path, default=EWT)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    tr, dev = args.data / "en_ewt-ud-train.conllu", args.data / "en_ewt-ud-dev.conllu"
    if not tr.is_file() or not dev.is_file():
        raise SystemExit(f"UD English EWT not found under {args.data}; pass --data DIR")
    torch.manual_seed(args.seed)
    train, dev_s = read_conllu(tr, ("upos",)), read_conllu(dev, ("upos",))
    vocab = TaggerVocab.build([s.words for s in train], [s.column("upos") for s in train], min_count=2)
    chars = CharCache(vocab)
    words, tags = [s.words for s in train], gold_tags(train, "upos", vocab, str(tr))
    dev_order = length_batches([len(s.words) for s in dev_s], 256)
    dev_tags = gold_tags(dev_s, "upos", vocab, str(dev))
    dev_batches = [make_batch([dev_s[i].words for i in b], vocab, chars=chars) for b in dev_order]
    dev_gold = [torch.cat([dev_tags[i] for i in b]) for b in dev_order]
    model = PeerTagger(len(vocab.words), len(vocab.chars), len(vocab.tags))
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    sampler = BucketSampler([len(w) for w in words], args.batch_size, args.seed + 1)

    def evaluate() -> float:
        model.eval()
        correct = total = 0
        with torch.no_grad():
            for b, idx, gold in zip(dev_batches, dev_order, dev_gold):
                best = model(b).argmax(2)                                  # (T, B)
                pred = torch.cat([best[: len(dev_s[i].words), k] for k, i in enumerate(idx)])
                correct += int((pred == gold).sum())
                total += gold.numel()
        model.train()
        return correct / total

    budget, step, points = args.minutes * 60, 0, []
    start = time.perf_counter()
    while time.perf_counter() - start < budget:
        idx = sampler.next()
        b = make_batch([words[i] for i in idx], vocab, [tags[i] for i in idx], chars)
        loss = F.cross_entropy(model(b).flatten(0, 1), b.tags.flatten(), ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % args.eval_every == 0:
            acc = evaluate()
            points.append({"step": step, "minutes": round((time.perf_counter() - start) / 60, 3),
                           "dev_accuracy": round(acc, 6)})
            print(f"step {step}: dev {100 * acc:.2f}% at {points[-1]['minutes']:.2f} min", flush=True)
    acc = evaluate()
    points.append({"step": step, "minutes": round((time.perf_counter() - start) / 60, 3), "dev_accuracy": round(acc, 6),
                   "final": True})
    best = max(points, key=lambda q: q["dev_accuracy"])
    out = {"task": "UPOS tagging, UD English EWT v2.16 (train -> dev): the issue's torch.nn peer, rebuilt",
           "recipe": {**{k: v for k, v in vars(args).items() if k != "data"}, "word_dim": 100, "char_hidden": 50,
                      "hidden": 200, "layers": 2, "dropout": 0.3, "optimizer": "Adam", "min_count": 2},
           "steps": step, "best_dev_accuracy": best["dev_accuracy"], "best_at_minutes": best["minutes"],
           "final_dev_accuracy": points[-1]["dev_accuracy"], "minutes_to_95.3": first_reaching(points, 0.953),
           "curve": points}
    path = write_result(f"tagger_peer_torchnn_{args.minutes:g}m", out)
    print({k: v for k, v in out.items() if k != "curve"})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
