"""The character vocabulary and its policy for characters it has not seen."""

from __future__ import annotations

from typing import Iterable

import torch

__all__ = ["Vocab", "UNK"]

#: the reserved symbol (id 0) that stands for every character the training text lacks
UNK = "\ufffd"


class Vocab:
    """Characters of the training text, sorted, after a reserved ``<unk>`` at id 0.

    Policy for unseen characters: when reading (validation text, ``--prime --unknown replace``) they map
    to ``<unk>`` (id 0), which the model learns to predict almost never; the sampler never writes it;
    :meth:`unknown` lists them so ``lstmkit sample`` can refuse a ``--prime`` that holds them.

    Example::

        >>> from lstmkit.tasks.charlm.vocab import Vocab
        >>> v = Vocab.from_text("hello world")
        >>> len(v), v.encode("hold").tolist(), v.decode([4, 3, 5, 5, 6])
        (9, [4, 6, 5, 2], 'hello')
        >>> v.unknown("hi!"), v.encode("hi!").tolist()
        (['i', '!'], [4, 0, 0])
    """

    def __init__(self, chars: Iterable[str]) -> None:
        chars = list(chars)
        if UNK in chars:
            chars.remove(UNK)
        self.chars = [UNK] + chars
        self.index = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> "Vocab":
        return cls(sorted(set(text)))

    def __len__(self) -> int:
        return len(self.chars)

    def unknown(self, text: str) -> list[str]:
        """The distinct characters of ``text`` outside the vocabulary, in order of appearance."""
        return list(dict.fromkeys(c for c in text if c not in self.index))

    def encode(self, text: str) -> torch.Tensor:
        """(len(text),) int64 ids; unseen characters become 0 (``<unk>``)."""
        get = self.index.get
        return torch.tensor([get(c, 0) for c in text], dtype=torch.long)

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.chars[int(i)] for i in ids)

    def to_json(self) -> list[str]:
        return self.chars[1:]

    @classmethod
    def from_json(cls, chars: list[str]) -> "Vocab":
        return cls(chars)
