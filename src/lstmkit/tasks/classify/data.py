"""Labelled sequences from files (CSV, JSONL, .npy, CoNLL-U) or generated, with errors that name the line."""

from __future__ import annotations

import json
import math
import pathlib
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch

from ..tables import csv_records, refuse_ambiguous_columns

__all__ = ["Examples", "read_examples", "generated_waves", "genre"]


@dataclass
class Examples:
    """Sequences and their labels. ``kind`` is ``text`` (items are strings) or ``numeric`` (items are
    float32 tensors (T, F)); ``rows`` names where each came from (``FILE:LINE``) for error messages."""

    kind: str
    items: list
    labels: list[str]
    rows: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.items)

    def subset(self, idx) -> "Examples":
        return Examples(self.kind, [self.items[i] for i in idx], [self.labels[i] for i in idx],
                        [self.rows[i] for i in idx])


def genre(sent_id: str) -> str:
    """The source of a UD English EWT sentence: its ``sent_id`` up to the first ``-``.

    Example::

        >>> from lstmkit.tasks.classify.data import genre
        >>> genre("weblog-blogspot.com_nominations_20041117172713_ENG_20041117_172713-0001")
        'weblog'
    """
    return sent_id.split("-", 1)[0]


def _conllu(path: pathlib.Path) -> Examples:
    from ..tagger import read_conllu

    sentences = read_conllu(path, ())
    rows, labels, texts = [], [], []
    for s in sentences:
        if "sent_id" not in s.meta:
            raise ValueError(f"{path}:{s.line}: expected a '# sent_id = ...' comment (its prefix is the label), "
                             f"got none")
        texts.append(s.meta.get("text") or " ".join(s.words))
        labels.append(genre(s.meta["sent_id"]))
        rows.append(f"{path}:{s.line}")
    return Examples("text", texts, labels, rows)


def _numeric(values: list[str], where: str, missing: str) -> Optional[torch.Tensor]:
    """One CSV row's steps; trailing empty cells are dropped; other empty or non-numeric cells follow the
    ``missing`` policy (error / drop the row: None)."""
    while values and values[-1].strip() == "":
        values = values[:-1]
    out = []
    for k, v in enumerate(values):
        try:
            x = float(v)
            if not math.isfinite(x):
                raise ValueError
        except ValueError:
            if missing == "drop":
                return None
            raise ValueError(f"{where}: step {k + 1} is {v!r}; expected a finite number (or --missing drop)") from None
        out.append(x)
    if not out:
        if missing == "drop":
            return None
        raise ValueError(f"{where}: the sequence is empty; expected at least one value (or --missing drop)")
    return torch.tensor(out, dtype=torch.float32).unsqueeze(1)           # (T, 1)


def _table(path: pathlib.Path, cfg) -> Examples:
    if path.suffix == ".jsonl":
        records = []
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    rec = json.loads(line)
                except ValueError as e:
                    raise ValueError(f"{path}:{i}: expected a JSON object, got a parse error ({e})") from None
                if not isinstance(rec, dict):
                    raise ValueError(f"{path}:{i}: expected a JSON object, got {type(rec).__name__}")
                records.append((i, rec))
        header = list(records[0][1]) if records else []
    else:
        with open(path, newline="", encoding="utf-8") as f:
            rows = csv_records(f, str(path), tsv=path.suffix == ".tsv")
            header = next(rows, (1, []))[1]
            records = []
            for line, row in rows:
                if not any(c.strip() for c in row):
                    continue
                if len(row) != len(header):
                    raise ValueError(f"{path}:{line}: {len(row)} fields, expected {len(header)} (as the header "
                                     f"{header})")
                records.append((line, dict(zip(header, row))))
    if not records:
        raise ValueError(f"{path}: expected at least one row, got none (empty input)")
    if cfg.label_column not in header:
        raise ValueError(f"{path}: expected a label column {cfg.label_column!r} (--label-column), got columns "
                         f"{header}")
    text = cfg.text_column in header
    refuse_ambiguous_columns(header, [cfg.label_column] + ([cfg.text_column] if text else []), str(path))
    if not text and path.suffix == ".jsonl":
        raise ValueError(f"{path}: expected a text column {cfg.text_column!r} (--text-column), got columns {header}")
    ex = Examples("text" if text else "numeric", [], [])
    for line, rec in records:
        where = f"{path}:{line}"
        label = rec.get(cfg.label_column)
        label = "" if label is None else str(label).strip()
        if text:
            item = rec.get(cfg.text_column)
            item = item if isinstance(item, str) else ("" if item is None else str(item))
            bad = "text" if not item.strip() else ("label" if not label else None)
        else:
            item = _numeric([rec[c] or "" for c in header if c != cfg.label_column], where, cfg.missing)
            bad = "sequence" if item is None else ("label" if not label else None)
        if bad:
            if cfg.missing == "drop":
                continue
            raise ValueError(f"{where}: the {bad} is missing; expected a value in column "
                             f"{cfg.text_column if bad == 'text' else cfg.label_column!r} (or --missing drop)")
        ex.items.append(item)
        ex.labels.append(label)
        ex.rows.append(where)
    if not ex.items:
        raise ValueError(f"{path}: no row left after --missing drop; expected at least one")
    return ex


def _load_array(path, what: str) -> np.ndarray:
    """One .npy array (no pickles); errors name the file and say what was expected."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} does not exist" if not path.exists() else f"{path} is a directory")
    if path.suffix != ".npy":
        raise ValueError(f"{what} {path}: expected a .npy array file, got suffix {path.suffix!r}")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise ValueError(f"{what} {path}: expected a .npy array (numpy.save, no pickled objects), got an "
                         f"unreadable file ({e})") from None


def _npy(path: pathlib.Path, labels_path: str) -> Examples:
    if not labels_path:
        raise ValueError(f"{path} is .npy: expected its labels in --labels FILE.npy, got none")
    x, y = _load_array(path, "--data"), _load_array(labels_path, "--labels")
    if x.ndim not in (2, 3) or x.dtype.kind not in "fiu":
        raise ValueError(f"{path}: expected a numeric array (N, T) or (N, T, F), got {x.dtype} {x.shape}")
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(f"{labels_path}: expected {len(x)} labels (one per sequence of {path}), got shape {y.shape}")
    if not np.isfinite(x).all():
        n = int((~np.isfinite(x.reshape(len(x), -1))).any(1).argmax())
        raise ValueError(f"{path}: sequence {n} holds NaN or inf; expected finite values")
    x = torch.from_numpy(x.astype(np.float32))
    x = x.unsqueeze(2) if x.dim() == 2 else x
    return Examples("numeric", list(x), [str(v) for v in y.tolist()], [f"{path}[{i}]" for i in range(len(x))])


def read_examples(path: str, cfg, labels: str = "") -> Examples:
    """The labelled sequences of one file (the suffix picks the reader)."""
    p = pathlib.Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"data file {p} does not exist" if not p.exists() else f"{p} is a directory")
    if p.suffix == ".conllu":
        return _conllu(p)
    if p.suffix == ".npy":
        return _npy(p, labels)
    if p.suffix in (".csv", ".jsonl", ".tsv"):
        return _table(p, cfg)
    raise ValueError(f"{p}: expected a .csv, .tsv, .jsonl, .npy or .conllu file, got suffix {p.suffix!r}")


WAVES = ("sine", "square", "sawtooth", "triangle")


def generated_waves(n: int, seed: int) -> Examples:
    """``n`` noisy waves of 20-80 steps, random period (8-24 steps), phase and amplitude; label = shape.

    Example::

        >>> from lstmkit.tasks.classify.data import generated_waves
        >>> ex = generated_waves(8, seed=0)
        >>> ex.kind, ex.items[0].shape[1], sorted(set(ex.labels)) <= ["sawtooth", "sine", "square", "triangle"]
        ('numeric', 1, True)
    """
    g = torch.Generator().manual_seed(seed)
    ex = Examples("numeric", [], [])
    for i in range(n):
        k = int(torch.randint(4, (1,), generator=g))
        T = int(torch.randint(20, 81, (1,), generator=g))
        period = 8 + 16 * float(torch.rand(1, generator=g))
        phase = float(torch.rand(1, generator=g))
        amp = 0.5 + float(torch.rand(1, generator=g))
        u = (torch.arange(T) / period + phase) % 1.0                        # position within the period
        wave = [torch.sin(2 * math.pi * u), torch.sign(0.5 - u), 2 * u - 1, 1 - 4 * (u - 0.5).abs()][k]
        x = amp * wave + 0.3 * torch.randn(T, generator=g)
        ex.items.append(x.unsqueeze(1).float())
        ex.labels.append(WAVES[k])
        ex.rows.append(f"<generated>[{i}]")
    return ex
