"""Market series the weather layers, expert signals and fusion read, aligned once onto the benchmark's sessions.

Nothing is filled beyond what was known: a slow series (monthly yields) is carried forward only while its last
observation is fresh enough, and any series absent from the data stays NaN so its layer reports unavailable.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

ANNUAL = 252
FACTOR_ETFS = ("MTUM", "QUAL", "SIZE", "USMV", "VLUE")
INDEXES = ("GSPC", "IXIC")
CORR_WINDOW = 60
# Freshness limits in calendar days. VIX is used only on the session it was printed (every benchmark session
# has one while VIX is in the data). Moody's yields are monthly, dated the first day of the month after their
# month: 35 days lets one value serve until the next is due, and no longer.
VIX_MAX_AGE = 0
YIELD_MAX_AGE = 35
_MIN_DAILY_VAR = 1e-10   # a daily return variance below this (std < 0.001%) is a stale quote, not a price


def asof_fresh(series: pd.Series, dates: pd.DatetimeIndex, max_age_days: int) -> pd.Series:
    """The last observation on or before each date, NaN when none is younger than ``max_age_days``."""
    obs = series.dropna().sort_index()
    if obs.empty:
        return pd.Series(np.nan, index=dates, dtype=float)
    pos = obs.index.searchsorted(dates, side="right") - 1
    values = np.where(pos >= 0, obs.to_numpy(dtype=float)[np.maximum(pos, 0)], np.nan)
    age = (dates - obs.index[np.maximum(pos, 0)]).days.to_numpy()
    return pd.Series(np.where((pos >= 0) & (age <= max_age_days), values, np.nan), index=dates)


def _did_you_mean(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _window_sums(a: np.ndarray, window: int) -> np.ndarray:
    """Sums over each trailing window along axis 0 (row i covers rows i .. i+window-1), from a running sum."""
    c = np.concatenate([np.zeros((1,) + a.shape[1:]), np.cumsum(a, axis=0)])
    return c[window:] - c[:-window]


def rolling_corr_stats(returns: pd.DataFrame, window: int = CORR_WINDOW) -> pd.DataFrame:
    """Average pairwise correlation, PC1 explained-variance share and asset count of each trailing window.

    Moments come from cumulative sums (causal: the value at t uses returns up to t only); an asset enters a
    window only with all ``window`` returns present and a non-zero variance. PC1 share is the top eigenvalue of
    the correlation matrix over its trace (eigvalsh on every window at once).
    """
    x = returns.to_numpy(dtype=float)
    n_dates, n_assets = x.shape
    out = pd.DataFrame(np.nan, index=returns.index, columns=["avg_corr", "pc1_share", "n_assets"])
    if n_dates < window or n_assets < 2:
        out["n_assets"] = 0.0
        return out
    valid = ~np.isnan(x)
    x0 = np.where(valid, x, 0.0)
    n = _window_sums(valid.astype(float), window)
    s = _window_sums(x0, window)
    ss = _window_sums(x0[:, :, None] * x0[:, None, :], window)
    cov = (ss - s[:, :, None] * s[:, None, :] / window) / (window - 1)
    var = np.diagonal(cov, axis1=1, axis2=2).copy()
    ok = (n == window) & (var > _MIN_DAILY_VAR)
    sd = np.sqrt(np.where(ok, var, 1.0))
    corr = cov / (sd[:, :, None] * sd[:, None, :])
    pair = ok[:, :, None] & ok[:, None, :]
    corr = np.where(pair, np.clip(corr, -1.0, 1.0), 0.0)
    k = ok.sum(axis=1).astype(float)
    idx = np.arange(n_assets)
    corr[:, idx, idx] = np.where(ok, 1.0, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        avg = (corr.sum(axis=(1, 2)) - k) / (k * (k - 1))
        pc1 = np.linalg.eigvalsh(corr)[:, -1] / k
    enough = k >= 2
    out.iloc[window - 1:, 0] = np.where(enough, avg, np.nan)
    out.iloc[window - 1:, 1] = np.where(enough, pc1, np.nan)
    out.iloc[:, 2] = 0.0
    out.iloc[window - 1:, 2] = k
    return out


@dataclass(frozen=True)
class WeatherInputs:
    """Every series the weather needs, on the benchmark's sessions (``dates``); NaN where unknown."""

    dates: pd.DatetimeIndex
    benchmark: str
    bench: pd.Series
    universe: tuple[str, ...]
    universe_returns: pd.DataFrame          # daily log returns of the universe
    vix: pd.Series                          # VIX close, NaN where absent or stale
    spread: pd.Series                       # BAA - AAA (percentage points), NaN where absent or stale
    spread_obs: pd.Series                   # BAA - AAA as published (one value a month), for trailing norms
    etf: pd.DataFrame                       # factor ETF closes
    index_close: pd.DataFrame               # GSPC / IXIC closes
    index_volume: pd.DataFrame              # GSPC / IXIC volumes
    missing: dict[str, str] = field(default_factory=dict)

    @cached_property
    def bench_logret(self) -> pd.Series:
        return np.log(self.bench).diff()

    @cached_property
    def bench_vol_21d(self) -> pd.Series:
        """Annualised 21-session realised volatility of the benchmark."""
        return self.bench_logret.rolling(21, min_periods=21).std() * np.sqrt(ANNUAL)

    @cached_property
    def corr(self) -> pd.DataFrame:
        return rolling_corr_stats(self.universe_returns)


def _column(frame: pd.DataFrame, name: str, dates: pd.DatetimeIndex) -> pd.Series:
    if name in frame.columns:
        return frame[name].reindex(dates).astype(float)
    return pd.Series(np.nan, index=dates, dtype=float)


def prepare_inputs(close: pd.DataFrame, volume: pd.DataFrame | None, universe: Sequence[str],
                   benchmark: str = "SP500") -> WeatherInputs:
    """Align the store's wide frames (dates × symbols) onto the benchmark's sessions; check names first."""
    if benchmark not in close.columns:
        raise ValueError(f"benchmark {benchmark!r} has no closes{_did_you_mean(benchmark, close.columns)}")
    unknown = [s for s in universe if s not in close.columns]
    if unknown:
        raise ValueError(f"unknown universe symbol {unknown[0]!r}{_did_you_mean(unknown[0], close.columns)}")
    close = close.sort_index()
    volume = (volume if volume is not None else pd.DataFrame(index=close.index)).sort_index()
    bench = close[benchmark].dropna().astype(float)
    if bench.empty:
        raise ValueError(f"benchmark {benchmark!r} has no closes")
    dates = pd.DatetimeIndex(bench.index, name="date")
    missing = {name: f"{name} not in data" for name in ("VIX", "AAA", "BAA", *FACTOR_ETFS, *INDEXES)
               if name not in close.columns}
    vix = asof_fresh(close["VIX"], dates, VIX_MAX_AGE) if "VIX" in close else _column(close, "VIX", dates)
    if {"AAA", "BAA"} <= set(close.columns):
        obs = (close["BAA"] - close["AAA"]).dropna()
        spread = asof_fresh(obs, dates, YIELD_MAX_AGE)
    else:
        obs, spread = pd.Series(dtype=float), pd.Series(np.nan, index=dates, dtype=float)
    uni = tuple(universe)
    returns = np.log(close[list(uni)].reindex(dates).astype(float)).diff() if uni else pd.DataFrame(index=dates)
    return WeatherInputs(
        dates=dates, benchmark=benchmark, bench=bench.set_axis(dates), universe=uni, universe_returns=returns,
        vix=vix, spread=spread, spread_obs=obs,
        etf=pd.DataFrame({e: _column(close, e, dates) for e in FACTOR_ETFS}),
        index_close=pd.DataFrame({i: _column(close, i, dates) for i in INDEXES}),
        index_volume=pd.DataFrame({i: _column(volume, i, dates) for i in INDEXES}),
        missing=missing,
    )
