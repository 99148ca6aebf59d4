"""The global model: one ensemble trained on the windows of several series at once -- several ``--target``
columns of one CSV file, or a panel CSV whose ``--series-id`` column says which series each row belongs to.
Every series keeps its own split, preparation (transform, seasonal component, scale: :class:`~.prep.Prep`)
and baselines; the model sees windows of all of them, each in its own units (relative to the window's last
value over that series' scale), so what it learns about shapes is shared (Salinas et al. 2020, DeepAR;
Smyl 2020). The season and the window are the same for all: the series must share a frequency."""

from __future__ import annotations

import copy
import pathlib
from types import SimpleNamespace
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from ...train import TrainTask
from ..tables import csv_records, refuse_ambiguous_columns
from .baselines import mase_scale
from .config import ForecastConfig
from .model import Forecaster, pinball_loss
from .prep import calendar_of, infer_season
from .series import Series, _cell, _fill, read_csv_series
from .task import ForecastTask, predict, resolve

__all__ = ["GlobalForecastTask", "read_panel", "load_panel", "check_frequencies"]


def read_panel(path, series_id: str, target: str, time: str = "", missing: str = "error",
               non_numeric: str = "error") -> list[Series]:
    """The series of a panel CSV: one per value of column ``series_id`` (in order of first appearance), each
    ``target`` values in the file's row order, with the missing-value policies applied per series.

    Example::

        >>> import pathlib, tempfile
        >>> from lstmkit.tasks.forecast.panel import read_panel
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "panel.csv"
        >>> _ = p.write_text("store,day,sales\\na,1,10\\nb,1,7\\na,2,11\\nb,2,8\\n")
        >>> [(s.names[0], s.target.tolist(), s.times) for s in read_panel(p, "store", "sales", "day")]
        [('a', [10.0, 11.0], ['1', '2']), ('b', [7.0, 8.0], ['1', '2'])]
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--csv {path}: expected a CSV file, which does not exist")
    rows = csv_records(path.read_text(encoding="utf-8-sig").splitlines(keepends=True), str(path))
    header = [h.strip() for h in (next(rows, (1, None))[1] or [])]
    wanted = [series_id, target] + ([time] if time else [])
    absent = [c for c in wanted if c not in header]
    if absent:
        raise ValueError(f"{path} has no column {', '.join(repr(c) for c in absent)}; its columns are "
                         f"{', '.join(repr(h) for h in header)}")
    refuse_ambiguous_columns(header, wanted, str(path))
    ic, yc, tc = header.index(series_id), header.index(target), header.index(time) if time else None
    groups: dict[str, tuple[list, list, list]] = {}
    for line, row in rows:
        if not row or not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise ValueError(f"{path}, line {line}: {len(row)} fields, expected {len(header)} (as the header)")
        vals, times, lines = groups.setdefault(row[ic].strip(), ([], [], []))
        vals.append([_cell(row[yc], path, line, target, non_numeric)])
        times.append(row[tc].strip() if tc is not None else str(len(times)))
        lines.append(line)
    if not groups:
        raise ValueError(f"{path} has a header but no data rows; expected rows of {series_id!r} and {target!r}")
    out = []
    for name, (vals, times, lines) in groups.items():
        arr, times = _fill(np.array(vals, dtype=np.float64), times, lines, [target], path, missing)
        out.append(Series(arr, times, [name], f"{path} [{series_id}={name}]"))
    return out


def load_panel(cfg: ForecastConfig) -> list[Series]:
    """The series of a global run: each --target column of --csv, or each series of a --series-id panel."""
    if cfg.series_id:
        return read_panel(cfg.csv, cfg.series_id, cfg.target[0], cfg.time, cfg.missing, cfg.non_numeric)
    out = []
    for t in cfg.target:
        s = read_csv_series(cfg.csv, t, cfg.time, (), cfg.missing, cfg.non_numeric)
        out.append(Series(s.values, s.times, [t], f"{s.source} [{t}]"))
    return out


def check_frequencies(series: list[Series]) -> None:
    """Refuse series whose time stamps have different frequencies (one model, one season and window).

    Example::

        >>> from lstmkit.tasks.forecast.panel import check_frequencies
        >>> from lstmkit.tasks.forecast.series import Series
        >>> import numpy as np
        >>> a = Series(np.zeros((3, 1)), ["2000-01", "2000-02", "2000-03"], ["a"], "")
        >>> b = Series(np.zeros((3, 1)), ["2000-01-01", "2000-01-02", "2000-01-03"], ["b"], "")
        >>> check_frequencies([a, b])
        Traceback (most recent call last):
        ...
        ValueError: series 'b' has daily time stamps, expected monthly ones like series 'a': one model needs one frequency
    """
    first = calendar_of(series[0].times)[0]
    for s in series[1:]:
        cal = calendar_of(s.times)[0]
        if cal != first:
            raise ValueError(f"series {s.names[0]!r} has {cal or 'no regular dated'} time stamps, expected "
                             f"{first or 'no regular dated'} ones like series {series[0].names[0]!r}: one model "
                             f"needs one frequency")


class GlobalForecastTask(TrainTask):
    """One :class:`~.model.Forecaster` ensemble over several series: each series a :class:`ForecastTask`
    (its own split, preparation and windows; ``parts``), the training batches drawn from the windows of all
    of them; the best checkpoint has the lowest mean validation MASE (each series' MAE over its in-sample
    seasonal-naive error, so that no series dominates by its units).

    Example::

        >>> import numpy as np
        >>> from lstmkit.tasks.forecast import ForecastConfig
        >>> from lstmkit.tasks.forecast.panel import GlobalForecastTask
        >>> from lstmkit.tasks.forecast.series import Series
        >>> t = np.arange(120.0)
        >>> ss = [Series((a + np.sin(t / 3))[:, None], [str(i) for i in range(120)], [n], n) for a, n in ((5, "a"), (50, "b"))]
        >>> task = GlobalForecastTask(ForecastConfig(csv="x.csv", target=["a", "b"], window=12, horizon=3), ss)
        >>> list(task.parts), task.train_x.shape, task.monitor
        (['a', 'b'], torch.Size([152, 12, 2]), 'val_mase')
    """

    unit = "windows"
    monitor = "val_mase"
    loss_label = "pinball loss (model units)"

    def __init__(self, config: ForecastConfig, series: Optional[list[Series]] = None) -> None:
        super().__init__(config)
        config.validate()
        series = series if series is not None else load_panel(config)
        c = config
        check_frequencies(series)
        if c.season == 0 and c.csv:                             # from the longest series' first three quarters
            longest = max(series, key=len)
            head = int(len(longest) * 0.75)
            c.season = infer_season(longest.target[:head], longest.times[:head])[0]
        shortest = min(series, key=len)
        try:
            resolve(c, shortest)                                 # the window: from the shortest series
        except ValueError as e:
            raise ValueError(f"series {shortest.names[0]!r}: {e}") from None
        self.parts: dict[str, ForecastTask] = {}
        for s in series:
            try:
                self.parts[s.names[0]] = ForecastTask(copy.deepcopy(c), s)
            except ValueError as e:
                raise ValueError(f"series {s.names[0]!r}: {e}") from None
        level = c.level_input == "on" or (c.level_input == "auto" and any(p.level for p in self.parts.values()))
        for p in self.parts.values():                       # the channel for all, its values where they mean something
            p.level, p.blank_level = level, level and c.level_input == "auto" and not p.level
            p.train, p.val = p.windows_at(p.train_origins), p.windows_at(p.val.origins)
        self.level = level
        self.train_x = torch.cat([p.train.x for p in self.parts.values()])           # (N, W, F)
        self.train_y = torch.cat([p.train.y for p in self.parts.values()])           # (N, H)
        counts = [p.n_train_windows for p in self.parts.values()]
        self.weights = torch.cat([torch.full((n,), 1.0 / n) for n in counts])      # each series equally often
        self.scales = {n: mase_scale(p.series.target[: p.split.train_end], c.period) or 1.0
                       for n, p in self.parts.items()}
        self.quantiles = torch.tensor(c.quantiles)
        self.gen = torch.Generator().manual_seed(c.seed + 1)
        self.device = torch.device(c.device)

    @property
    def n_train_windows(self) -> int:
        return len(self.train_x)

    def refit_windows(self) -> SimpleNamespace:
        ws = [p.refit_windows() for p in self.parts.values()]
        return SimpleNamespace(x=torch.cat([w.x for w in ws]), y=torch.cat([w.y for w in ws]))

    @property
    def features(self) -> int:
        return next(iter(self.parts.values())).features

    def build_model(self) -> Forecaster:
        return Forecaster(self.features, self.config, 1 + int(self.level))

    def train_step(self, model: Forecaster, step: int) -> tuple[Tensor, int]:
        c = self.config
        idx = torch.multinomial(self.weights, c.ensemble * c.batch_size, replacement=True,
                                generator=self.gen).view(c.ensemble, c.batch_size)
        x, y = self.train_x[idx].to(self.device), self.train_y[idx].to(self.device)   # (K, B, W, F), (K, B, H)
        pred = model.members(x, y if c.decoder == "autoregressive" else None)          # (K, B, H, Q)
        return pinball_loss(pred, y, self.quantiles.to(self.device)) * c.ensemble, idx.numel()

    def evaluate(self, model: Forecaster) -> dict[str, float]:
        c, losses, mases = self.config, [], []
        for name, p in self.parts.items():
            raw = model.members(p.val.x.to(self.device)).cpu()                         # (K, N, H, Q)
            losses.append(pinball_loss(raw, p.val.y, self.quantiles).item())
            pred = predict(model, p.val, p.prep)[..., c.median_index]
            mases.append(float(np.nanmean(np.abs(pred - p.val.truth))) / self.scales[name])
        return {"val_loss": round(float(np.mean(losses)), 6), "val_mase": round(float(np.mean(mases)), 6)}

    def metadata(self) -> dict:
        return {"global": True, "parts": {n: p.metadata() for n, p in self.parts.items()}, "level": self.level,
                "features": self.features, "names": list(self.parts)}

    def state_dict(self) -> dict:
        return {"generator": self.gen.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.gen.set_state(state["generator"])
