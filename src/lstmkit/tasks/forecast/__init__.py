"""Forecasting: ``lstmkit train forecast``, ``lstmkit forecast``, ``lstmkit eval`` of forecast runs."""

from .baselines import arima_forecasts, ets_forecasts, mase_scale, scores, seasonal_naive
from .calibrate import apply_factors, conformal_factors
from .cli import evaluate_run, forecast_table, register
from .config import DATASETS, ForecastConfig
from .jobs import holdout_report, load_model, resume, train
from .model import Forecaster, pinball_loss
from .prep import Prep, infer_season
from .series import Series, builtin_series, load_series, read_csv_series
from .task import ForecastTask, predict
from .windows import Scaler, encode, make_windows, split_series

__all__ = ["ForecastConfig", "ForecastTask", "Forecaster", "Series", "Scaler", "Prep", "DATASETS", "train", "resume",
           "load_model", "holdout_report", "forecast_table", "evaluate_run", "register", "pinball_loss", "predict",
           "builtin_series", "load_series", "read_csv_series", "encode", "make_windows", "split_series", "scores",
           "mase_scale", "seasonal_naive", "arima_forecasts", "ets_forecasts", "conformal_factors", "apply_factors",
           "infer_season"]
