"""Reading CoNLL-U (Universal Dependencies) files: sentences of words with their columns.

The `conllu <https://pypi.org/project/conllu/>`_ package parses each sentence (metadata comments, token
IDs, columns); this module splits the file into sentences while counting lines, so that every error names
the file and the line, and checks what a tagger relies on (10 tab-separated columns, a non-empty tag).
Multiword-token lines (``3-4``) and empty nodes (``8.1``) are skipped: tags belong to the syntactic words.
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass, field
from typing import Iterator

import conllu
from conllu.exceptions import ParseException

__all__ = ["Sentence", "ConlluError", "read_conllu", "parse_conllu", "COLUMNS"]

#: the ten CoNLL-U columns, in file order
COLUMNS = ("id", "form", "lemma", "upos", "xpos", "feats", "head", "deprel", "deps", "misc")


class ConlluError(ValueError):
    """A CoNLL-U file that cannot be read; the message starts with ``FILE:LINE:``."""


@dataclass
class Sentence:
    """One sentence: its words, the raw text of every column per word, and its ``# key = value`` comments.

    Example::

        >>> from lstmkit.tasks.tagger.conllu_io import Sentence
        >>> s = Sentence(["Dogs", "bark"], {"upos": ["NOUN", "VERB"]}, {"sent_id": "s1"})
        >>> s.column("upos"), len(s)
        (['NOUN', 'VERB'], 2)
    """

    words: list[str]
    columns: dict[str, list[str]] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)
    line: int = 0                                  #: line number of the sentence's first line in its file
    lines: list[int] = field(default_factory=list)  #: line number of each word

    def __len__(self) -> int:
        return len(self.words)

    def column(self, name: str) -> list[str]:
        if name not in self.columns:
            raise KeyError(f"column {name!r} is not read; expected one of {sorted(self.columns)}")
        return self.columns[name]


def _blocks(lines: list[str]) -> Iterator[tuple[int, list[str]]]:
    """(first line number, lines) of each blank-line separated block."""
    start, block = 0, []
    for i, line in enumerate(lines, 1):
        if line.strip():
            if not block:
                start = i
            block.append(line)
        elif block:
            yield start, block
            block = []
    if block:
        yield start, block


def _sentence(where: str, start: int, block: list[str], tag_columns: tuple[str, ...]) -> Sentence | None:
    for offset, line in enumerate(block):
        if line.startswith("#"):
            continue
        cells = line.split("\t")
        if len(cells) != 10:
            raise ConlluError(f"{where}:{start + offset}: expected 10 tab-separated columns, got {len(cells)}: "
                              f"{line[:80]!r}")
    try:
        tokens = conllu.parse_token_and_metadata("\n".join(block))
    except ParseException as e:
        bad = next((start + k for k, line in enumerate(block) if not line.startswith("#")
                    and _bad_line(line)), start)
        raise ConlluError(f"{where}:{bad}: not valid CoNLL-U ({e})") from None
    rows = [line for line in block if not line.startswith("#")]
    offsets = [k for k, ln in enumerate(block) if not ln.startswith("#")]
    words, lines, columns = [], [], {c: [] for c in tag_columns}
    for token, line, offset in zip(tokens, rows, offsets):
        if not isinstance(token["id"], int):                              # 3-4 multiword token, 8.1 empty node
            continue
        cells = line.split("\t")
        for c in tag_columns:
            columns[c].append(cells[COLUMNS.index(c)])
        words.append(cells[1])
        lines.append(start + offset)
    if not words:
        return None
    meta = {k: str(v) for k, v in tokens.metadata.items()}
    return Sentence(words, columns, meta, start, lines)


def _bad_line(line: str) -> bool:
    try:
        conllu.parse_token_and_metadata(line)
        return False
    except ParseException:
        return True


def parse_conllu(text: str, where: str = "<text>", columns: tuple[str, ...] = ("upos", "xpos")) -> list[Sentence]:
    """Sentences of CoNLL-U ``text``; ``where`` names it in errors; ``columns`` are the columns kept.

    Example::

        >>> from lstmkit.tasks.tagger.conllu_io import parse_conllu
        >>> text = "# sent_id = a-1\\n1\\tDogs\\tdog\\tNOUN\\tNNS\\t_\\t2\\tnsubj\\t_\\t_\\n" \\
        ...        "2\\tbark\\tbark\\tVERB\\tVBP\\t_\\t0\\troot\\t_\\t_\\n\\n"
        >>> [(s.words, s.column("upos"), s.meta["sent_id"]) for s in parse_conllu(text)]
        [(['Dogs', 'bark'], ['NOUN', 'VERB'], 'a-1')]
        >>> parse_conllu("1\\tDogs\\tdog\\tNOUN\\n", where="bad.conllu")
        Traceback (most recent call last):
        ...
        lstmkit.tasks.tagger.conllu_io.ConlluError: bad.conllu:1: expected 10 tab-separated columns, got 4: ...
    """
    unknown = [c for c in columns if c not in COLUMNS]
    if unknown:
        raise ValueError(f"unknown CoNLL-U column(s) {unknown}; expected names among {list(COLUMNS)}")
    lines = text.splitlines()
    sentences = []
    for start, block in _blocks(lines):
        s = _sentence(where, start, block, tuple(columns))
        if s is not None:
            sentences.append(s)
    return sentences


def read_conllu(path: str | pathlib.Path, columns: tuple[str, ...] = ("upos", "xpos")) -> list[Sentence]:
    """Sentences of a CoNLL-U file; errors name the file and line. An empty file (no sentence) is refused."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CoNLL-U file {path} does not exist" if not path.exists()
                                else f"{path} is a directory; expected a CoNLL-U file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConlluError(f"{path}: expected UTF-8, got byte 0x{e.object[e.start]:02x} at offset {e.start}") from None
    sentences = parse_conllu(text, str(path), columns)
    if not sentences:
        raise ConlluError(f"{path}: expected at least one sentence, got none (empty file)")
    return sentences
