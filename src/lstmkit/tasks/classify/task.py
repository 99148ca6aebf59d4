"""The sequence classifier as a :class:`~lstmkit.train.TrainTask`: data, vocabulary, batches, loss, metrics."""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pad_sequence

from ...train import TrainTask
from ..scores import confusion, label_scores
from ..tagger.data import BucketSampler, length_batches
from .config import ClassifyConfig
from .data import Examples, generated_waves, read_examples
from .model import SequenceClassifier, build_classifier, combine

__all__ = ["ClassifyTask", "Encoder", "load_examples", "predict_logits", "predict_member_logits"]


def load_examples(cfg: ClassifyConfig) -> tuple[Examples, Examples]:
    """(train, dev) examples that ``cfg`` describes."""
    if not cfg.data:
        return generated_waves(2000, cfg.seed), generated_waves(400, cfg.seed + 10_000)
    train = read_examples(cfg.data, cfg, cfg.labels)
    if len(set(train.labels)) < 2:
        raise ValueError(f"{cfg.data}: every sequence has the label {train.labels[0]!r}; expected at least two "
                         f"classes to learn to tell apart")
    if cfg.dev:
        dev = read_examples(cfg.dev, cfg, cfg.dev_labels)
        if dev.kind != train.kind:
            raise ValueError(f"--dev {cfg.dev} holds {dev.kind} sequences; expected {train.kind} like --data")
        return train, dev
    n_dev = int(round(len(train) * cfg.dev_fraction))
    if n_dev < 1 or n_dev >= len(train):
        raise ValueError(f"{cfg.data} has {len(train)} examples; --dev-fraction {cfg.dev_fraction} leaves "
                         f"{len(train) - n_dev} for training and {n_dev} for dev, expected >= 1 each (or give --dev)")
    perm = torch.randperm(len(train), generator=torch.Generator().manual_seed(cfg.seed)).tolist()
    return train.subset(perm[n_dev:]), train.subset(perm[:n_dev])


class Encoder:
    """Examples -> tensors: token vocabulary (text; id 0 pad, 1 <unk>), class list, length cut.

    Example::

        >>> from lstmkit.tasks.classify.task import Encoder
        >>> from lstmkit.tasks.classify.data import Examples
        >>> enc = Encoder.build(Examples("text", ["ab", "ba b"], ["x", "y"]), tokens="char", min_count=1, max_len=0)
        >>> enc.tokens, enc.classes, enc.encode_item("abc").tolist()
        ([' ', 'a', 'b'], ['x', 'y'], [3, 4, 1])
    """

    def __init__(self, kind: str, tokens: list[str], classes: list[str], mode: str, max_len: int,
                 features: int = 0, chars: Optional[list[str]] = None, spell: int = 0) -> None:
        self.kind, self.tokens, self.classes, self.mode = kind, tokens, classes, mode
        self.max_len, self.features, self.chars, self.spell = max_len, features, chars or [], spell
        self.index = {t: i + 2 for i, t in enumerate(tokens)}
        self.char_index = {c: i + 2 for i, c in enumerate(self.chars)}
        self.class_index = {c: i for i, c in enumerate(classes)}

    @classmethod
    def build(cls, ex: Examples, tokens: str, min_count: int, max_len: int, spell: int = 0) -> "Encoder":
        """``spell`` > 0 (word tokens): each word also carries its first ``spell`` characters' ids."""
        classes = sorted(set(ex.labels))
        if ex.kind == "numeric":
            return cls("numeric", [], classes, tokens, max_len, features=int(ex.items[0].shape[1]))
        split = list if tokens == "char" else str.split
        counts = Counter(t for s in ex.items for t in split(s))
        chars = sorted({c for t in counts for c in t}) if spell else []
        return cls("text", sorted(t for t, n in counts.items() if n >= min_count), classes, tokens, max_len,
                   chars=chars, spell=spell)

    def encode_item(self, item) -> Tensor:
        """(T,) token ids, (T, 1 + spell) [word id, character ids (0-padded)] for spelled words, or the
        (T, F) numbers, cut to ``max_len`` steps."""
        if self.kind == "numeric":
            if item.shape[1] != self.features:
                raise ValueError(f"expected {self.features} feature(s) per step, got {item.shape[1]}")
            x = item
        else:
            toks = list(item) if self.mode == "char" else item.split()
            toks = toks[: self.max_len] if self.max_len else toks
            x = torch.tensor([self.index.get(t, 1) for t in toks] or [1], dtype=torch.long)
            if self.spell:
                spelled = torch.zeros(len(x), 1 + self.spell, dtype=torch.long)
                spelled[:, 0] = x
                for k, t in enumerate(toks):
                    ids = [self.char_index.get(c, 1) for c in t[: self.spell]]
                    spelled[k, 1: 1 + len(ids)] = torch.tensor(ids)
                x = spelled if toks else spelled.index_fill_(1, torch.tensor([1]), 1)
        return x[: self.max_len] if self.max_len else x

    def encode(self, ex: Examples) -> tuple[list[Tensor], Tensor]:
        """Items as tensors and labels as class ids; a label training never saw is refused, naming its row."""
        for label, row in zip(ex.labels, ex.rows):
            if label not in self.class_index:
                raise ValueError(f"{row}: label {label!r} was never seen in training; expected one of "
                                 f"{self.classes}")
        return [self.encode_item(x) for x in ex.items], torch.tensor([self.class_index[y] for y in ex.labels])

    def to_json(self) -> dict:
        return {"kind": self.kind, "tokens": self.tokens, "classes": self.classes, "mode": self.mode,
                "max_len": self.max_len, "features": self.features, "chars": self.chars, "spell": self.spell}

    @classmethod
    def from_json(cls, d: dict) -> "Encoder":
        return cls(d["kind"], d["tokens"], d["classes"], d["mode"], d["max_len"], d["features"],
                   d.get("chars", []), d.get("spell", 0))


#: characters of a word that --char-hidden reads (longer words are cut)
SPELL = 20


def collate(items: list[Tensor]) -> tuple[Tensor, Tensor]:
    """Pad into (T, B), (T, B, 1 + spell) or (T, B, F), with the (B,) lengths."""
    return pad_sequence(items), torch.tensor([len(x) for x in items])


@torch.no_grad()
def predict_member_logits(model: nn.Module, items: list[Tensor], batch_size: int = 256) -> Tensor:
    """(M, N, n_classes) scores of encoded sequences by each of the model's M members (M = 1 for a single
    :class:`SequenceClassifier`), in input order (batches of similar length)."""
    device = next(model.parameters()).device
    logits = None
    for idx in length_batches([len(x) for x in items], batch_size):
        x, lengths = collate([items[i] for i in idx])
        z = model.member_logits(x.to(device), lengths).float().cpu()           # (M, b, C)
        if logits is None:
            logits = torch.empty(z.shape[0], len(items), z.shape[2])
        logits[:, idx] = z
    return logits if logits is not None else torch.empty(1, 0, model.n_classes)


def predict_logits(model: nn.Module, items: list[Tensor], batch_size: int = 256) -> Tensor:
    """(N, n_classes) scores of encoded sequences, in input order; for an ensemble, the log of the members'
    averaged probabilities."""
    z = predict_member_logits(model, items, batch_size)
    return z[0] if z.shape[0] == 1 else combine(z)


class ClassifyTask(TrainTask):
    """Reads the data (or generates the waves), builds the encoder from the training part and trains
    :class:`SequenceClassifier` on length-bucketed batches; evaluates accuracy and macro-F1.

    Example::

        >>> from lstmkit.tasks.classify import ClassifyConfig, ClassifyTask
        >>> task = ClassifyTask(ClassifyConfig())
        >>> task.encoder.classes, len(task.train_x), len(task.dev_x)
        (['sawtooth', 'sine', 'square', 'triangle'], 2000, 400)
    """

    unit = "sequences"
    monitor = "val_error"

    def __init__(self, config: ClassifyConfig, data: Optional[tuple[Examples, Examples]] = None) -> None:
        super().__init__(config)
        train, dev = data or load_examples(config)
        self.encoder = Encoder.build(train, config.tokens, config.min_count, config.max_len,
                                     SPELL if config.char_hidden else 0)
        self.train_x, self.train_y = self.encoder.encode(train)
        self.dev_x, self.dev_y = self.encoder.encode(dev)
        counts = torch.bincount(self.train_y, minlength=len(self.encoder.classes)).double()
        self.weights = (counts.sum() / (len(counts) * counts)).float() if config.class_weights else None
        self.sampler = BucketSampler([len(x) for x in self.train_x], config.batch_size, config.seed + 1)
        self.device = torch.device(config.device)
        digest = hashlib.sha256()
        for x, y in zip(self.train_x, self.train_y.tolist()):
            digest.update(x.numpy().tobytes() + str(y).encode())
        self.data_sha256 = digest.hexdigest()

    def build_model(self) -> nn.Module:
        enc = self.encoder
        if enc.kind == "text":
            return build_classifier(len(enc.classes), self.config, vocab_size=len(enc.tokens) + 2,
                                    n_chars=len(enc.chars) + 2 if enc.spell else 0)
        return build_classifier(len(enc.classes), self.config, features=enc.features)

    def train_step(self, model: nn.Module, step: int) -> tuple[Tensor, int]:
        idx = self.shard.take(self.sampler.next(), "batch of --batch-size sequences")   # this rank's part
        x, lengths = collate([self.train_x[i] for i in idx])
        y = self.train_y[idx].to(self.device)
        w = None if self.weights is None else self.weights.to(self.device)
        z = model.member_logits(x.to(self.device), lengths)                    # (M, B, C): each member's loss
        denominator = len(idx) if w is None else float(w[y].sum())            # what the (weighted) mean divides by
        return F.cross_entropy(z.flatten(0, 1), y.repeat(z.shape[0]), weight=w), len(idx), denominator

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        members = predict_member_logits(model, self.dev_x, self.config.eval_batch_size)
        logits = members[0] if members.shape[0] == 1 else combine(members)
        scores = label_scores(confusion(self.dev_y, logits.argmax(1), len(self.encoder.classes)),
                              self.encoder.classes)
        out = {"val_loss": round(F.cross_entropy(logits, self.dev_y).item(), 6),
               "val_acc": round(scores["accuracy"], 6), "val_macro_f1": round(scores["macro_f1"], 6),
               "val_error": round(1 - scores["accuracy"], 6)}
        if members.shape[0] > 1:                                                # what the averaging adds
            out["val_member_acc"] = round((members.argmax(2) == self.dev_y).float().mean().item(), 6)
        return out

    def metadata(self) -> dict:
        return {"encoder": self.encoder.to_json(), "data_sha256": self.data_sha256,
                "train_examples": len(self.train_x), "dev_examples": len(self.dev_x)}

    def state_dict(self) -> dict:
        return {"sampler": self.sampler.state_dict(), "data_sha256": self.data_sha256}

    def load_state_dict(self, state: dict) -> None:
        self.check_same_data(state, self.data_sha256)
        self.sampler.load_state_dict(state["sampler"])
