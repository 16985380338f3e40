"""Label rules and their persistence baselines, on sessions × series arrays (ARCHITECTURE.md: invariant 4).

Every statistic is first defined on the *trailing* window ending at t (known at t: the persistence baseline), and
the label at t is the same statistic on the *forward* window t+1 .. t+h, i.e. the trailing value at t+h shifted
back h sessions. A label therefore needs data up to t+h: on inputs truncated at a cutoff, rows within h sessions
of it have no label, which is how "every training label ends on or before the cutoff" is enforced.

Thresholds and where they come from:
- Regime (benchmark, h = 21 sessions, a trading month), first rule that holds wins:
  high_vol_panic: realised vol >= 30% and the path falls 10%+ below its start (tools.fusion's "high vol" and
  "correction" lines); risk_off_trend: return <= -2% (about half the 4.3% standard deviation of 21-session S&P 500
  returns, 1990-2018); calm_uptrend: return > 0 and vol < 12% (about the 1990-2018 median of 21-session vol, the
  fusion's calm line); risk_on_trend: return > 0 and vol < 20% (the fusion's risk-on line); otherwise choppy.
  On 1990-2018 this gives calm 35%, choppy 23%, risk-on 20%, risk-off 19%, panic 3%.
- Volatility bucket (per asset, h = 21): forward realised vol < 19% low, < 31% medium, else high - the terciles of
  21-session vol of the 20 bundled stocks over 1990-2018 (0.191, 0.308).
- Behaviour (per asset, w = 63): lag-1 autocorrelation of daily log returns over the window; above +1/sqrt(63)
  momentum, below -1/sqrt(63) mean-reversion, else mixed (Bartlett's one-standard-error band for a white-noise
  autocorrelation). On 1990-2018: momentum 14%, mean-reversion 21%, mixed 65%.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

ANNUAL = 252
REGIME_HORIZON = 21
PANIC_VOL, PANIC_FALL = 0.30, -0.10
RISK_OFF_RETURN = -0.02
CALM_VOL, RISK_ON_VOL = 0.12, 0.20
VOL_HORIZON = 21
VOL_EDGES = (0.19, 0.31)
VOL_BUCKETS = ("low", "medium", "high")
BEHAVIOUR_WINDOW = 63
BEHAVIOURS = ("momentum", "mean_reversion", "mixed")


def _2d(values: np.ndarray) -> np.ndarray:
    a = np.asarray(values, dtype=float)
    return a[:, None] if a.ndim == 1 else a


def _trailing(a: np.ndarray, w: int, fn) -> np.ndarray:
    """fn over each trailing window a[t-w+1 .. t] along axis 0 (NaN for the first w-1 rows)."""
    out = np.full(a.shape, np.nan)
    if len(a) >= w:
        out[w - 1:] = fn(sliding_window_view(a, w, axis=0))
    return out


def forward(trailing_values: np.ndarray, h: int) -> np.ndarray:
    """The forward-window label from the trailing statistic: value at t = trailing value at t+h (NaN at the end)."""
    out = np.full(trailing_values.shape, np.nan)
    if h < len(trailing_values):
        out[: len(trailing_values) - h] = trailing_values[h:]
    return out


def log_returns(close: np.ndarray) -> np.ndarray:
    c = _2d(close)
    out = np.full(c.shape, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[1:] = np.log(c[1:] / c[:-1])
    return out


def trailing_return(close: np.ndarray, h: int) -> np.ndarray:
    """c[t] / c[t-h] - 1."""
    c = _2d(close)
    out = np.full(c.shape, np.nan)
    out[h:] = c[h:] / c[:-h] - 1.0
    return out


def trailing_vol(close: np.ndarray, h: int) -> np.ndarray:
    """Annualised standard deviation (ddof 1) of the h daily log returns ending at t."""
    return _trailing(log_returns(close), h, lambda win: win.std(axis=-1, ddof=1)) * np.sqrt(ANNUAL)


def trailing_fall(close: np.ndarray, h: int) -> np.ndarray:
    """min(c[t-h+1 .. t]) / c[t-h] - 1: how far the path fell below its starting close (<= 0 when it fell)."""
    c = _2d(close)
    lowest = _trailing(c, h, lambda win: win.min(axis=-1))
    out = np.full(c.shape, np.nan)
    out[h:] = lowest[h:] / c[:-h] - 1.0
    return out


def trailing_autocorr(close: np.ndarray, w: int) -> np.ndarray:
    """Lag-1 autocorrelation of the w daily log returns ending at t (w-1 pairs)."""
    def rho(win: np.ndarray) -> np.ndarray:
        x, y = win[..., 1:], win[..., :-1]
        x = x - x.mean(axis=-1, keepdims=True)
        y = y - y.mean(axis=-1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (x * y).sum(axis=-1) / np.sqrt((x * x).sum(axis=-1) * (y * y).sum(axis=-1))
    return _trailing(log_returns(close), w, rho)


def regime_codes(ret: np.ndarray, vol: np.ndarray, fall: np.ndarray) -> np.ndarray:
    """REGIME_ORDER codes (0 calm .. 4 panic) from a window's return, vol and fall; -1 where any is NaN."""
    known = ~(np.isnan(ret) | np.isnan(vol) | np.isnan(fall))
    code = np.full(ret.shape, 2, dtype=np.int64)                 # choppy unless a rule below holds
    code = np.where((ret > 0) & (vol < RISK_ON_VOL), 1, code)
    code = np.where((ret > 0) & (vol < CALM_VOL), 0, code)
    code = np.where(ret <= RISK_OFF_RETURN, 3, code)
    code = np.where((vol >= PANIC_VOL) & (fall <= PANIC_FALL), 4, code)
    return np.where(known, code, -1)


def trailing_regime(bench_close: np.ndarray, h: int = REGIME_HORIZON) -> np.ndarray:
    """The regime rule on the trailing window ending at t (1-D): the persistence baseline."""
    c = _2d(bench_close)
    return regime_codes(trailing_return(c, h), trailing_vol(c, h), trailing_fall(c, h))[:, 0]


def forward_regime(bench_close: np.ndarray, h: int = REGIME_HORIZON) -> np.ndarray:
    """The regime label at t: the rule on sessions t+1 .. t+h (1-D, -1 where unknown)."""
    trailing = trailing_regime(bench_close, h).astype(float)
    trailing[trailing < 0] = np.nan
    ahead = forward(trailing, h)
    return np.where(np.isnan(ahead), -1, ahead).astype(np.int64)


def vol_codes(vol: np.ndarray) -> np.ndarray:
    """0 low / 1 medium / 2 high by VOL_EDGES; -1 where NaN."""
    return np.where(np.isnan(vol), -1, np.digitize(np.nan_to_num(vol), VOL_EDGES)).astype(np.int64)


def behaviour_codes(rho: np.ndarray, w: int = BEHAVIOUR_WINDOW) -> np.ndarray:
    """0 momentum / 1 mean-reversion / 2 mixed by the +-1/sqrt(w) band; -1 where NaN."""
    band = 1.0 / np.sqrt(w)
    code = np.where(rho > band, 0, np.where(rho < -band, 1, 2))
    return np.where(np.isnan(rho), -1, code).astype(np.int64)


def cross_sectional_rank(values: np.ndarray) -> np.ndarray:
    """Per row, each finite value's rank among the row's finite values as (rank - 0.5) / n, in (0, 1)."""
    out = np.full(values.shape, np.nan)
    for i, row in enumerate(values):
        ok = np.isfinite(row)
        n = int(ok.sum())
        if n:
            ranks = row[ok].argsort(kind="stable").argsort(kind="stable")
            out[i, ok] = (ranks + 0.5) / n
    return out
