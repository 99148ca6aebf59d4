"""The tagger's vocabularies: words (with counts, for the embedding and word dropout), characters, tags."""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

import torch

__all__ = ["TaggerVocab", "PAD", "UNK"]

PAD, UNK = "<pad>", "<unk>"


class TaggerVocab:
    """Word, character and tag indices built from the training sentences.

    Unknown-symbol policy: a word seen fewer than ``min_count`` times in training, or never, reads the
    ``<unk>`` word embedding, and its characters (unseen ones as the ``<unk>`` character) go through the
    character encoder, so every word gets a representation. Tags are closed: a tag the training data lacks
    cannot be predicted, and evaluation refuses gold tags outside :attr:`tags` (naming file and line).

    Example::

        >>> from lstmkit.tasks.tagger.vocab import TaggerVocab
        >>> v = TaggerVocab.build([["The", "dog"], ["the", "cat"]], [["DET", "NN"], ["DET", "NN"]], min_count=2)
        >>> v.words, v.tags, v.word_ids(["the", "Cat"]).tolist()
        (['<pad>', '<unk>', 'the'], ['DET', 'NN'], [2, 1])
        >>> v.char_ids("Cat?").tolist()
        [1, 3, 10, 1]
    """

    def __init__(self, words: Sequence[str], chars: Sequence[str], tags: Sequence[str],
                 counts: Sequence[int], lowercase: bool = True) -> None:
        self.words, self.chars, self.tags = list(words), list(chars), list(tags)
        self.counts = list(counts)                                    # training count of each word id
        self.lowercase = lowercase
        self.word_index = {w: i for i, w in enumerate(self.words)}
        self.char_index = {c: i for i, c in enumerate(self.chars)}
        self.tag_index = {t: i for i, t in enumerate(self.tags)}

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], tags: Iterable[Sequence[str]], min_count: int = 1,
              lowercase: bool = True) -> "TaggerVocab":
        sentences = [list(s) for s in sentences]
        norm = (lambda w: w.lower()) if lowercase else (lambda w: w)
        counts = Counter(norm(w) for s in sentences for w in s)
        kept = sorted(w for w, n in counts.items() if n >= min_count)
        chars = sorted({c for s in sentences for w in s for c in w})
        tag_set = sorted({t for ts in tags for t in ts})
        return cls([PAD, UNK] + kept, [PAD, UNK] + chars, tag_set, [0, 0] + [counts[w] for w in kept], lowercase)

    def norm(self, word: str) -> str:
        return word.lower() if self.lowercase else word

    def word_ids(self, words: Sequence[str]) -> torch.Tensor:
        """(len(words),) ids; rare and unseen words are ``<unk>`` (1)."""
        get = self.word_index.get
        return torch.tensor([get(self.norm(w), 1) for w in words], dtype=torch.long)

    def char_ids(self, word: str) -> torch.Tensor:
        """(len(word),) ids; unseen characters are ``<unk>`` (1)."""
        get = self.char_index.get
        return torch.tensor([get(c, 1) for c in word], dtype=torch.long)

    def tag_ids(self, tags: Sequence[str]) -> torch.Tensor:
        """(len(tags),) ids; raises KeyError on a tag outside :attr:`tags` (callers name file and line)."""
        return torch.tensor([self.tag_index[t] for t in tags], dtype=torch.long)

    def to_json(self) -> dict:
        return {"words": self.words, "chars": self.chars, "tags": self.tags, "counts": self.counts,
                "lowercase": self.lowercase}

    @classmethod
    def from_json(cls, data: dict) -> "TaggerVocab":
        return cls(data["words"], data["chars"], data["tags"], data["counts"], data["lowercase"])
