"""Performance metrics of a daily equity curve, and the in-sample / validation / hold-out split.

Conventions (they match empyrical-reloaded, which the tests check against):

- returns are the daily simple returns of the curve; ``days`` is their count, and a year
  is 252 of them;
- ``cagr`` = (end / start) ** (252 / days) - 1; ``volatility`` = sample std (ddof=1) × √252;
- ``sharpe`` (rf = 0) = mean / std × √252;
- ``sortino`` = mean × 252 / downside deviation, the downside deviation being
  √(mean(min(r, 0)²)) × √252 (required return 0);
- ``max_drawdown`` is the worst fall from a running peak, a negative number (0.0 if none);
- ``calmar`` = cagr / |max_drawdown|.

A ratio whose denominator is zero (a flat or constant-growth curve, whose std is only
float rounding; no losing day; no drawdown) is reported as 0.0, never inf or NaN, so
reports stay finite and comparable; a curve of two points (one return) has no
measurable dispersion, so its volatility is 0.0.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

TRADING_DAYS = 252
_RESIDUE = 1e-10  # a std below this fraction of the largest |return| is rounding, i.e. zero
IN_SAMPLE_END = date(2014, 12, 31)
VALIDATION_END = date(2018, 12, 31)  # from 2019-01-01 on, data is the hold-out


class Metrics(BaseModel):
    """Performance of one equity curve over [start, end]."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: date
    end: date
    days: int  # number of daily returns (points in the curve - 1)
    total_return: float
    cagr: float
    volatility: float
    sharpe: float
    sortino: float
    max_drawdown: float
    calmar: float
    trades: int | None = None
    turnover: float | None = None  # sum |traded notional| / average equity / years
    win_rate: float | None = None  # wins / trades


def _ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, or 0.0 where the denominator is zero (documented above)."""
    return float(numerator / denominator) if denominator > 0 else 0.0


def _checked(equity: pd.Series) -> pd.Series:
    if not isinstance(equity, pd.Series) or not isinstance(equity.index, pd.DatetimeIndex):
        raise ValueError("equity must be a pandas Series with a DatetimeIndex")
    if len(equity) < 2:
        raise ValueError(f"equity curve needs at least 2 points, got {len(equity)}")
    if not equity.index.is_monotonic_increasing or not equity.index.is_unique:
        raise ValueError("equity index must be strictly increasing dates; sort it and drop duplicates")
    values = equity.to_numpy(dtype=float)
    if not np.isfinite(values).all():
        raise ValueError("equity curve has NaN or infinite values; drop or fix them first")
    if (values <= 0).any():
        first = equity.index[int(np.argmax(values <= 0))]
        raise ValueError(f"equity must be positive, got {equity[first]!r} on {first.date()}")
    return equity.astype(float)


def performance(
    equity: pd.Series,
    trades: int | None = None,
    traded_notional: float | None = None,
    wins: int | None = None,
) -> Metrics:
    """Metrics of a daily equity curve; trade counts and traded notional are optional."""
    equity = _checked(equity)
    values = equity.to_numpy()
    returns = values[1:] / values[:-1] - 1.0
    days = len(returns)
    years = days / TRADING_DAYS

    total_return = values[-1] / values[0] - 1.0
    cagr = (values[-1] / values[0]) ** (1.0 / years) - 1.0
    std = float(np.std(returns, ddof=1)) if days >= 2 else 0.0
    if std <= _RESIDUE * float(np.abs(returns).max()):
        std = 0.0  # a constant-return curve's std is float residue, not risk: no 1e14 Sharpe
    volatility = std * math.sqrt(TRADING_DAYS)
    mean = float(returns.mean())
    sharpe = _ratio(mean, std) * math.sqrt(TRADING_DAYS)
    downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2))) * math.sqrt(TRADING_DAYS)
    sortino = _ratio(mean * TRADING_DAYS, downside) if std > 0 else 0.0
    max_drawdown = float((values / np.maximum.accumulate(values) - 1.0).min())

    if trades is not None and trades < 0:
        raise ValueError(f"trades must be >= 0, got {trades}")
    if wins is not None and (wins < 0 or trades is None or wins > trades):
        raise ValueError(f"wins must be between 0 and trades, got wins={wins}, trades={trades}")
    if traded_notional is not None and not (traded_notional >= 0 and math.isfinite(traded_notional)):
        raise ValueError(f"traded_notional must be a finite amount >= 0, got {traded_notional}")
    turnover = None if traded_notional is None else traded_notional / float(values.mean()) / years
    win_rate = None if wins is None or not trades else wins / trades

    return Metrics(
        start=equity.index[0].date(),
        end=equity.index[-1].date(),
        days=days,
        total_return=float(total_return),
        cagr=float(cagr),
        volatility=volatility,
        sharpe=sharpe,
        sortino=sortino,
        max_drawdown=max_drawdown,
        calmar=_ratio(cagr, -max_drawdown),
        trades=trades,
        turnover=turnover,
        win_rate=win_rate,
    )


def split_periods(
    equity: pd.Series,
    in_sample_end: date = IN_SAMPLE_END,
    validation_end: date = VALIDATION_END,
) -> dict[str, Metrics]:
    """Metrics per part of the curve: 'in_sample', 'validation', 'holdout' (after validation_end).

    Every daily return is counted in exactly one part, the part of the day it is earned:
    a later part starts from the curve's last point on or before its boundary (its opening
    equity), so ``start`` of 'holdout' is the last date of 2018 when the curve has one.
    Parts the curve does not reach (fewer than two points) are left out; the hold-out is
    never merged into another part.
    """
    if in_sample_end >= validation_end:
        raise ValueError(f"in_sample_end {in_sample_end} must be before validation_end {validation_end}")
    equity = _checked(equity)
    dates = np.array(equity.index.date)
    bounds = {"in_sample": (None, in_sample_end), "validation": (in_sample_end, validation_end),
              "holdout": (validation_end, None)}
    parts: dict[str, Metrics] = {}
    for name, (after, until) in bounds.items():
        inside = np.ones(len(dates), dtype=bool)
        if after is not None:
            inside &= dates > after
        if until is not None:
            inside &= dates <= until
        positions = np.flatnonzero(inside)
        if len(positions) == 0:
            continue
        first = max(positions[0] - 1, 0)  # opening equity: the last point before the part
        part = equity.iloc[first : positions[-1] + 1]
        if len(part) >= 2:
            parts[name] = performance(part)
    return parts
