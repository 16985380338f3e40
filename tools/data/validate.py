"""Validate and normalise one symbol's daily bars. Every rejection names the first offending date."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from tools.data.base import KINDS, DataValidationError

BAR_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")
PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")
_TOLERANCE = 1e-9  # relative slack for float noise in close-within-range
# Plausibility bounds, far beyond any real print: the dearest US share (Berkshire A) has traded below 1e6 dollars,
# index levels and yields far lower, and no session's volume reaches 1e13 shares. A value past them is a bad
# print or an overflow (1e308), never a price.
MAX_PRICE = 1e7
MAX_VOLUME = 1e13


def _day(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%d")


def _first(mask: pd.Series | np.ndarray, index: pd.DatetimeIndex) -> str:
    return _day(index[int(np.argmax(np.asarray(mask)))])


def _index(symbol: str, frame: pd.DataFrame) -> pd.DatetimeIndex:
    raw = frame.index
    if isinstance(raw, pd.DatetimeIndex):
        idx = raw
    elif raw.dtype == object or pd.api.types.is_string_dtype(raw.dtype):
        try:
            idx = pd.DatetimeIndex(pd.to_datetime(raw, format="ISO8601"))
        except (TypeError, ValueError):
            raise DataValidationError(symbol, "index is not dates; index bars by trading date (YYYY-MM-DD)") from None
    else:
        raise DataValidationError(symbol, f"index is {raw.dtype}, not dates; index bars by trading date")
    if idx.isna().any():
        raise DataValidationError(symbol, f"missing date at row {int(np.argmax(idx.isna()))}")
    if idx.tz is not None:
        idx = idx.tz_localize(None)  # keep the exchange's wall-clock date
    return idx.normalize().rename("date")


def _columns(symbol: str, frame: pd.DataFrame, idx: pd.DatetimeIndex) -> pd.DataFrame:
    lower = {str(c).strip().lower(): c for c in frame.columns}
    if len(lower) != len(frame.columns):
        raise DataValidationError(symbol, f"column names repeat ignoring case: {list(frame.columns)}")
    if "close" not in lower:
        raise DataValidationError(symbol, f"no 'close' column (found {sorted(lower)})")
    out = pd.DataFrame(index=idx)
    for col in BAR_COLUMNS:
        if col not in lower:
            out[col] = np.nan
            continue
        raw = frame[lower[col]]
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        bad = np.isnan(values) & raw.notna().to_numpy()
        if bad.any():
            i = int(np.argmax(bad))
            raise DataValidationError(symbol, f"{col} {raw.iloc[i]!r} on {_day(idx[i])} is not a number")
        out[col] = values
    return out


def validate_bars(symbol: str, frame: pd.DataFrame, kind: str, max_jump: float = 0.75) -> pd.DataFrame:
    """Return ``frame`` normalised (tz-naive 'date' index, float OHLCV) or raise DataValidationError saying why.

    Open/high/low/volume may be all-NaN when the source has only closes; a column that is present must be complete.
    Macro series (yields, VIX, oil) need only be finite: no positivity or jump checks.
    """
    if kind not in KINDS:
        raise DataValidationError(symbol, f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    if max_jump <= 0:
        raise DataValidationError(symbol, f"max_jump must be positive, got {max_jump}")
    if frame is None or len(frame) == 0:
        raise DataValidationError(symbol, "no bars (empty series)")
    idx = _index(symbol, frame)
    dup = idx.duplicated()
    if dup.any():
        raise DataValidationError(symbol, f"duplicate date {_first(dup, idx)}")
    back = np.diff(idx.asi8) < 0
    if back.any():
        i = int(np.argmax(back)) + 1
        raise DataValidationError(symbol, f"dates out of order: {_day(idx[i])} follows {_day(idx[i - 1])}")
    bars = _columns(symbol, frame, idx)
    _check_values(symbol, bars, kind)
    if kind != "macro":
        _check_jumps(symbol, bars["close"], max_jump)
    return bars


def _check_values(symbol: str, bars: pd.DataFrame, kind: str) -> None:
    idx = bars.index
    close = bars["close"]
    if close.isna().any():
        raise DataValidationError(symbol, f"close is missing (NaN) on {_first(close.isna(), idx)}")
    for col in ("open", "high", "low"):
        missing = bars[col].isna()
        if missing.any() and not missing.all():
            raise DataValidationError(symbol, f"{col} is missing (NaN) on {_first(missing, idx)} "
                                              f"while present on other dates")
    for col in BAR_COLUMNS:
        infinite = np.isinf(bars[col].to_numpy())
        if infinite.any():
            raise DataValidationError(symbol, f"{col} is infinite on {_first(infinite, idx)}")
        bound = MAX_VOLUME if col == "volume" else MAX_PRICE
        huge = np.abs(np.nan_to_num(bars[col].to_numpy())) > bound
        if huge.any():
            i = int(np.argmax(huge))
            raise DataValidationError(symbol, f"{col} {bars[col].iloc[i]:g} on {_day(idx[i])} is not a plausible "
                                              f"value (above {bound:g}); check the source")
    if kind != "macro":
        for col in ("close", "open", "high", "low"):
            bad = bars[col] <= 0
            if bad.any():
                i = int(np.argmax(bad.to_numpy()))
                raise DataValidationError(symbol, f"{col} {bars[col].iloc[i]:g} on {_day(idx[i])} is not positive")
    high, low = bars["high"], bars["low"]
    inverted = high < low
    if inverted.any():
        i = int(np.argmax(inverted.to_numpy()))
        raise DataValidationError(symbol, f"high {high.iloc[i]:g} below low {low.iloc[i]:g} on {_day(idx[i])}")
    slack = close.abs() * _TOLERANCE
    outside = (close > high + slack) | (close < low - slack)  # NaN high/low compare False: unknown range
    if outside.any():
        i = int(np.argmax(outside.to_numpy()))
        raise DataValidationError(symbol, f"close {close.iloc[i]:g} outside [low {low.iloc[i]:g}, "
                                          f"high {high.iloc[i]:g}] on {_day(idx[i])}")
    negative = bars["volume"] < 0
    if negative.any():
        i = int(np.argmax(negative.to_numpy()))
        raise DataValidationError(symbol, f"negative volume {bars['volume'].iloc[i]:g} on {_day(idx[i])}")


def _check_jumps(symbol: str, close: pd.Series, max_jump: float) -> None:
    ret = close.pct_change().to_numpy()
    jump = np.abs(np.nan_to_num(ret)) > max_jump
    if jump.any():
        i = int(np.argmax(jump))
        raise DataValidationError(
            symbol, f"close jumps {ret[i]:+.1%} from {_day(close.index[i - 1])} to {_day(close.index[i])} "
                    f"(limit {max_jump:.0%}); check for a split or a bad print")


def check_continuity(symbol: str, stored: pd.Series, frame: pd.DataFrame, max_jump: float) -> None:
    """The first new close against the stored close before it: a file of a few rows must not jump a known
    series (the jump check inside a frame cannot see across its first row)."""
    if frame.empty or stored.empty:
        return
    first = frame.index[0]
    before = stored[stored.index < first].dropna()
    if before.empty:
        return
    prev, new = float(before.iloc[-1]), float(frame["close"].iloc[0])
    change = new / prev - 1 if prev > 0 else np.inf
    if abs(change) > max_jump:
        raise DataValidationError(
            symbol, f"close jumps {change:+.1%} from the stored {prev:g} on {_day(before.index[-1])} to {new:g} on "
                    f"{_day(first)} (limit {max_jump:.0%}); check for a split or a bad print")


def validate_until(symbol: str, frame: pd.DataFrame, kind: str, until: date | None, max_jump: float,
                   source: str) -> pd.DataFrame:
    """Truncate a provider's frame at ``until`` (none left → rejected, naming ``source``), then validate it."""
    if until is not None:
        frame = frame[frame.index <= pd.Timestamp(until)]
        if frame.empty:
            raise DataValidationError(symbol, f"no {source} bars on or before {until.isoformat()}")
    return validate_bars(symbol, frame, kind, max_jump)
