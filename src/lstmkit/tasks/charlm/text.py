"""The text a character model reads: the default corpus, and UTF-8 files with errors that say what and where."""

from __future__ import annotations

import pathlib
from typing import Sequence

__all__ = ["default_corpus", "read_text", "load_texts"]


def default_corpus() -> str:
    """Python's documentation topics (``pydoc_data.topics``, shipped with every CPython): about 465k
    characters of English prose and code examples, the topics joined in name order.

    Example::

        >>> from lstmkit.tasks.charlm.text import default_corpus
        >>> text = default_corpus()
        >>> len(text) > 100_000, "assert" in text
        (True, True)
    """
    from pydoc_data.topics import topics

    return "\n\n".join(topics[k].strip("\n") for k in sorted(topics)) + "\n"


def read_text(path: str | pathlib.Path, encoding: str = "utf-8", errors: str = "strict") -> str:
    """Read one text file; errors name the file and, for undecodable bytes, the byte offset.

    Example::

        >>> import pathlib, tempfile
        >>> from lstmkit.tasks.charlm.text import read_text
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "bad.txt"
        >>> _ = p.write_bytes(b"caf\\xe9 au lait")
        >>> read_text(p)
        Traceback (most recent call last):
        ...
        ValueError: .../bad.txt is not valid utf-8: byte 0xe9 at offset 3 ... (try --encoding latin-1, ...)
        >>> read_text(p, errors="replace")
        'caf\\ufffd au lait'
    """
    path = pathlib.Path(path)
    if not path.exists():
        raise FileNotFoundError(f"text file {path} does not exist")
    if path.is_dir():
        raise IsADirectoryError(f"text file {path} is a directory; expected a file (give its files, "
                                f"e.g. --text {path}/*.txt)")
    data = path.read_bytes()
    if not data:
        raise ValueError(f"text file {path} is empty; expected at least one character")
    try:
        return data.decode(encoding, errors=errors)
    except UnicodeDecodeError as e:
        context = data[max(0, e.start - 20): e.start].decode(encoding, errors="replace")
        raise ValueError(f"{path} is not valid {encoding}: byte 0x{data[e.start]:02x} at offset {e.start} "
                         f"({e.reason}), after {context!r} (try --encoding latin-1, or --errors replace)") from None
    except LookupError:
        raise ValueError(f"--encoding {encoding!r} is not an encoding Python knows") from None


def load_texts(paths: Sequence[str], encoding: str = "utf-8", errors: str = "strict") -> str:
    """The concatenation of ``paths`` (the default corpus when empty)."""
    if not paths:
        return default_corpus()
    return "".join(read_text(p, encoding, errors) for p in paths)
