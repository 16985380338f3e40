"""Daily bars from Yahoo Finance via yfinance, each stored under the desk's name for it.

The desk names its indices as the bundled history does (``SP500``, ``GSPC``, ``IXIC``, ``VIX``); Yahoo spells them
``^GSPC``, ``^IXIC``, ``^VIX``, and a share class with a dash (``BRK-B`` for ``BRK.B``). ``ticker_for`` maps the one to
the other, and the bars come back under the name asked for. Offline (an empty answer, or a download that raises)
it serves nothing and says so: the loader turns that into an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import pandas as pd

from tools.data.base import DataSourceError, DataValidationError, Fetched
from tools.data.validate import BAR_COLUMNS, PRICE_COLUMNS, validate_bars

UNREACHABLE = "yfinance returned nothing (offline, or Yahoo unreachable)"
# The desk's names (the bundled history's) -> Yahoo's tickers.
TICKERS: dict[str, str] = {"SP500": "^GSPC", "GSPC": "^GSPC", "IXIC": "^IXIC", "NASDAQ": "^IXIC", "VIX": "^VIX"}


def ticker_for(symbol: str) -> str:
    """Yahoo's ticker for the desk's ``symbol``: an index by its caret name, a share class with a dash."""
    return TICKERS.get(symbol, symbol if symbol.startswith("^") else symbol.replace(".", "-"))


def kind_of(symbol: str) -> str:
    """Yahoo's convention: '^GSPC', '^VIX' are indices; everything else is treated as an equity."""
    return "index" if ticker_for(symbol).startswith("^") else "equity"


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
        tickers = {s: ticker_for(s) for s in wanted}
        raw = self._download(list(dict.fromkeys(tickers.values())), until)
        if raw is None or raw.empty:
            return Fetched(frames={}, kinds=kinds, stale=True, note=UNREACHABLE)
        frames: dict[str, pd.DataFrame] = {}
        rejected: dict[str, str] = {}
        notes = {s: f"{s} is Yahoo's {t}" for s, t in tickers.items() if t != s}
        for symbol in wanted:
            bars = _one(raw, tickers[symbol], len(set(tickers.values())))
            if bars is None or bars.empty:
                asked = f" (Yahoo's {tickers[symbol]})" if tickers[symbol] != symbol else ""
                rejected[symbol] = f"yfinance returned no rows{asked}; check the ticker (delisted or misspelt?)"
                continue
            try:
                frames[symbol] = validate_bars(symbol, bars, kinds[symbol], self.max_jump)
            except DataValidationError as exc:
                rejected[symbol] = exc.reason
        return Fetched(frames=frames, kinds=kinds, rejected=rejected,
                       notes={s: n for s, n in notes.items() if s in frames})

    def _download(self, symbols: list[str], until: date | None) -> pd.DataFrame | None:
        import yfinance

        end = (until + timedelta(days=1)).isoformat() if until is not None else None  # yfinance's end is exclusive
        try:
            return yfinance.download(symbols, start=self.start.isoformat(), end=end, auto_adjust=False,
                                     progress=False, threads=False, group_by="ticker")
        except Exception:  # noqa: BLE001 - any failure to reach Yahoo means: nothing came back
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
