"""One data set of parallel text: :class:`Pairs` (sources and their translations) and its helpers."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable, Iterator, Union

from ...train.atomic import write_text
from .vocab import tokenize

__all__ = ["Pairs"]


def side_modes(tokens: Union[str, tuple[str, str]]) -> tuple[str, str]:
    """(source mode, target mode) of ``tokens``: one mode for both sides, or a pair."""
    return (tokens, tokens) if isinstance(tokens, str) else tuple(tokens)


@dataclass
class Pairs:
    """Sentences and their translations, ``sources[i]`` -> ``targets[i]``.

    Example::

        >>> import pathlib, tempfile
        >>> from lstmkit.tasks.translate.pairs import Pairs
        >>> from lstmkit.tasks.translate.data import read_tsv_pairs
        >>> p = Pairs(["Go.", "Hi.", "Go."], ["Va !", "Salut toi !", "Va !"])
        >>> len(p), p[1], p.dedupe().sources, p.subset([2, 0]).targets
        (3, ('Hi.', 'Salut toi !'), ['Go.', 'Hi.'], ['Va !', 'Va !'])
        >>> p.lengths("words"), p.filter_length(2, "words").sources
        (([2, 2, 2], [2, 3, 2]), ['Go.', 'Go.'])
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "pairs.tsv"
        >>> p.to_tsv(path); read_tsv_pairs(path) == p
        True
    """

    sources: list[str]
    targets: list[str]

    def __post_init__(self) -> None:
        self.sources, self.targets = list(self.sources), list(self.targets)
        if len(self.sources) != len(self.targets):
            raise ValueError(f"sources and targets must have the same length, got {len(self.sources)} sources "
                             f"and {len(self.targets)} targets")

    def __len__(self) -> int:
        return len(self.sources)

    def __getitem__(self, i: int) -> tuple[str, str]:
        return self.sources[i], self.targets[i]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return zip(self.sources, self.targets)

    def subset(self, indices: Iterable[int]) -> "Pairs":
        """The pairs at ``indices``, in that order."""
        idx = [int(i) for i in indices]
        return Pairs([self.sources[i] for i in idx], [self.targets[i] for i in idx])

    def swapped(self) -> "Pairs":
        """Targets become sources and sources targets."""
        return Pairs(self.targets, self.sources)

    def dedupe(self) -> "Pairs":
        """The first of each identical (source, target) pair, in order."""
        first = dict.fromkeys(zip(self.sources, self.targets))
        return Pairs([s for s, _ in first], [t for _, t in first])

    def lengths(self, tokens: Union[str, tuple[str, str]] = "chars") -> tuple[list[int], list[int]]:
        """(source lengths, target lengths) in tokens of a mode (``chars``, ``words``) or a (source mode,
        target mode) pair."""
        ms, mt = side_modes(tokens)
        return [len(tokenize(s, ms)) for s in self.sources], [len(tokenize(t, mt)) for t in self.targets]

    def filter_length(self, max_length: int, tokens: Union[str, tuple[str, str]] = "chars") -> "Pairs":
        """The pairs with at most ``max_length`` tokens (see :meth:`lengths`) on both sides, in order."""
        if max_length < 1:
            raise ValueError(f"max_length must be >= 1, got {max_length}")
        ls, lt = self.lengths(tokens)
        return self.subset(i for i in range(len(self)) if ls[i] <= max_length and lt[i] <= max_length)

    def to_tsv(self, path: Union[str, os.PathLike]) -> None:
        """Write ``source<TAB>target`` lines (UTF-8), atomically: a crash never leaves half a file."""
        for i, (s, t) in enumerate(self):
            for side, text in (("source", s), ("target", t)):
                bad = [c for c in "\t\r\n" if c in text]
                if bad or not text.strip():
                    got = f"a {bad[0]!r}" if bad else "an empty text"
                    raise ValueError(f"cannot write pair {i} to {path}: its {side} holds {got}; expected one line "
                                     f"of text without tabs per side")
        write_text(path, "".join(f"{s}\t{t}\n" for s, t in self))
