"""Per-asset features (vocab.contracts.ASSET_FEATURES), vectorised over all dates and strictly causal.

Every value at date t is a function of closes up to t only: rolling windows, recursive EMAs and shifts look
backwards, so removing data after t never changes a row at t. Values are NaN until a window has filled.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from vocab.contracts import ASSET_FEATURES

ANNUAL = 252
RETURN_HORIZONS = (1, 5, 21, 63, 126, 252)
TREND_WINDOW = 63
RSI_PERIOD = 14
EMA_SPANS = (12, 26, 50, 200)  # crossover fast/slow, trend fast/slow: the panel's (settings.agents may differ)
EMA_FEATURES = ("ema_cross", "ema_cross_prev", "ema_trend")


def _ema(close: pd.DataFrame, span: int) -> pd.DataFrame:
    """Recursive EMA (alpha = 2/(span+1)), NaN for the first span-1 sessions of each symbol."""
    return close.ewm(span=span, adjust=False, min_periods=span).mean()


def ema_blocks(close: pd.DataFrame, spans: tuple[int, int, int, int] = EMA_SPANS) -> dict[str, pd.DataFrame]:
    """The EMA agent's inputs for (fast, slow, trend fast, trend slow) spans: the crossover gap (fast − slow) / close,
    the same a session earlier, and the trend gap (trend fast − trend slow) / close."""
    fast, slow, trend_fast, trend_slow = spans
    cross = (_ema(close, fast) - _ema(close, slow)) / close
    return {"ema_cross": cross, "ema_cross_prev": cross.shift(1),
            "ema_trend": (_ema(close, trend_fast) - _ema(close, trend_slow)) / close}


def wilder_rsi(close: pd.DataFrame, period: int = RSI_PERIOD) -> pd.DataFrame:
    """Wilder's RSI: averages seeded with the simple mean of the first ``period`` changes, then smoothed
    recursively with alpha = 1/period. 100 when there were no losses, 50 when the price did not move."""
    delta = close.diff()
    gains, losses = delta.clip(lower=0.0).to_numpy(copy=True), (-delta).clip(lower=0.0).to_numpy(copy=True)
    seed_gain = pd.DataFrame(gains).rolling(period, min_periods=period).mean().to_numpy()
    seed_loss = pd.DataFrame(losses).rolling(period, min_periods=period).mean().to_numpy()
    first = close.notna().to_numpy().argmax(axis=0)          # first valid close of each symbol
    seed_row = first + period                                 # its first full window of changes
    rows = np.arange(len(close))[:, None]
    before = rows < seed_row[None, :]
    gains[before], losses[before] = np.nan, np.nan
    cols = np.arange(close.shape[1])
    inside = seed_row < len(close)
    gains[seed_row[inside], cols[inside]] = seed_gain[seed_row[inside], cols[inside]]
    losses[seed_row[inside], cols[inside]] = seed_loss[seed_row[inside], cols[inside]]
    alpha = 1.0 / period
    avg_gain = pd.DataFrame(gains).ewm(alpha=alpha, adjust=False).mean().to_numpy()
    avg_loss = pd.DataFrame(losses).ewm(alpha=alpha, adjust=False).mean().to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        rsi = 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
    rsi = np.where((avg_loss == 0) & (avg_gain > 0), 100.0, rsi)
    rsi = np.where((avg_loss == 0) & (avg_gain == 0), 50.0, rsi)
    return pd.DataFrame(rsi, index=close.index, columns=close.columns)


def trend_t_stat(close: pd.DataFrame, window: int = TREND_WINDOW) -> pd.DataFrame:
    """OLS slope of log close on time over the last ``window`` sessions divided by its standard error."""
    out = np.full(close.shape, np.nan)
    if len(close) < window:
        return pd.DataFrame(out, index=close.index, columns=close.columns)
    x = np.arange(window, dtype=float) - (window - 1) / 2.0
    sxx = float(x @ x)
    with np.errstate(divide="ignore", invalid="ignore"):
        logc = np.log(close.to_numpy(dtype=float))
    for j in range(close.shape[1]):                       # per symbol; each window is a strided view
        win = sliding_window_view(logc[:, j], window)
        slope = (win @ x) / sxx
        centred = win - win.mean(axis=1, keepdims=True)
        ssr = np.maximum((centred * centred).sum(axis=1) - slope * slope * sxx, 0.0)
        se = np.sqrt(ssr / (window - 2) / sxx)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(se > 0, slope / se, np.nan)
        out[window - 1:, j] = t
    return pd.DataFrame(out, index=close.index, columns=close.columns)


def _feature_blocks(close: pd.DataFrame, bench: pd.Series) -> dict[str, pd.DataFrame]:
    logret = np.log(close).diff()
    blocks: dict[str, pd.DataFrame] = {"close": close}
    for h in RETURN_HORIZONS:
        blocks[f"ret_{h}d"] = close / close.shift(h) - 1.0
    for w in (21, 63):
        blocks[f"vol_{w}d"] = logret.rolling(w, min_periods=w).std() * np.sqrt(ANNUAL)
    blocks["drawdown_252d"] = close / close.rolling(252, min_periods=252).max() - 1.0
    blocks["trend_strength"] = trend_t_stat(close)
    blocks["rsi_14"] = wilder_rsi(close)
    sma20 = close.rolling(20, min_periods=20).mean()
    blocks["bb_z_20"] = (close - sma20) / close.rolling(20, min_periods=20).std()   # pandas std: ddof=1
    blocks.update(ema_blocks(close))
    blocks["dist_sma200"] = close / close.rolling(200, min_periods=200).mean() - 1.0
    bench_ret = bench / bench.shift(63) - 1.0
    blocks["rs_63d"] = blocks["ret_63d"].sub(bench_ret.reindex(close.index), axis=0)
    return blocks


def panel_closes(close: pd.DataFrame) -> pd.DataFrame:
    """The closes the panel's features are computed on: sorted both ways, float, dates without any close dropped."""
    close = close.sort_index().sort_index(axis=1).astype("float64")
    return close[close.notna().any(axis=1)]


def asset_features(close: pd.DataFrame, benchmark: pd.Series) -> pd.DataFrame:
    """All ASSET_FEATURES for every (date, symbol) with a close; a sorted (date, symbol) MultiIndex.

    ``close`` is a wide frame (dates × symbols); ``benchmark`` the benchmark's closes (its own dates; its
    63-session return is taken over its own sessions, then aligned). Dates where no symbol has a close are dropped.
    """
    if close.empty:
        raise ValueError("asset_features needs at least one symbol with closes")
    close = panel_closes(close)
    bench = benchmark.dropna().sort_index().astype("float64")
    blocks = _feature_blocks(close, bench)
    data = np.stack([blocks[name].to_numpy(dtype=float) for name in ASSET_FEATURES], axis=-1)
    n_dates, n_syms = close.shape
    index = pd.MultiIndex.from_product([close.index, close.columns.astype(str)], names=["date", "symbol"])
    panel = pd.DataFrame(data.reshape(n_dates * n_syms, len(ASSET_FEATURES)), index=index,
                         columns=list(ASSET_FEATURES))
    return panel[~np.isnan(data[..., 0]).reshape(-1)]


def feature_row(panel: pd.DataFrame, day: date | pd.Timestamp) -> pd.DataFrame:
    """The symbols × features block of ``panel`` (from asset_features) on one date; KeyError if it has none."""
    ts = pd.Timestamp(day)
    if not panel.index.is_monotonic_increasing:       # not from asset_features: take the slow, safe path
        if ts not in panel.index.get_level_values(0):
            raise KeyError(f"no features on {ts.date()}: not a date of this feature panel")
        return panel.xs(ts, level=0)
    codes = panel.index.codes[0]
    level = panel.index.levels[0]
    pos = level.get_indexer([ts])[0]
    if pos < 0:
        raise KeyError(f"no features on {ts.date()}: not a date of this feature panel")
    lo, hi = np.searchsorted(codes, pos, side="left"), np.searchsorted(codes, pos, side="right")
    if lo == hi:
        raise KeyError(f"no features on {ts.date()}: no symbol has a close that day")
    block = panel.iloc[lo:hi]
    return block.set_axis(block.index.get_level_values(1), axis=0)
