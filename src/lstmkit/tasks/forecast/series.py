"""The series a forecaster reads: a CSV file's columns (with policies for missing and non-numeric cells,
errors that name file and line), or one of the built-in series that statsmodels ships."""

from __future__ import annotations

import math
import pathlib
from dataclasses import dataclass

import numpy as np

from ..tables import csv_records, refuse_ambiguous_columns

__all__ = ["Series", "read_csv_series", "builtin_series", "load_series", "need_statsmodels"]

NA = {"", "na", "nan", "null", "none", "n/a", "#n/a"}


def need_statsmodels(what: str):
    """``statsmodels``, or an ImportError that names the extra to install."""
    try:
        import statsmodels  # noqa: F401
        import statsmodels.api as sm
    except ImportError:
        raise ImportError(f"{what} needs statsmodels: pip install 'lstmkit[forecast]'") from None
    return sm


@dataclass
class Series:
    """``values (N, 1 + covariates)``: the target in column 0, then the covariates; ``times``: a label
    per row (the --time column, or the row number); ``names``: the columns' names.

    Example::

        >>> import numpy as np
        >>> from lstmkit.tasks.forecast.series import Series
        >>> s = Series(np.arange(6.0).reshape(3, 2), ["1", "2", "3"], ["y", "x"], "example")
        >>> len(s), s.target.tolist()
        (3, [0.0, 2.0, 4.0])
    """

    values: np.ndarray
    times: list[str]
    names: list[str]
    source: str

    def __len__(self) -> int:
        return int(self.values.shape[0])

    @property
    def target(self) -> np.ndarray:
        return self.values[:, 0]


def _cell(text: str, path, line: int, column: str, non_numeric: str) -> float:
    t = text.strip()
    if t.lower() in NA:
        return math.nan
    try:
        v = float(t)
    except ValueError:
        v = math.inf
    if not math.isfinite(v):
        if non_numeric == "missing":
            return math.nan
        raise ValueError(f"{path}, line {line}: column {column!r} holds {text!r}, expected a number "
                         f"(or --non-numeric missing to treat such cells as missing)")
    return v


def _fill(values: np.ndarray, times: list[str], lines: list[int], names: list[str], path, policy: str):
    """Apply the missing-value policy to ``values (N, K)``; returns (values, times)."""
    bad = np.isnan(values)
    if not bad.any():
        return values, times
    if policy == "error":
        r, c = map(int, np.argwhere(bad)[0])
        raise ValueError(f"{path}, line {lines[r]}: column {names[c]!r} is empty or NA, expected a value "
                         f"({int(bad.sum())} missing in all; --missing drop, ffill or interpolate handles them)")
    if policy == "drop":
        keep = ~bad.any(axis=1)
        return values[keep], [t for t, k in zip(times, keep) if k]
    out = values.copy()
    idx = np.arange(len(out))
    for c in range(out.shape[1]):
        ok = ~np.isnan(out[:, c])
        if not ok.any():
            raise ValueError(f"{path}: column {names[c]!r} holds no value at all; expected numbers")
        if policy == "ffill":
            last = np.maximum.accumulate(np.where(ok, idx, -1))
            out[:, c] = np.where(last >= 0, out[np.maximum(last, 0), c], np.nan)
        else:
            out[:, c] = np.where(ok, out[:, c], np.interp(idx, idx[ok], out[ok, c], left=np.nan, right=np.nan))
    keep = ~np.isnan(out).any(axis=1)              # leading (ffill) or edge (interpolate) gaps: dropped
    return out[keep], [t for t, k in zip(times, keep) if k]


def read_csv_series(path: str | pathlib.Path, target: str, time: str = "", covariates=(), missing: str = "error",
                    non_numeric: str = "error") -> Series:
    """Read ``target`` (and ``covariates``) from a CSV file with a header row.

    Example::

        >>> import pathlib, tempfile
        >>> from lstmkit.tasks.forecast.series import read_csv_series
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.csv"
        >>> _ = p.write_text("month,sales\\n1,10\\n2,\\n3,14\\n")
        >>> read_csv_series(p, "sales", "month")
        Traceback (most recent call last):
        ...
        ValueError: .../s.csv, line 3: column 'sales' is empty or NA, expected a value (1 missing in all; ...)
        >>> read_csv_series(p, "sales", "month", missing="interpolate").target.tolist()
        [10.0, 12.0, 14.0]
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--csv {path}: expected a CSV file, which does not exist")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path} is not valid UTF-8 text ({e})") from None
    rows = csv_records(text.splitlines(keepends=True), str(path))
    header = next(rows, (1, None))[1]
    if not header or not any(h.strip() for h in header):
        raise ValueError(f"{path} is empty; expected a header row naming the columns, then data rows")
    header = [h.strip() for h in header]
    wanted = [target, *covariates] + ([time] if time else [])
    absent = [c for c in wanted if c not in header]
    if absent:
        raise ValueError(f"{path} has no column {', '.join(repr(c) for c in absent)}; its columns are "
                         f"{', '.join(repr(h) for h in header)}")
    refuse_ambiguous_columns(header, wanted, str(path))
    cols = [header.index(c) for c in [target, *covariates]]
    tcol = header.index(time) if time else None
    values, times, lines = [], [], []
    for line, row in rows:
        if not row or not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise ValueError(f"{path}, line {line}: {len(row)} fields, expected {len(header)} (as the header)")
        values.append([_cell(row[c], path, line, header[c], non_numeric) for c in cols])
        times.append(row[tcol].strip() if tcol is not None else str(len(times)))
        lines.append(line)
    if not values:
        raise ValueError(f"{path} has a header but no data rows; expected at least one row of values")
    arr, times = _fill(np.array(values, dtype=np.float64), times, lines, [target, *covariates], path, missing)
    if len(arr) == 0:
        raise ValueError(f"{path}: no row is left after --missing {missing}; expected at least one complete row")
    return Series(arr, times, [target, *covariates], str(path))


def builtin_series(name: str) -> Series:
    """``co2`` (monthly means of Mauna Loa's weekly CO2, ppm, 1958-2001) or ``sunspots`` (yearly, 1700-2008).

    Example::

        >>> from lstmkit.tasks.forecast.series import builtin_series
        >>> s = builtin_series("sunspots")
        >>> len(s), s.times[0], s.names
        (309, '1700', ['SUNACTIVITY'])
    """
    need_statsmodels(f"the built-in series {name!r}")
    from statsmodels import datasets

    if name == "co2":
        data = datasets.co2.load_pandas().data["co2"]
        monthly = data.resample("MS").mean().interpolate()
        return Series(monthly.to_numpy()[:, None], [f"{t:%Y-%m}" for t in monthly.index], ["co2"],
                      "statsmodels co2 (monthly means)")
    if name == "sunspots":
        data = datasets.sunspots.load_pandas().data
        return Series(data["SUNACTIVITY"].to_numpy(dtype=np.float64)[:, None],
                      [str(int(y)) for y in data["YEAR"]], ["SUNACTIVITY"], "statsmodels sunspots (yearly)")
    raise ValueError(f"dataset must be co2 or sunspots, got {name!r}")


def load_series(cfg) -> Series:
    """The series a :class:`ForecastConfig` names (its --csv with its policies, or its --dataset)."""
    if cfg.csv:
        return read_csv_series(cfg.csv, cfg.target[0], cfg.time, cfg.covariates, cfg.missing, cfg.non_numeric)
    return builtin_series(cfg.dataset)
