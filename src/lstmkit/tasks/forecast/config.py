"""Settings of ``lstmkit train forecast``: the engine's (:class:`~lstmkit.train.TrainConfig`) plus the
series, the windows, the decoding and the model. Every field is a command-line flag."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ...train import TrainConfig, backend_opt, max_steps_opt, opt

__all__ = ["ForecastConfig", "DATASETS"]

#: the built-in series (shipped by statsmodels) and their seasonal period
DATASETS = {"co2": 12, "sunspots": 11}


@dataclass
class ForecastConfig(TrainConfig):
    """Multi-step forecasting: a window of the past (target + covariates) -> LSTM encoder -> the next
    ``horizon`` values as quantiles, decoded all at once (direct) or one step at a time (autoregressive).

    Example::

        >>> from lstmkit.tasks.forecast import ForecastConfig
        >>> cfg = ForecastConfig(dataset="sunspots", horizon=6)
        >>> cfg.validate(); cfg.period
        11
    """

    task: ClassVar[str] = "forecast"

    # ------------------------------------------------------------------ engine defaults for this job
    max_steps: int = max_steps_opt(1500, "optimisation steps to run at most; with --max-time (and this left at "
                                         "1500) the budget and early stopping end the run instead")
    lr: float = opt(3e-3, "peak learning rate of AdamW")
    decay_steps: int = opt(0, "length of the cosine decay (0: --max-steps, or 1500 when --max-time lifts the "
                              "step limit)")
    patience: int = opt(8, "early stopping: evaluations without a better validation MAE before stopping (0: off)")
    weight_decay: float = opt(0.01, "AdamW weight decay, on matrices only (not biases, gains)")
    warmup_steps: int = opt(50, "steps of linear learning-rate warm-up from 0")
    eval_every: int = opt(50, "steps between evaluations on the validation part (and checkpoints)")
    log_every: int = opt(50, "steps between metrics lines (train loss is averaged over them)")

    # ------------------------------------------------------------------ data
    csv: str = opt("", "CSV file with a header row (default: the built-in --dataset)")
    target: list[str] = opt([], "column(s) to forecast (required with --csv); several columns train one global "
                                "model on the windows of all of them, each series prepared and scaled on its own")
    series_id: str = opt("", "panel CSV: the column naming which series a row belongs to (rows of one series "
                             "in time order); one global model over all the series of --target")
    time: str = opt("", "column of time stamps, kept for reports and plots (optional)")
    covariates: list[str] = opt([], "other numeric columns fed to the model alongside the target (past "
                                    "values only)")
    dataset: str = opt("co2", "built-in series when no --csv: co2 (Mauna Loa, monthly means of statsmodels' "
                              "weekly co2) or sunspots (yearly, 1700-2008)", choices=tuple(DATASETS))
    missing: str = opt("error", "empty or NA cells: error (name file and line), drop the row, ffill "
                                "(previous value) or interpolate (linear)",
                       choices=("error", "drop", "ffill", "interpolate"))
    non_numeric: str = opt("error", "cells that are not numbers: error (name file and line) or missing "
                                    "(then --missing applies)", choices=("error", "missing"))
    val_fraction: float = opt(0.1, "chronological validation part (selects the best checkpoint)")
    test_fraction: float = opt(0.15, "chronological hold-out at the end, scored once when training ends")
    season: int = opt(0, "seasonal period: the model's seasonal component and inputs, the seasonal-naive "
                         "baseline, MASE and the baselines' models (0: the dataset's, 12 for co2, 11 for "
                         "sunspots; for a CSV inferred from --time dates: hourly 24 or 168, daily 7 or 365 "
                         "(the stronger), weekly 52, monthly 12, quarterly 4, else 1)")
    transform: str = opt("auto", "Box-Cox transform of the target before the model: auto (log or sqrt when "
                                 "the spread grows with the level, Guerrero's test on the rows before the hold-out), none, "
                                 "sqrt, log", choices=("auto", "none", "sqrt", "log"))
    deseasonalise: str = opt("auto", "remove a Fourier seasonal component (fitted on the rows before the hold-out), which "
                                     "the model's forecasts get back: auto (when it explains a quarter or more of the "
                                     "detrended series), on, off", choices=("auto", "on", "off"))
    level_input: str = opt("auto", "also show the model the series' level (not only its changes): auto (when "
                                   "the ADF test finds the series mean-reverting), on, off",
                           choices=("auto", "on", "off"))

    # ------------------------------------------------------------------ windows and decoding
    window: int = opt(0, "past steps the model reads (0: two seasons for a season up to 52, else 8 weeks of "
                         "days; at least 2 x horizon, at most a third of the training part)")
    horizon: int = opt(12, "future steps it forecasts")
    decoder: str = opt("direct", "direct (all horizon steps from one linear head) or autoregressive (a "
                                 "recurrent decoder that feeds each median forecast back in)",
                       choices=("direct", "autoregressive"))
    quantiles: list[float] = opt([0.1, 0.5, 0.9], "quantiles forecast with the pinball loss; the median "
                                                  "(0.5, required) is the point forecast")
    batch_size: int = opt(64, "windows per training batch")

    # ------------------------------------------------------------------ model
    layers: int = opt(1, "recurrent layers of the encoder")
    hidden: int = opt(32, "hidden units of each ensemble member")
    ensemble: int = opt(5, "networks trained side by side, each from its own initialisation and batches; "
                           "their median is the forecast")
    linear_skip: bool = opt(True, "direct decoder: add a linear map of the window's values to the forecast "
                                  "(learns the autoregressive part early; the LSTM learns the rest)")
    dropout: float = opt(0.0, "dropout between layers and before the heads")
    backend: str = backend_opt()

    # ------------------------------------------------------------------ reports
    refit: bool = opt(True, "once validation has chosen the number of steps (the best checkpoint's), train a "
                            "fresh ensemble on the training and validation parts for as many passes and use it "
                            "for the hold-out and for lstmkit forecast (checkpoint 'refit'); it takes at most "
                            "--max-time again")
    calibrate: bool = opt(True, "widen or narrow each quantile so it holds on the validation part (split "
                                "conformal on the model's own quantiles): the 10-90 percent interval then means 80 percent")
    baselines: bool = opt(True, "score seasonal-naive, ARIMA and ETS (statsmodels) on the hold-out when "
                                "training ends (for a season over 24: ARIMA on Fourier terms, ETS on the "
                                "deseasonalised series)", control=True)

    @property
    def period(self) -> int:
        """The seasonal period in use (``season``, or the dataset's default)."""
        if self.season:
            return self.season
        return 1 if self.csv else DATASETS[self.dataset]

    def auto_window(self, train_rows: int) -> int:
        """The window for ``--window 0``: two seasons (a season up to 52) or 56 steps, at least twice the
        horizon, at most a third of the training rows (and at least the horizon).

        Example::

            >>> from lstmkit.tasks.forecast import ForecastConfig
            >>> ForecastConfig(season=12).auto_window(100), ForecastConfig(season=365).auto_window(3000)
            (24, 56)
        """
        m, H = self.period, self.horizon
        w = max(2 * m if m <= 52 else 56, 2 * H)
        return max(H, min(w, (train_rows - H) // 3))

    @property
    def is_global(self) -> bool:
        """Whether one model learns several series (several --target columns, or --series-id)."""
        return len(self.target) > 1 or bool(self.series_id)

    @property
    def median_index(self) -> int:
        return self.quantiles.index(0.5)

    def validate(self) -> None:
        super().validate()
        if self.window < 0:
            raise ValueError(f"window must be >= 1 (or 0: chosen from the season), got {self.window}")
        for name in ("horizon", "batch_size", "layers", "hidden", "ensemble"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.season < 0:
            raise ValueError(f"season must be >= 0, got {self.season}")
        if isinstance(self.target, str):                       # ForecastConfig(target="y") from Python
            self.target = [self.target] if self.target else []
        if self.csv and not self.target:
            raise ValueError(f"--csv {self.csv} needs --target COLUMN (the column to forecast)")
        self.refuse_together("csv", "dataset", "the series is the --csv file's")
        if not self.csv and (self.target or self.time or self.covariates or self.series_id):
            raise ValueError("--target, --time, --series-id and --covariates name columns of a --csv file; got no --csv")
        named = [*self.covariates, self.time, self.series_id]
        for t in self.target:
            if t in named or self.target.count(t) > 1:
                raise ValueError(f"--target {t!r} must be named once and not also be --time, --series-id or a "
                                 f"--covariates column")
        if self.series_id and len(self.target) > 1:
            raise ValueError(f"--series-id {self.series_id!r} takes one --target column (each series' values), got "
                             f"{len(self.target)}: {', '.join(self.target)}")
        if self.is_global and self.covariates:
            raise ValueError("--covariates work with one series; expected no --covariates with several --target "
                             "columns or --series-id")
        if not self.quantiles or sorted(set(self.quantiles)) != list(self.quantiles):
            raise ValueError(f"quantiles must be distinct and increasing, got {self.quantiles}")
        if 0.5 not in self.quantiles or not all(0 < q < 1 for q in self.quantiles):
            raise ValueError(f"quantiles must lie in (0, 1) and include 0.5 (the point forecast), got {self.quantiles}")
        for name in ("val_fraction", "test_fraction"):
            if not 0 < getattr(self, name) < 0.5:
                raise ValueError(f"{name} must be in (0, 0.5), got {getattr(self, name)}")
        self.check_probabilities("dropout")
