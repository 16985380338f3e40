"""Passive benchmarks for replay reports: buy-and-hold one series, equal-weight a universe.

Both trade fractional shares at closes with no costs; both use only prices known on the
day they act (no look-ahead). Dates are trading dates; ``start`` and ``end`` are inclusive.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd


def _in_range(prices: pd.Series | pd.DataFrame, start: date, end: date, capital: float):
    if not isinstance(prices.index, pd.DatetimeIndex):
        raise ValueError("prices need a DatetimeIndex")
    if not prices.index.is_monotonic_increasing or not prices.index.is_unique:
        raise ValueError("price index must be strictly increasing dates; sort it and drop duplicates")
    if start > end:
        raise ValueError(f"start {start} is after end {end}")
    if not (capital > 0 and np.isfinite(capital)):
        raise ValueError(f"capital must be a positive amount, got {capital}")
    dates = np.array(prices.index.date)
    window = prices[(dates >= start) & (dates <= end)]
    values = window.to_numpy(dtype=float)
    if (values[~np.isnan(values)] <= 0).any():
        raise ValueError("prices must be positive; fix or drop the non-positive closes")
    return window


def buy_and_hold(close: pd.Series, start: date, end: date, capital: float) -> pd.Series:
    """Equity of buying ``capital`` worth at the first close in [start, end] and holding it."""
    window = _in_range(close, start, end, capital).dropna()
    if window.empty:
        raise ValueError(f"no close for {close.name or 'the series'} between {start} and {end}")
    return (capital * window / window.iloc[0]).rename("buy_and_hold")


def equal_weight(
    closes: pd.DataFrame, start: date, end: date, capital: float, rebalance: str = "ME"
) -> pd.Series:
    """Equity of an equal-weight book over the symbols (columns) of ``closes``.

    The book buys at the first close in range and rebalances at the close of the last
    trading day of each ``rebalance`` period (a pandas offset alias: 'ME' month-end,
    'QE', 'W-FRI', ...), splitting equity equally among the symbols that have a close that
    day. Symbols with no close in the range are ignored; a held symbol with a missing close
    is valued (and sold at the next rebalance) at its last known close.
    """
    window = _in_range(closes, start, end, capital).dropna(axis=1, how="all").dropna(how="all")
    if window.empty:
        raise ValueError(f"no closes for any symbol between {start} and {end}")
    try:
        period_ends = pd.Series(window.index, index=window.index).resample(rebalance).last()
    except ValueError as exc:
        hint = "use a pandas offset alias like 'ME'"
        raise ValueError(f"unknown rebalance frequency {rebalance!r}: {hint}") from exc
    rebalance_at = set(period_ends.dropna()) | {window.index[0]}

    quoted = window.to_numpy(dtype=float)
    marks = window.ffill().fillna(0.0).to_numpy(dtype=float)  # shares are 0 until first quote
    shares = np.zeros(window.shape[1])
    equity = np.empty(len(window))
    value = capital
    for i, day in enumerate(window.index):
        if i > 0:
            value = float(shares @ marks[i])
        equity[i] = value
        if day in rebalance_at:
            priced = ~np.isnan(quoted[i])
            shares = np.zeros(window.shape[1])
            shares[priced] = value / priced.sum() / quoted[i, priced]
    return pd.Series(equity, index=window.index, name="equal_weight")


def exposure_matched(ew_curve: pd.Series, invested: pd.Series, capital: float) -> pd.Series:
    """The equal-weight book held, each day, at the desk's own invested fraction (the rest in cash at 0%).

    ``invested`` is the desk's gross exposure (positions / equity) at each close; day t's benchmark return is the
    equal-weight return from t-1 to t times the fraction invested at t-1 (known then: no look-ahead). Beside the
    desk it separates timing from selection: what holding the universe at the desk's exposure would have earned,
    so the desk's excess over it is what its choice of stocks earned.
    """
    if ew_curve.empty:
        raise ValueError("no equal-weight curve to match")
    fraction = invested.reindex(ew_curve.index).ffill().fillna(0.0).clip(0.0, 1.0).shift(1).fillna(0.0)
    returns = ew_curve.pct_change().fillna(0.0) * fraction
    return (capital * (1.0 + returns).cumprod()).rename("exposure_matched")
