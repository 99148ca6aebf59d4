"""What happens to a series before the LSTM sees it, all fitted on the training part only: a variance-
stabilising Box-Cox transform (none, square root or log, chosen from how the spread grows with the level),
a seasonal component (Fourier terms of the season's phase, regressed on the moving-average-detrended
series, kept only when it explains enough of it), and a scale (the root-mean-square change over the
horizon). The model then forecasts the deseasonalised, transformed series relative to its last value
(the M4 winner's recipe, Smyl 2020); forecasts go back through the seasonal component and the inverse
transform. Also: the season inferred from a column of dates."""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np

__all__ = ["Prep", "extend_phases", "choose_lambda", "boxcox", "inv_boxcox", "fourier", "infer_season", "phases"]

#: the candidate Box-Cox exponents: log, square root, none
LAMBDAS = (0.0, 0.5, 1.0)


def boxcox(y: np.ndarray, lam: float) -> np.ndarray:
    """The Box-Cox transform (``log y`` for lambda 0, ``(y^lam - 1) / lam`` otherwise; 1 is the identity).

    Example::

        >>> import numpy as np
        >>> from lstmkit.tasks.forecast.prep import boxcox, inv_boxcox
        >>> boxcox(np.array([1.0, 4.0]), 0.5).tolist(), inv_boxcox(boxcox(np.array([9.0]), 0.0), 0.0).round(6).tolist()
        ([0.0, 2.0], [9.0])
    """
    if lam == 1.0:
        return np.asarray(y, dtype=np.float64).copy()
    if lam == 0.0:
        return np.log(y)
    return (np.power(np.maximum(y, 0.0), lam) - 1.0) / lam


def inv_boxcox(z: np.ndarray, lam: float) -> np.ndarray:
    """The inverse of :func:`boxcox` (square-root forecasts below the transform's floor map to 0)."""
    if lam == 1.0:
        return np.asarray(z, dtype=np.float64).copy()
    if lam == 0.0:
        return np.exp(np.minimum(z, 700.0))
    return np.power(np.maximum(z * lam + 1.0, 0.0), 1.0 / lam)


def choose_lambda(y: np.ndarray, period: int) -> float:
    """Guerrero's choice among log, square root and none: the exponent that makes the spread of blocks of
    ``y`` (a season long, at least 4) least dependent on their level. Log needs a positive series, the
    square root a non-negative one; a transform must reduce the spread's variation by a quarter to be kept.

    Example (a seasonal amplitude that grows with the level, like airline passengers)::

        >>> import numpy as np
        >>> from lstmkit.tasks.forecast.prep import choose_lambda
        >>> t = np.arange(120)
        >>> choose_lambda(np.exp(0.02 * t) * (1 + 0.3 * np.sin(2 * np.pi * t / 12)), 12)
        0.0
        >>> choose_lambda(10 + 0.02 * t + np.sin(2 * np.pi * t / 12), 12)
        1.0
    """
    y = np.asarray(y, dtype=np.float64)
    b = max(period, 4)
    n = len(y) // b
    if n < 4 or y.min() < 0:
        return 1.0
    blocks = y[: n * b].reshape(n, b)
    mu, sd = blocks.mean(axis=1), blocks.std(axis=1, ddof=1)
    if mu.min() <= 0 or sd.min() <= 0:
        return 1.0

    def cv(lam: float) -> float:
        r = sd / mu ** (1.0 - lam)
        return float(r.std() / r.mean())

    best = 1.0
    if cv(1.0) < 0.1:                                      # the spread hardly varies: nothing to stabilise
        return best
    for lam in LAMBDAS:
        if lam == 0.0 and y.min() <= 0:
            continue
        if cv(lam) < 0.75 * cv(best) if best == 1.0 else cv(lam) < cv(best):
            best = lam
    return best


def fourier(phase: np.ndarray, period: int, harmonics: int) -> np.ndarray:
    """``(N, 2K)``: cos and sin of ``2 pi k phase / period`` for k = 1..K.

    Example::

        >>> import numpy as np
        >>> from lstmkit.tasks.forecast.prep import fourier
        >>> fourier(np.array([0.0, 3.0]), 12, 1).round(6).tolist()
        [[1.0, 0.0], [0.0, 1.0]]
    """
    k = np.arange(1, harmonics + 1)
    a = 2 * np.pi * np.asarray(phase, dtype=np.float64)[:, None] * k[None, :] / period
    return np.concatenate([np.cos(a), np.sin(a)], axis=1)


def harmonics_for(period: int) -> int:
    """Fourier pairs of the seasonal component: every one for seasons up to 12, then 6 (smooth)."""
    return max(1, min(period // 2, 6))


def moving_average_trend(z: np.ndarray, period: int) -> np.ndarray:
    """The centred moving average of one season (2 x m for an even m), NaN where it does not fit."""
    w = np.ones(period) / period
    if period % 2 == 0:
        w = np.convolve(w, [0.5, 0.5])
    out = np.full(len(z), np.nan)
    if len(z) >= len(w):
        half = len(w) // 2
        out[half: len(z) - half] = np.convolve(z, w, mode="valid")
    return out


def seasonal_fit(z: np.ndarray, phase: np.ndarray, period: int) -> tuple[list[float], float, float]:
    """Fourier coefficients of the seasonal component of ``z``, its strength (the share of the detrended
    variance it explains, 0 to 1) and its share of the variance of ``z`` itself."""
    trend = moving_average_trend(z, period)
    ok = ~np.isnan(trend)
    if ok.sum() < 2 * period or period < 2:
        return [], 0.0, 0.0
    det = z[ok] - trend[ok]
    X = fourier(phase[ok], period, harmonics_for(period))
    coef = np.linalg.lstsq(X, det - det.mean(), rcond=None)[0]
    resid = det - det.mean() - X @ coef
    strength = max(0.0, 1.0 - resid.var() / max(det.var(), 1e-300))
    return coef.tolist(), float(strength), float((X @ coef).var() / max(z[ok].var(), 1e-300))


def phases(times: list[str], period: int, calendar: str) -> np.ndarray:
    """Each row's position in the season (0 <= phase < period, fractional for a long season): from the
    calendar when the times are dates of a known frequency (month of year, day of year, weekday, hour),
    from the numeric time divided by its step when the times are numbers, else the row number."""
    n = len(times)
    if calendar:
        import pandas as pd

        t = pd.to_datetime(pd.Series(times), errors="coerce")
        if not t.isna().any():
            if calendar == "monthly":
                return ((t.dt.year * 12 + t.dt.month - 1) % period).to_numpy(dtype=np.float64)
            if calendar == "quarterly":
                return ((t.dt.year * 4 + t.dt.quarter - 1) % period).to_numpy(dtype=np.float64)
            days = (t - pd.Timestamp("2000-01-01")).dt.total_seconds().to_numpy() / 86400.0
            if calendar == "daily":
                if period >= 360:                                  # the solar year, in days
                    return np.mod(days, 365.2425) * (period / 365.2425)
                return np.mod(np.floor(days), period)
            if calendar == "weekly" and period >= 50:
                return np.mod(days / 7.0, 365.2425 / 7.0) * (period / (365.2425 / 7.0))
            if calendar == "hourly":
                return np.mod(np.round(days * 24.0), period)
            return np.mod(np.round(days / {"weekly": 7.0}.get(calendar, 1.0)), period)
    try:
        v = np.array([float(x) for x in times])
        step = np.median(np.diff(v)) if n > 1 else 1.0
        if step > 0 and np.all(np.isfinite(v)):
            return np.mod(np.round(v / step), period)
    except ValueError:
        pass
    return np.mod(np.arange(n, dtype=np.float64), period)


#: a time step (in days) -> (calendar, candidate seasons)
_CALENDARS = [(1 / 24, "hourly", (24, 168)), (1.0, "daily", (7, 365)), (7.0, "weekly", (52,)),
              (30.4, "monthly", (12,)), (91.3, "quarterly", (4,)), (365.25, "yearly", (1,))]


def calendar_of(times: list[str]) -> tuple[str, tuple]:
    """``(calendar, candidate seasons)`` from time stamps that parse as dates with a regular step, or
    ``("", ())`` (plain numbers and row numbers are no calendar).

    Example::

        >>> from lstmkit.tasks.forecast.prep import calendar_of
        >>> calendar_of(["1949-01", "1949-02", "1949-03"]), calendar_of(["1", "2", "3"])
        (('monthly', (12,)), ('', ()))
    """
    if len(times) < 3 or all(_is_number(x) for x in times[:50]):
        return "", ()
    try:
        import pandas as pd
    except ImportError:
        return "", ()
    t = pd.to_datetime(pd.Series(times[:2000]), errors="coerce")
    if t.isna().mean() > 0.01:
        return "", ()
    step = float(np.median(np.diff(t.dropna().to_numpy()).astype("timedelta64[s]").astype(np.float64))) / 86400
    for days, name, seasons in _CALENDARS:
        if abs(math.log(max(step, 1e-9) / days)) < 0.25:
            return name, seasons
    return "", ()


def _is_number(x: str) -> bool:
    try:
        float(x)
        return True
    except ValueError:
        return False


def infer_season(y: np.ndarray, times: list[str]) -> tuple[int, str]:
    """``(season, calendar)``: the calendar's season (for daily or hourly data, the candidate whose
    seasonal component explains most of the series, when at least 2.5 seasons are there); 1 without one.

    Example::

        >>> import numpy as np
        >>> from lstmkit.tasks.forecast.prep import infer_season
        >>> days = [f"{d.date()}" for d in __import__("pandas").date_range("2000-01-01", periods=1200)]
        >>> t = np.arange(1200)
        >>> infer_season(10 + 5 * np.sin(2 * np.pi * t / 365.25) + 0.1 * (t % 7), days)
        (365, 'daily')
    """
    calendar, seasons = calendar_of(times)
    if not seasons:
        return 1, calendar
    fits = [m for m in seasons if len(y) >= 2.5 * m]
    if not fits:
        return (seasons[0] if len(y) >= 2 * seasons[0] else 1), calendar
    if len(fits) == 1:
        return fits[0], calendar
    share = {m: seasonal_fit(y, phases(times, m, calendar), m)[2] for m in fits}
    return max(fits, key=lambda m: share[m]), calendar


def is_stationary(d: np.ndarray) -> bool:
    """Whether the augmented Dickey-Fuller test (statsmodels) rejects a unit root at 5%: a series that
    returns to its mean, whose level is then worth showing the model. False without statsmodels."""
    try:
        from statsmodels.tsa.stattools import adfuller
    except ImportError:
        return False
    if len(d) < 20 or np.ptp(d) == 0:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bool(adfuller(d[-5000:], maxlag=min(24, len(d) // 5), autolag=None)[1] < 0.05)


def extend_phases(phase: np.ndarray, more: int, period: int) -> np.ndarray:
    """``phase`` followed by the phases of ``more`` rows after its end (the season's typical step on)."""
    if more <= 0:
        return phase
    step = float(np.median(np.mod(np.diff(phase[-50:]), period))) if len(phase) > 1 else 1.0
    return np.concatenate([phase, np.mod(phase[-1] + step * np.arange(1, more + 1), period)])


@dataclass
class Prep:
    """The fitted preprocessing of a target: Box-Cox exponent ``lam``, ``period`` and ``calendar`` (how
    phases are read from times), seasonal Fourier coefficients ``season_coef`` (empty: none), ``level``
    and ``scale`` of the deseasonalised transformed series.

    ``forward(y, phase)`` gives the series the model reads (transformed, deseasonalised); ``inverse(d,
    phase)`` undoes it. Both take any shape, ``phase`` broadcastable to it.

    Example (multiplicative seasonality on a trend: log, then a seasonal component)::

        >>> import numpy as np
        >>> from lstmkit.tasks.forecast.prep import Prep
        >>> t = np.arange(144.0)
        >>> y = 100 * np.exp(0.01 * t) * (1 + 0.2 * np.sin(2 * np.pi * t / 12))
        >>> p = Prep.fit(y, t % 12, period=12, horizon=12)
        >>> p.lam, len(p.season_coef) > 0, np.allclose(p.inverse(p.forward(y, t % 12), t % 12), y)
        (0.0, True, True)
    """

    lam: float = 1.0
    period: int = 1
    calendar: str = ""
    season_coef: list = field(default_factory=list)
    strength: float = 0.0
    level: float = 0.0
    spread: float = 1.0
    scale: float = 1.0
    stationary: bool = False

    @classmethod
    def fit(cls, y: np.ndarray, phase: np.ndarray, period: int, horizon: int, transform: str = "auto",
            deseasonalise: str = "auto", calendar: str = "") -> "Prep":
        lam = {"auto": None, "none": 1.0, "sqrt": 0.5, "log": 0.0}[transform]
        if lam is None:
            lam = choose_lambda(y, period)
        if (lam == 0.0 and y.min() <= 0) or (lam == 0.5 and y.min() < 0):
            raise ValueError(f"--transform {transform} needs a {'positive' if lam == 0 else 'non-negative'} "
                             f"series, got a minimum of {y.min():g} in the training part")
        z = boxcox(y, lam)
        coef, strength = seasonal_fit(z, phase, period)[:2] if period > 1 and deseasonalise != "off" else ([], 0.0)
        if deseasonalise == "auto" and strength < 0.25:
            coef = []
        p = cls(lam, period, calendar, coef, strength)
        d = p.forward(y, phase)
        k = np.arange(1, horizon + 1)
        ch = [d[h:] - d[:-h] for h in k if h < len(d)]
        rms = math.sqrt(float(np.mean(np.concatenate(ch) ** 2))) if ch else float(d.std())
        p.level, p.scale = float(d.mean()), (rms if rms > 0 else 1.0)
        p.spread = float(d.std()) or 1.0
        p.stationary = is_stationary(d)
        return p

    def seasonal(self, phase) -> np.ndarray:
        phase = np.asarray(phase, dtype=np.float64)
        if not self.season_coef:
            return np.zeros_like(phase)
        K = len(self.season_coef) // 2
        return (fourier(phase.ravel(), self.period, K) @ np.asarray(self.season_coef)).reshape(phase.shape)

    def forward(self, y, phase) -> np.ndarray:
        return boxcox(np.asarray(y, dtype=np.float64), self.lam) - self.seasonal(phase)

    def inverse(self, d, phase) -> np.ndarray:
        return inv_boxcox(np.asarray(d, dtype=np.float64) + self.seasonal(phase), self.lam)

    def describe(self) -> str:
        t = {1.0: "none", 0.5: "sqrt", 0.0: "log"}[self.lam]
        s = (f"Fourier seasonal component, period {self.period}, strength {self.strength:.2f}"
             if self.season_coef else f"no seasonal component (period {self.period}, strength {self.strength:.2f})")
        return f"transform {t}; {s}"

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "Prep":
        return cls(**data)
