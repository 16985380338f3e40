"""Daily bars from Yahoo Finance via yfinance. Offline it serves nothing new and says the cache is stale."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import pandas as pd

from tools.data.base import DataSourceError, DataValidationError, Fetched
from tools.data.validate import BAR_COLUMNS, PRICE_COLUMNS, validate_bars

UNREACHABLE = "yfinance unreachable (offline?): serving cached data, flagged stale"


def kind_of(symbol: str) -> str:
    """Yahoo's convention: '^GSPC', '^VIX' are indices; everything else is treated as an equity."""
    return "index" if symbol.startswith("^") else "equity"


class YFinanceProvider:
    """Unadjusted daily OHLCV (``auto_adjust=False``) from ``start`` to ``until`` inclusive."""

    name = "yfinance"

    def __init__(self, start: date = date(1990, 1, 1), max_jump: float = 0.75) -> None:
        self.start = start
        self.max_jump = max_jump

    def fetch(self, symbols: Sequence[str] | None, until: date | None = None) -> Fetched:
        if not symbols:
            raise DataSourceError("yfinance needs a list of symbols to fetch; set data.universe or pass symbols")
        wanted = list(dict.fromkeys(s.strip().upper() for s in symbols))
        kinds = {s: kind_of(s) for s in wanted}
        raw = self._download(wanted, until)
        if raw is None or raw.empty:
            return Fetched(frames={}, kinds=kinds, stale=True, note=UNREACHABLE)
        frames: dict[str, pd.DataFrame] = {}
        rejected: dict[str, str] = {}
        for symbol in wanted:
            bars = _one(raw, symbol, len(wanted))
            if bars is None or bars.empty:
                rejected[symbol] = "yfinance returned no rows; check the ticker (delisted or misspelt?)"
                continue
            try:
                frames[symbol] = validate_bars(symbol, bars, kinds[symbol], self.max_jump)
            except DataValidationError as exc:
                rejected[symbol] = exc.reason
        return Fetched(frames=frames, kinds=kinds, rejected=rejected)

    def _download(self, symbols: list[str], until: date | None) -> pd.DataFrame | None:
        import yfinance

        end = (until + timedelta(days=1)).isoformat() if until is not None else None  # yfinance's end is exclusive
        try:
            return yfinance.download(symbols, start=self.start.isoformat(), end=end, auto_adjust=False,
                                     progress=False, threads=False, group_by="ticker")
        except Exception:  # noqa: BLE001 - any failure to reach Yahoo means: serve the cache, flagged stale
            return None


def _one(raw: pd.DataFrame, symbol: str, n_requested: int) -> pd.DataFrame | None:
    """One ticker's rows, lower-case OHLCV ('adj close' dropped), rows with no price at all dropped; None if absent."""
    if isinstance(raw.columns, pd.MultiIndex):
        if symbol not in raw.columns.get_level_values(0):
            return None
        sub = raw[symbol]
    elif n_requested == 1:
        sub = raw
    else:
        return None
    sub = sub.rename(columns=lambda c: str(c).strip().lower())
    sub = sub[[c for c in BAR_COLUMNS if c in sub.columns]]
    return sub.dropna(how="all", subset=[c for c in PRICE_COLUMNS if c in sub.columns])
