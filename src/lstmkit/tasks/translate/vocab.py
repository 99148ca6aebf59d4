"""Tokens and vocabularies of ``lstmkit train translate``: characters or words, four reserved ids, padding.

Two tokenisations (``mode``):

* ``chars``: every character is a token, spaces included; :func:`detokenize` inverts it exactly.
* ``words``: whitespace separates words; every punctuation mark or symbol is a token of its own, hyphens
  and apostrophes included (``quatre-vingt-dix-sept`` is seven tokens); a number written with ``.``, ``,``
  or ``:`` between digits (``3.5``, ``1,000``, ``12:30``) stays one token. Letters carry their combining
  marks (Devanagari vowel signs, decomposed accents). :func:`detokenize` rebuilds the spacing by rule: no
  space before closing punctuation (``, . ! ? ; : % ) ] } » …``), none after opening marks
  (``( [ { « ¿ ¡ “ „ ‘``), none around joiners (``- ‐ / ' ’``), straight double quotes alternate between
  opening and closing. That round-trips the generated numbers and dates and ordinary English, German,
  Spanish or Italian sentences. It does not round-trip: runs of several spaces or other whitespace (they
  come back as one space), French spacing before ``! ? : ;`` and inside ``« »`` (``Va !`` comes back as
  ``Va!``), spaced hyphens or slashes (``5 - 3`` comes back as ``5-3``), a quote made of apostrophes
  (``'hi'``), and scripts written without spaces (Japanese, Chinese: use ``chars``).
  :func:`normalize` gives the text the model can at best write.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from collections import Counter
from typing import Iterable, Optional, Sequence

import torch

__all__ = ["MODES", "SPECIALS", "PAD", "BOS", "EOS", "UNK", "tokenize", "detokenize", "normalize", "Vocab",
           "pad_batch"]

MODES = ("chars", "words")
#: the reserved tokens, at ids 0-3
SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")
PAD, BOS, EOS, UNK = 0, 1, 2, 3

_NO_SPACE_BEFORE = set(",.!?;:%)]}»…”")
_NO_SPACE_AFTER = set("([{«¿¡“„‘")
_JOINERS = set("-‐/'’")


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")


@functools.lru_cache(maxsize=1)
def _word_pattern() -> re.Pattern:
    """Numbers with inner separators | letters/digits with their combining marks | any other symbol."""
    marks = "".join(f"\\U{c:08x}" for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c))[0] == "M")
    return re.compile(rf"\d+(?:[.,:]\d+)+|(?:\w|[{marks}])+|\S")


def tokenize(text: str, mode: str) -> list[str]:
    """The tokens of ``text``: its characters (``chars``) or its words and punctuation (``words``).

    Example::

        >>> from lstmkit.tasks.translate.vocab import tokenize
        >>> tokenize("97 ans", "chars")
        ['9', '7', ' ', 'a', 'n', 's']
        >>> tokenize("quatre-vingt-dix-sept", "words")
        ['quatre', '-', 'vingt', '-', 'dix', '-', 'sept']
        >>> tokenize("I don't know, it's 3.5 km!", "words")
        ['I', 'don', "'", 't', 'know', ',', 'it', "'", 's', '3.5', 'km', '!']
    """
    _check_mode(mode)
    if mode == "chars":
        return list(text)
    return _word_pattern().findall(text)


def detokenize(tokens: Iterable[str], mode: str) -> str:
    """The text of ``tokens``: joined (``chars``), or joined with spaces by the rules of the module
    docstring (``words``).

    Example::

        >>> from lstmkit.tasks.translate.vocab import detokenize, tokenize
        >>> detokenize(['quatre', '-', 'vingt', '-', 'dix', '-', 'sept'], "words")
        'quatre-vingt-dix-sept'
        >>> s = 'He said "no" (twice), didn\\'t he? ¿Qué?'
        >>> detokenize(tokenize(s, "words"), "words") == s
        True
    """
    _check_mode(mode)
    if mode == "chars":
        return "".join(tokens)
    out: list[str] = []
    glue = True                                  # no space before the next token
    quote_open = False
    for tok in tokens:
        if tok == '"':
            before, after = quote_open, not quote_open          # a closing quote hugs the word before it
            quote_open = not quote_open
        else:
            before = tok in _NO_SPACE_BEFORE or tok in _JOINERS
            after = tok in _NO_SPACE_AFTER or tok in _JOINERS
        if out and not glue and not before:
            out.append(" ")
        out.append(tok)
        glue = after
    return "".join(out)


def normalize(text: str, mode: str) -> str:
    """``detokenize(tokenize(text, mode), mode)``: the text as the model can write it (the same text for
    ``chars``, and for ``words`` whenever the text round-trips).

    Example::

        >>> from lstmkit.tasks.translate.vocab import normalize
        >>> normalize("Va  !", "words"), normalize("Va  !", "chars")
        ('Va!', 'Va  !')
    """
    return detokenize(tokenize(text, mode), mode)


class Vocab:
    """Token <-> id: the reserved ``<pad>`` = 0, ``<bos>`` = 1, ``<eos>`` = 2, ``<unk>`` = 3, then the
    tokens. A token outside the vocabulary encodes as ``<unk>``.

    Example::

        >>> from lstmkit.tasks.translate.vocab import Vocab
        >>> v = Vocab.build([["d", "i", "x"], ["s", "i", "x"]])
        >>> len(v), v.tokens[4:]
        (8, ['i', 'x', 'd', 's'])
        >>> v.encode(["s", "i", "z"]), v.encode(["d", "i", "x"], bos=True, eos=False)
        ([7, 4, 3, 2], [1, 6, 4, 5])
        >>> v.decode([1, 7, 4, 5, 2, 0, 0]), v.decode([6, 3])
        (['s', 'i', 'x'], ['d', '<unk>'])
        >>> Vocab.from_json(v.to_json()) == v
        True
    """

    def __init__(self, tokens: Iterable[str]) -> None:
        tokens = list(tokens)
        seen: set[str] = set(SPECIALS)
        for t in tokens:
            if not isinstance(t, str) or t in seen:
                what = ("a reserved token" if t in SPECIALS else "a duplicate" if isinstance(t, str)
                        else type(t).__name__)
                raise ValueError(f"vocabulary tokens must be distinct strings other than {SPECIALS}, got {t!r} "
                                 f"({what})")
            seen.add(t)
        self.tokens: list[str] = list(SPECIALS) + tokens
        self.index = {t: i for i, t in enumerate(self.tokens)}

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], min_count: int = 1,
              max_size: Optional[int] = None) -> "Vocab":
        """The tokens seen at least ``min_count`` times, most frequent first (ties: in string order), at most
        ``max_size`` of them besides the four reserved ones. Reserved names in the data are not counted."""
        if min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {min_count}")
        if max_size is not None and max_size < 0:
            raise ValueError(f"max_size must be >= 0 or None, got {max_size}")
        counts = Counter(t for tokens in token_lists for t in tokens)
        for s in SPECIALS:
            counts.pop(s, None)
        kept = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
        return cls(kept if max_size is None else kept[:max_size])

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self.index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.tokens == other.tokens

    def __repr__(self) -> str:
        return f"Vocab({len(self)} tokens: {self.tokens[4:12]}{' ...' if len(self) > 12 else ''})"

    def encode(self, tokens: Iterable[str], bos: bool = False, eos: bool = True) -> list[int]:
        """Ids of ``tokens`` (``<unk>`` for unknown ones), after ``<bos>`` and before ``<eos>`` if asked."""
        get = self.index.get
        ids = [get(t, UNK) for t in tokens]
        return ([BOS] if bos else []) + ids + ([EOS] if eos else [])

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens of ``ids`` up to the first ``<eos>``, skipping ``<pad>`` and ``<bos>``; ``<unk>`` stays."""
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self.tokens):
                raise ValueError(f"token id must be in [0, {len(self.tokens)}) (the vocabulary's size), got {i}")
            if i == EOS:
                break
            if i not in (PAD, BOS):
                out.append(self.tokens[i])
        return out

    def unknown(self, tokens: Iterable[str]) -> list[str]:
        """The distinct tokens outside the vocabulary, in order of appearance."""
        return list(dict.fromkeys(t for t in tokens if t not in self.index))

    def to_json(self) -> dict:
        """A plain dict for checkpoint metadata: ``{"specials": [...], "tokens": [...]}``."""
        return {"specials": list(SPECIALS), "tokens": self.tokens[len(SPECIALS):]}

    @classmethod
    def from_json(cls, data: dict) -> "Vocab":
        if not isinstance(data, dict) or "tokens" not in data:
            raise ValueError(f"a vocabulary must be a dict with 'tokens' (Vocab.to_json()), got {type(data).__name__}")
        specials = tuple(data.get("specials", SPECIALS))
        if specials != SPECIALS:
            raise ValueError(f"vocabulary specials must be {list(SPECIALS)}, got {list(specials)}")
        return cls(data["tokens"])


def pad_batch(seqs: Sequence[Sequence[int]], pad: int = PAD) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch-first padding: ``(ids (B, T) int64, lengths (B,) int64)``, T the longest sequence.

    Example::

        >>> from lstmkit.tasks.translate.vocab import pad_batch
        >>> ids, lengths = pad_batch([[5, 6, 2], [7, 2]])
        >>> ids.tolist(), lengths.tolist()
        ([[5, 6, 2], [7, 2, 0]], [3, 2])
    """
    if len(seqs) == 0:
        raise ValueError("pad_batch needs at least one sequence, got 0")
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)        # (B,)
    out = torch.full((len(seqs), int(lengths.max())), pad, dtype=torch.long)  # (B, T)
    for b, s in enumerate(seqs):
        if len(s):
            out[b, :len(s)] = torch.as_tensor(list(s), dtype=torch.long)
    return out, lengths
