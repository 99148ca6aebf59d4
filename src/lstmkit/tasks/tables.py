"""CSV files as the jobs read them: strict quoting, one record per header field, and errors that name the
file and the physical line a record starts on (a quoted field may span lines)."""

from __future__ import annotations

import csv
from typing import Iterable, Iterator

__all__ = ["csv_records", "refuse_ambiguous_columns"]


def csv_records(lines: Iterable[str], where: str, tsv: bool = False) -> Iterator[tuple[int, list[str]]]:
    """``(line, fields)`` of every record of a CSV text (``lines``: its lines with their line ends, as
    ``splitlines(keepends=True)`` or an open file gives them), ``line`` being where the record starts.
    Refuses an unterminated quote (naming the line the quote opens on) and other malformed quoting, with
    ``where`` (the file) in the message. ``tsv``: tab-separated values as GLUE and most corpora write them
    (fields split at tabs, quotes taken literally, one record per line).

    Example::

        >>> from lstmkit.tasks.tables import csv_records
        >>> list(csv_records('a,b\\n1,"two\\nlines"\\n3,4\\n'.splitlines(keepends=True), "x.csv"))
        [(1, ['a', 'b']), (2, ['1', 'two\\nlines']), (4, ['3', '4'])]
        >>> list(csv_records('label\\tsentence\\n1\\ta "fine" , film\\n'.splitlines(keepends=True), "x.tsv", tsv=True))
        [(1, ['label', 'sentence']), (2, ['1', 'a "fine" , film'])]
        >>> list(csv_records('a,b\\n1,2\\n3,"4\\n5,6\\n'.splitlines(keepends=True), "x.csv"))
        Traceback (most recent call last):
        ...
        ValueError: x.csv, line 3: a quoted field opens here and is not closed (csv: unexpected end of data)
    """
    reader = csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE, strict=True) if tsv else \
        csv.reader(lines, strict=True)
    start = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            what = "a quoted field opens here and is not closed" if "end of data" in str(e) else "malformed quoting"
            raise ValueError(f"{where}, line {start}: {what} (csv: {e})") from None
        yield start, row
        start = reader.line_num + 1


def refuse_ambiguous_columns(header: list[str], wanted, where: str) -> None:
    """Raise ValueError when a column the command reads (``wanted``) is named twice in ``header``.

    Example::

        >>> from lstmkit.tasks.tables import refuse_ambiguous_columns
        >>> refuse_ambiguous_columns(["t", "y", "y"], ["y"], "s.csv")
        Traceback (most recent call last):
        ...
        ValueError: s.csv: column 'y' appears 2 times in the header (columns 2, 3); expected one column of that name
    """
    for name in wanted:
        at = [i + 1 for i, h in enumerate(header) if h == name]
        if len(at) > 1:
            raise ValueError(f"{where}: column {name!r} appears {len(at)} times in the header (columns "
                             f"{', '.join(map(str, at))}); expected one column of that name")
