"""A translate run's data: the train/val/test pairs the config names, tokenised, with their vocabularies,
encoded once; batches are drawn from the encoded ids."""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor

from .config import TranslateConfig
from .data import (Pairs, date_pairs, number_pairs, number_writer, read_tsv_pairs, split_dates, split_numbers,
                   split_pairs)
from .vocab import Vocab, detokenize, pad_batch, tokenize

__all__ = ["Corpus", "Encoded", "WrittenWhenDrawn", "build_corpus", "bleu_tokenizer"]


class Encoded:
    """A split's pairs as id lists: ``encoded[i] = (source ids, target ids ending in eos)``."""

    def __init__(self, sources: list[list[int]], targets: list[list[int]]) -> None:
        self.sources, self.targets = sources, targets

    def __len__(self) -> int:
        return len(self.sources)

    def __getitem__(self, i: int) -> tuple[list[int], list[int]]:
        return self.sources[i], self.targets[i]


class WrittenWhenDrawn:
    """The training numbers, written out in words (and encoded) when drawn: writing all of 0..999,999 up front
    would take most of a minute before the first step. The pairs of the last few batches are kept (a batch
    reads each pair twice: sources, then targets), not all of them."""

    def __init__(self, numbers, source_lang: str, target_lang: str, corpus: "Corpus") -> None:
        largest = int(max(abs(int(n)) for n in numbers))
        self.numbers = numbers
        self.write = (number_writer(source_lang, largest), number_writer(target_lang, largest))
        self.corpus = corpus
        self.pair = functools.lru_cache(maxsize=4096)(self._pair)

    def _pair(self, i: int) -> tuple[list[int], list[int]]:
        n = int(self.numbers[i])
        return self.corpus.encode_pair(self.write[0](n), self.write[1](n))

    def __len__(self) -> int:
        return len(self.numbers)

    def __getitem__(self, i: int) -> tuple[list[int], list[int]]:
        return self.pair(i)


@dataclass
class Corpus:
    """Pairs per split (``train``, ``val``, ``test``), the vocabularies (built on the training pairs), the
    encoded ids (``ids[split][i] = (source ids, target ids ending in eos)``) and the token modes."""

    pairs: dict[str, Pairs]
    source_vocab: Vocab
    target_vocab: Vocab
    modes: tuple[str, str]
    ids: dict[str, object]
    max_target_len: int

    @classmethod
    def from_pairs(cls, pairs: dict[str, Pairs], modes: tuple[str, str], min_count: int = 1,
                   vocab_from: Optional[Pairs] = None) -> "Corpus":
        """Encode every split of ``pairs``; the vocabularies come from ``pairs["train"]`` (or ``vocab_from``)."""
        basis = vocab_from if vocab_from is not None else pairs["train"]
        source_vocab = Vocab.build([tokenize(s, modes[0]) for s in basis.sources], min_count=min_count)
        target_vocab = Vocab.build([tokenize(t, modes[1]) for t in basis.targets], min_count=min_count)
        corpus = cls(pairs, source_vocab, target_vocab, modes, {}, 0)
        for k, p in pairs.items():
            encoded = [corpus.encode_pair(s, t) for s, t in zip(p.sources, p.targets)]
            corpus.ids[k] = Encoded([e[0] for e in encoded], [e[1] for e in encoded])
        longest = max((len(t) for t in basis.targets), default=1) if modes[1] == "chars" else \
            max((len(tokenize(t, modes[1])) for t in basis.targets), default=1)
        corpus.max_target_len = 2 * longest + 10
        return corpus

    def encode_pair(self, source: str, target: str) -> tuple[list[int], list[int]]:
        return (self.source_vocab.encode(tokenize(source, self.modes[0]), eos=False),
                self.target_vocab.encode(tokenize(target, self.modes[1]), eos=True))

    def size(self, split: str) -> int:
        return len(self.ids[split])

    def sources(self, split: str, idx: list[int], device: torch.device | str = "cpu") -> tuple[Tensor, Tensor]:
        """The encoder's inputs ``(src (B, S), lengths (B,))`` of pairs ``idx`` of ``split``."""
        ids, lengths = pad_batch([self.ids[split][i][0] for i in idx])
        return ids.to(device), lengths

    def targets(self, split: str, idx: list[int], device: torch.device | str = "cpu") -> Tensor:
        """Target ids ``(B, T)``, each ending in eos, padded with 0."""
        return pad_batch([self.ids[split][i][1] for i in idx])[0].to(device)

    def target_text(self, ids: list[int]) -> str:
        return detokenize(self.target_vocab.decode(ids), self.modes[1])

    def bleu_tokenize(self) -> str:
        """sacrebleu's tokenizer for the targets: ``char`` for character-level targets (compounds, ISO
        dates score by characters), else the standard ``13a``."""
        return bleu_tokenizer(self.modes[1])

    def metadata(self) -> dict:
        return {"source_vocab": self.source_vocab.to_json(), "target_vocab": self.target_vocab.to_json(),
                "modes": list(self.modes), "max_target_len": self.max_target_len}


def bleu_tokenizer(target_mode: str) -> str:
    """``char`` for character-level targets, else sacrebleu's standard ``13a``."""
    return "char" if target_mode == "chars" else "13a"


#: training numbers the vocabularies are built from (all words and characters of numbers appear in them)
VOCAB_SAMPLE = 20_000


def _numbers(cfg: TranslateConfig) -> Corpus:
    parts = split_numbers(cfg.max_number, cfg.val_size, cfg.test_size, seed=cfg.seed)
    held = {k: number_pairs(v, cfg.target_lang, source_lang=cfg.source_lang) for k, v in parts.items() if k != "train"}
    train = parts["train"]
    sample = [n for n in range(min(1000, cfg.max_number + 1))] + [int(n) for n in train[:VOCAB_SAMPLE]]
    sample += [10 ** k * m for k in range(3, 13) for m in (1, 2) if 10 ** k * m <= cfg.max_number]
    basis = number_pairs(sample, cfg.target_lang, source_lang=cfg.source_lang)
    corpus = Corpus.from_pairs(held, cfg.tokens(), vocab_from=basis)
    corpus.ids["train"] = WrittenWhenDrawn(train, cfg.source_lang, cfg.target_lang, corpus)
    return corpus


def _dates(cfg: TranslateConfig) -> dict[str, Pairs]:
    try:
        start, end = datetime.date.fromisoformat(cfg.date_from), datetime.date.fromisoformat(cfg.date_to)
    except ValueError as e:
        raise ValueError(f"date_from and date_to must be ISO dates like 1950-01-01, got {cfg.date_from!r}, "
                         f"{cfg.date_to!r} ({e})") from None
    locales = [loc.strip() for loc in cfg.locales.split(",") if loc.strip()]
    parts = split_dates(start, end, cfg.val_size, cfg.test_size, seed=cfg.seed)
    return {k: date_pairs(v, locales, seed=cfg.seed + i) for i, (k, v) in enumerate(parts.items())}


def _from_files(cfg: TranslateConfig) -> dict[str, Pairs]:
    limit, tokens = cfg.max_length or None, cfg.tokens()
    pairs = read_tsv_pairs(cfg.data, max_length=limit, reverse=cfg.reverse, tokens=tokens)
    dev = read_tsv_pairs(cfg.dev, max_length=limit, reverse=cfg.reverse, tokens=tokens) if cfg.dev else None
    test = read_tsv_pairs(cfg.test, max_length=limit, reverse=cfg.reverse, tokens=tokens) if cfg.test else None
    n = len(pairs)
    held = (0 if dev else cfg.val_size) + (0 if test else cfg.test_size)
    if n - held < 1:
        raise ValueError(f"{cfg.data}: {n} pairs leave none for training after holding out {held} "
                         f"(val_size {cfg.val_size}, test_size {cfg.test_size}); expected more pairs, or "
                         f"--dev/--test files, or smaller --val-size/--test-size")
    parts = split_pairs(pairs, 0 if dev else cfg.val_size / n, 0 if test else cfg.test_size / n, seed=cfg.seed)
    if dev:
        parts["val"] = dev
    if test:
        parts["test"] = test
    return parts


def build_corpus(cfg: TranslateConfig) -> Corpus:
    """The pairs the config names (generated, or read from its files), tokenised and encoded."""
    if cfg.kind() == "numbers":
        return _numbers(cfg)
    pairs = _dates(cfg) if cfg.kind() == "dates" else _from_files(cfg)
    if not len(pairs["val"]):
        raise ValueError("no validation pairs: expected --val-size >= 1 or a non-empty --dev file")
    return Corpus.from_pairs(pairs, cfg.tokens(), min_count=cfg.min_count)
