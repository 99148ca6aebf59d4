"""The forecaster's export: the window of past values (+ covariates, phases) -> quantile forecasts in the
data's units, the whole preparation (Box-Cox, seasonal component, scaling) in the graph."""

from __future__ import annotations

import functools
from typing import Callable

import numpy as np
import torch

from .common import Exported, _B, _finish, _io, _onnx_missing, _rng


FORECAST_HOW = [
    "Inputs: values (B, window) float64 the last 'window' values of the target, oldest first, in the data's "
    "units; phase (B, window + horizon) float64 each of those rows' and the next 'horizon' rows' position in "
    "the season (0 <= phase < period: (month - 1) % period for monthly dates, round(time / step) % period "
    "for numeric times, the row number % period otherwise; see 'phase_rule'), only when the model reads "
    "phases; covariates (B, window, C) float64 the covariate columns of the same rows, raw, only when it has "
    "some; series (B,) int64 which series each row is (its index in 'series'), only for a global run.",
    "Output: forecast (B, horizon, Q) float64 the quantiles 'quantiles' of the next 'horizon' values in the "
    "data's units, sorted along Q (calibrated when 'calibration_factors' is set); the median is the point "
    "forecast. The graph does the model's whole preparation (Box-Cox, seasonal Fourier component, scaling: "
    "'normalisation', one entry per series) and undoes it; nothing to compute outside but the phases.",
]

PHASE_RULE = ("monthly: (year * 12 + month - 1) % period; quarterly: (year * 4 + quarter - 1) % period; daily, "
              "hourly, weekly: time since 2000-01-01 in the calendar's unit, modulo the period (fractional for a "
              "yearly season); numeric times: round(time / step) % period; else the row number % period "
              "(lstmkit.tasks.forecast.prep.phases)")


class _PerSeries:
    """Constants of the series' preparations: one value each (gathered by the ``series`` input of a global
    model) or, for one series, a plain constant."""

    def __init__(self, b: _B, series) -> None:
        self.b, self.series = b, series

    def __call__(self, values, hint: str, rank: int = 2) -> str:
        """(B, 1, ...) of rank ``rank`` holding each row's series' value (a scalar constant for one series)."""
        arr = np.asarray(values, dtype=np.float64)
        if self.series is None:
            return self.b.f64(arr[0], hint)
        v = self.b.op("Gather", [self.b.f64(arr, hint), self.series], axis=0)               # (B, ...)
        return self.b.unsqueeze(v, list(range(1, rank - arr.ndim + 1)))


def _boxcox(b: _B, y: str, lams: list, per: Callable, inverse: bool = False) -> str:
    """Box-Cox (or its inverse) with each series' exponent among 0 (log), 0.5, 1 (none); float64."""
    def fixed(lam):
        if lam == 1.0:
            return y
        if lam == 0.0:
            return b.op("Exp", [b.op("Min", [y, b.f64(700.0, "cap")])]) if inverse else b.op("Log", [y])
        one, zero = b.f64(1.0, "one"), b.f64(0.0, "zero")
        if inverse:
            base = b.op("Max", [b.op("Add", [b.op("Mul", [y, b.f64(lam, "lam")]), one]), zero])
            return b.op("Pow", [base, b.f64(1.0 / lam, "inv_lam")])
        return b.op("Div", [b.op("Sub", [b.op("Pow", [b.op("Max", [y, zero]), b.f64(lam, "lam")]), one]),
                            b.f64(lam, "lam")])

    if len(set(lams)) == 1:
        return fixed(lams[0])
    lam = per(lams, "lam")                                                                 # (B, 1)
    out = y
    for value in sorted(set(lams) - {1.0}):        # each series' own branch; the others' results unused
        out = b.op("Where", [b.op("Equal", [lam, b.f64(value, "lam")]), fixed(value), out])
    return out


def _seasonal(b: _B, phase: str, coefs: np.ndarray, period: int, per: _PerSeries) -> str:
    """(B, N) phases -> (B, N) seasonal component: Fourier terms (cos k, sin k; k = 1..K) @ the coefficients."""
    K = coefs.shape[1] // 2
    k = np.arange(1, K + 1, dtype=np.float64)
    a = b.op("Div", [b.op("Mul", [b.op("Mul", [b.f64(2 * np.pi, "two_pi"), b.unsqueeze(phase, [2])]), b.f64(k, "k")]),
                     b.f64(float(period), "period")])                                       # (B, N, K)
    terms = b.op("Concat", [b.op("Cos", [a]), b.op("Sin", [a])], axis=2)                     # (B, N, 2K)
    if per.series is None:
        return b.op("MatMul", [terms, b.f64(coefs[0], "season_coef")])                       # (B, N)
    c = b.op("Gather", [b.f64(coefs, "season_coef"), per.series], axis=0)                   # (B, 2K)
    return b.squeeze(b.op("MatMul", [terms, b.unsqueeze(c, [2])]), [2])


def _forecast_member(b: _B, net, x: str) -> str:
    """One :class:`~lstmkit.tasks.forecast.model.Member` on x (B, W, F) float32 -> (B, H, Q)."""
    out, h, c = b.recurrent(net.encoder, x)                                                  # (B, W, hidden)
    if net.decoder == "direct":
        q = b.linear(b.take(out, -1, 1), net.head, "head")                                   # (B, H*Q)
        q = b.op("Reshape", [q, b.i64([0, net.horizon, net.n_q], "shape")])                  # (B, H, Q)
        if net.skip is not None:
            past = b.op("Reshape", [b.slice(x, 0, net.skip_channels, 2), b.i64([0, -1], "shape")])  # (B, W*C)
            q = b.op("Add", [q, b.unsqueeze(b.linear(past, net.skip, "skip"), [2])])
        return q
    inp = b.slice(b.slice(x, -1, 1 << 30, 1), 0, 1, 2)                                       # (B, 1, 1)
    preds = []
    for _ in range(net.horizon):
        y, h, c = b.recurrent(net.dec, inp, h0=h, c0=c)                                      # (B, 1, hidden)
        q = b.linear(y, net.head, "head")                                                    # (B, 1, Q)
        preds.append(q)
        inp = b.slice(q, net.median, net.median + 1, 2)
    return b.op("Concat", preds, axis=1)                                                      # (B, H, Q)


def _forecast_inputs(b: _B, W: int, H: int, C: int, needs_phase: bool, names: list) -> dict:
    spec = {"values": (["batch", W], "float64")}
    if needs_phase:
        spec["phase"] = (["batch", W + H], "float64")
    if C:
        spec["covariates"] = (["batch", W, C], "float64")
    if len(names) > 1:
        spec["series"] = (["batch"], "int64")
    return {k: (b.g.input(k, dtype, shape), shape, dtype) for k, (shape, dtype) in spec.items()}


def forecast_export(model, cfg, meta: dict, opset: int = 17) -> Exported:
    """The forecaster ``model`` (:class:`~lstmkit.tasks.forecast.Forecaster`) with its config and checkpoint
    metadata (each series' preparation, covariate scaling, calibration factors): one series, or a global run's
    several (a ``series`` input picks each row's preparation)."""
    from ...tasks.forecast.prep import Prep
    from ...tasks.forecast.windows import Scaler

    _onnx_missing()
    model = model.eval()
    parts = meta["parts"] if meta.get("global") else {(meta.get("names") or ["y"])[0]: meta}
    names = list(parts)
    preps = [Prep.from_json(parts[n]["prep"]) for n in names]
    scalers = [Scaler.from_json(parts[n]["covariates"]) for n in names]
    blanks = [bool(parts[n].get("blank_level", False)) for n in names]
    W, H, Q, period = cfg.window, cfg.horizon, len(cfg.quantiles), preps[0].period
    C, factors, level = len(scalers[0].mean), meta.get("factors"), bool(meta["level"])
    K2 = max(len(p.season_coef) for p in preps)
    coefs = np.array([list(p.season_coef) or [0.0] * K2 for p in preps], dtype=np.float64)  # (S, 2K)
    needs_phase = period > 1 or K2 > 0
    b = _B("lstmkit_forecast", opset)
    ins = _forecast_inputs(b, W, H, C, needs_phase, names)
    val = {k: v[0] for k, v in ins.items()}
    per = _PerSeries(b, val.get("series"))
    d = _boxcox(b, val["values"], [p.lam for p in preps], per)                               # (B, W)
    seas = _seasonal(b, val["phase"], coefs, period, per) if K2 else None                   # (B, W + H)
    if seas is not None:
        d = b.op("Sub", [d, b.slice(seas, 0, W, 1)])
    anchor = b.slice(d, W - 1, W, 1)                                                          # (B, 1)
    scale = per([p.scale for p in preps], "scale")
    parts_x = [b.unsqueeze(b.op("Div", [b.op("Sub", [d, anchor]), scale]), [2])]              # (B, W, 1)
    if level:
        lv = b.op("Div", [b.op("Sub", [d, per([p.level for p in preps], "level")]),
                          per([p.spread for p in preps], "spread")])
        if any(blanks):                                   # a global run's series without a level of its own
            lv = b.op("Mul", [lv, per([0.0 if x else 1.0 for x in blanks], "has_level")])
        parts_x.append(b.unsqueeze(lv, [2]))
    if period > 1:
        a = b.op("Div", [b.op("Mul", [b.f64(2 * np.pi, "two_pi"), b.slice(val["phase"], 0, W, 1)]),
                         b.f64(float(period), "period")])
        parts_x += [b.unsqueeze(b.op("Cos", [a]), [2]), b.unsqueeze(b.op("Sin", [a]), [2])]
    if C:
        parts_x.append(b.op("Div", [b.op("Sub", [val["covariates"], b.f64(scalers[0].mean, "cov_mean")]),
                                    b.f64(scalers[0].std, "cov_std")]))
    x = b.op("Cast", [b.op("Concat", parts_x, axis=2)], to=1)                                # (B, W, F) float32
    outs = [_forecast_member(b, net, x) for net in model.nets]
    if len(outs) == 1:
        units = outs[0]
    else:                                                  # torch.median: the lower middle value
        stacked = b.op("Concat", [b.unsqueeze(o, [0]) for o in outs], axis=0)                # (K, B, H, Q)
        srt = b.op("TopK", [stacked, b.i64([len(outs)], "k")], outputs=2, axis=0, largest=0, sorted=1)[0]
        units = b.take(srt, (len(outs) - 1) // 2, 0)
    units = b.op("Cast", [b.sort_last(units, Q)], to=11)                                     # (B, H, Q) float64
    if factors is not None:
        m = cfg.median_index
        med = b.slice(units, m, m + 1, 2)
        units = b.sort_last(b.op("Add", [med, b.op("Mul", [b.f64(factors, "factors"), b.op("Sub", [units, med])])]), Q)
    scale3 = per([p.scale for p in preps], "scale", rank=3)
    dd = b.op("Add", [b.unsqueeze(anchor, [2]), b.op("Mul", [units, scale3])])
    if seas is not None:
        dd = b.op("Add", [dd, b.unsqueeze(b.slice(seas, W, W + H, 1), [2])])
    out = _boxcox(b, dd, [p.lam for p in preps], functools.partial(per, rank=3), inverse=True)   # (B, H, Q)
    onnx_model = _finish(b, {"forecast": (out, "float64", ["batch", H, Q])})
    norm = [{"series": n, "box_cox_lambda": p.lam, "season_coef": list(p.season_coef), "level": p.level,
             "spread": p.spread, "scale": p.scale, "blank_level": x, "covariate_mean": s.mean.tolist(),
             "covariate_std": s.std.tolist()} for n, p, s, x in zip(names, preps, scalers, blanks)]
    meta_out = {"job": "forecast", "inputs": _io({k: (v[1], v[2]) for k, v in ins.items()}),
                "outputs": _io({"forecast": (["batch", H, Q], "float64")}),
                "window": W, "horizon": H, "quantiles": list(cfg.quantiles), "median_index": cfg.median_index,
                "series": names, "covariates": list(cfg.covariates) if C else [], "period": period,
                "calendar": preps[0].calendar, "phase_rule": PHASE_RULE if needs_phase else None,
                "level_channel": level, "normalisation": norm, "calibration_factors": factors,
                "ensemble": len(model.nets), "decoder": cfg.decoder, "how_to_run": FORECAST_HOW}

    def example(batch: int = 2, length: int = 0, seed: int = 0) -> dict:
        rng = _rng(seed)
        which = rng.integers(0, len(names), size=batch)
        start = rng.integers(0, max(period, 1), size=(batch, 1))
        ph = np.mod(start + np.arange(W + H)[None, :], max(period, 1)).astype(np.float64)
        walk = np.cumsum(rng.standard_normal((batch, W)) * 0.3, axis=1)
        rows = [preps[s].inverse(preps[s].level + preps[s].spread * walk[i], ph[i, :W]) for i, s in enumerate(which)]
        feed = {"values": np.stack(rows).astype(np.float64)}
        if needs_phase:
            feed["phase"] = ph
        if C:
            feed["covariates"] = scalers[0].mean + scalers[0].std * rng.standard_normal((batch, W, C))
        if len(names) > 1:
            feed["series"] = which.astype(np.int64)
        return feed

    @torch.no_grad()
    def reference(feed: dict) -> dict:
        from ...tasks.forecast.task import predict
        from ...tasks.forecast.windows import Encoded, make_windows

        rows = []
        for i, v in enumerate(feed["values"]):
            s = int(feed["series"][i]) if len(names) > 1 else 0
            prep, sc = preps[s], scalers[s]
            ph = feed["phase"][i] if needs_phase else np.zeros(W + H)
            cv = feed["covariates"][i] if C else np.zeros((W, 0))
            enc = Encoded(prep.forward(v, ph[:W]), ph, (cv - sc.mean) / sc.std, v)
            w = make_windows(enc, [W], W, H, prep, level, blanks[s])
            rows.append(predict(model, w, prep, factors, cfg.median_index)[0])
        return {"forecast": np.stack(rows)}

    return Exported("forecast", onnx_model, meta_out, example, reference, relative=True)
