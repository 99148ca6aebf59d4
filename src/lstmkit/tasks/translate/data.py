"""Parallel text of ``lstmkit train translate``: the users' files of tab-separated pairs (the Tatoeba/Anki
export format) and a split of them that keeps identical sources together. :class:`Pairs` (from
:mod:`.pairs`) and the generated pairs (numbers written in words, dates written in several locales, from
:mod:`.generated`) are re-exported here: this module is the one to import.
"""

from __future__ import annotations

import os
import unicodedata
from typing import Optional, Union

import numpy as np

from .generated import DATE_FROM, DATE_TO, DEFAULT_LOCALES, date_formats, date_pairs, number_pairs, \
    number_writer, split_dates, split_numbers
from .pairs import Pairs, side_modes

__all__ = ["Pairs", "read_tsv_pairs", "split_pairs", "number_pairs", "number_writer", "split_numbers", "date_pairs",
           "split_dates", "date_formats", "DEFAULT_LOCALES", "DATE_FROM", "DATE_TO"]

_FORMAT = "source<TAB>target[<TAB>attribution...]"


def _parse_line(raw: bytes, path: object, lineno: int) -> Optional[tuple[str, str]]:
    """One line's (source, target), or None for a blank line."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}, line {lineno}: byte 0x{raw[e.start]:02x} at column {e.start + 1} is not UTF-8; "
                         f"expected a UTF-8 text file of {_FORMAT} lines") from None
    line = line.lstrip("\ufeff").rstrip("\r\n")
    if not line.strip():
        return None
    parts = line.split("\t")
    if len(parts) < 2:
        raise ValueError(f"{path}, line {lineno}: expected {_FORMAT}, got no tab in {line[:60]!r}")
    source, target = (unicodedata.normalize("NFC", p.strip().lstrip("\ufeff").strip()) for p in parts[:2])
    for side, text in (("source", source), ("target", target)):
        if not text:
            raise ValueError(f"{path}, line {lineno}: expected {_FORMAT} with text on both sides, got an empty "
                             f"{side} in {line[:60]!r}")
    return source, target


def read_tsv_pairs(path: Union[str, os.PathLike], max_length: Optional[int] = None, reverse: bool = False,
                   tokens: Union[str, tuple[str, str]] = "chars") -> Pairs:
    """Read a file of ``source<TAB>target[<TAB>attribution...]`` lines, the Tatoeba/Anki export format
    (``eng-fra.txt`` of PyTorch's seq2seq tutorial). Columns past the second are ignored.

    UTF-8; a byte-order mark, surrounding whitespace and blank lines are dropped; each side is NFC-normalised.
    ``reverse`` swaps the columns (the second becomes the source). ``max_length`` keeps the pairs with at most
    that many tokens on both sides, counted after ``reverse`` in ``tokens`` (``chars`` -- characters -- or
    ``words``, or a (source mode, target mode) pair, see :func:`.vocab.tokenize`); None or 0 keeps all.
    Errors name the file and the line: a line without a tab, an empty side, bytes that are not UTF-8, a file
    without pairs.

    Example::

        >>> import pathlib, tempfile
        >>> from lstmkit.tasks.translate.data import read_tsv_pairs
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "eng-fra.txt"
        >>> _ = path.write_text("Go.\\tVa !\\tCC-BY 2.0 (France) tatoeba.org #2877272\\n\\nI see.\\tJe comprends.\\n")
        >>> read_tsv_pairs(path, reverse=True)
        Pairs(sources=['Va !', 'Je comprends.'], targets=['Go.', 'I see.'])
        >>> read_tsv_pairs(path, max_length=2, tokens="words").sources
        ['Go.']
        >>> _ = path.write_text("Go.\\tVa !\\nI see. Je comprends.\\n")
        >>> read_tsv_pairs(path)
        Traceback (most recent call last):
        ...
        ValueError: .../eng-fra.txt, line 2: expected source<TAB>target[<TAB>attribution...], got no tab in ...
    """
    if max_length is not None and max_length < 0:
        raise ValueError(f"max_length must be >= 0 (0 or None: keep all), got {max_length}")
    sources, targets = [], []
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            pair = _parse_line(raw, path, lineno)
            if pair is not None:
                sources.append(pair[0])
                targets.append(pair[1])
    if not sources:
        raise ValueError(f"{path} holds no pairs; expected lines of {_FORMAT}")
    pairs = Pairs(targets, sources) if reverse else Pairs(sources, targets)
    if max_length:
        kept = pairs.filter_length(max_length, tokens)
        if not len(kept):
            raise ValueError(f"{path}: none of its {len(pairs)} pairs has at most {max_length} tokens "
                             f"({side_modes(tokens)}) on both sides; expected a larger max_length")
        pairs = kept
    return pairs


def _held_size(x: Union[int, float], n: int, name: str) -> int:
    """A held-out size: a fraction of ``n`` (float in [0, 1), at least one pair when > 0) or a count (int)."""
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a fraction in [0, 1) or a count of pairs, got {x!r}")
    if isinstance(x, (float, np.floating)):
        if not 0 <= x < 1:
            raise ValueError(f"{name} must be a fraction in [0, 1) (or an int count of pairs), got {x}")
        return max(1, round(float(x) * n)) if x > 0 else 0
    if x < 0:
        raise ValueError(f"{name} must be >= 0, got {x}")
    return int(x)


def split_pairs(pairs: Pairs, val_fraction: Union[float, int], test_fraction: Union[float, int],
                seed: int = 0) -> dict[str, Pairs]:
    """``{"train", "val", "test"}``: a seeded random split in which all pairs with the same source sentence
    fall in the same part (so a held-out sentence is never trained on under another translation).

    ``val_fraction`` and ``test_fraction`` are fractions of the pairs in [0, 1) (at least one pair when
    positive) or, given as ints, counts of pairs. Whole groups are drawn until a part holds at least that
    many pairs, so a part may exceed its size by less than the largest group. Test is drawn first, so the
    test part does not change with ``val_fraction``. Each part keeps the pairs' original order.

    Example::

        >>> from lstmkit.tasks.translate.data import Pairs, split_pairs
        >>> p = Pairs(["a", "b", "a", "c", "d", "e"], ["1", "2", "3", "4", "5", "6"])
        >>> parts = split_pairs(p, 1, 0.2, seed=1)
        >>> {k: v.sources for k, v in parts.items()}
        {'train': ['b', 'c', 'd'], 'val': ['a', 'a'], 'test': ['e']}
        >>> sorted(set(parts["train"].sources) & set(parts["test"].sources + parts["val"].sources))
        []
    """
    n = len(pairs)
    n_val, n_test = _held_size(val_fraction, n, "val_fraction"), _held_size(test_fraction, n, "test_fraction")
    groups: dict[str, list[int]] = {}
    for i, s in enumerate(pairs.sources):
        groups.setdefault(s, []).append(i)
    members = list(groups.values())
    order = [members[g] for g in np.random.default_rng(seed).permutation(len(members))]
    parts: dict[str, list[int]] = {"test": [], "val": []}
    g = 0
    for name, want in (("test", n_test), ("val", n_val)):
        while len(parts[name]) < want and g < len(order):
            parts[name] += order[g]
            g += 1
    train = [i for grp in order[g:] for i in grp]
    if not train or len(parts["test"]) < n_test or len(parts["val"]) < n_val:
        raise ValueError(f"holding out {n_val} validation and {n_test} test pairs leaves no training pairs: "
                         f"{n} pairs in {len(groups)} groups of identical sources; expected smaller held-out "
                         f"sizes or more pairs")
    return {"train": pairs.subset(sorted(train)), "val": pairs.subset(sorted(parts["val"])),
            "test": pairs.subset(sorted(parts["test"]))}
