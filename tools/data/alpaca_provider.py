"""Daily bars from Alpaca's market data API (alpaca-py's StockHistoricalDataClient), adjusted for splits and
dividends (``Adjustment.ALL``), from ``start`` to ``until`` inclusive.

Alpaca serves US equities and ETFs, no index and no macro series. The S&P 500 (``SP500``, ``^GSPC``) is served by its
tradable proxy SPY (the SPDR S&P 500 ETF: the index's moves, plus its dividends under ``Adjustment.ALL``, less its
fee), stored under the name asked for, and the load's note says so; every other index or macro series is refused
with the reason. Adjusted history is restated after every split and dividend, so a load replaces each symbol's
whole series (``Fetched.restated``) instead of appending to yesterday's adjustment. Unreachable, it serves nothing
new and says so, as yfinance does (the loader makes it an error); refused keys are one line.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

import pandas as pd

from brokers.alpaca.config import AlpacaKeys, AlpacaOptions
from brokers.alpaca.errors import classify
from brokers.alpaca.orders import NEW_YORK
from brokers.alpaca.rest import TimedSession, data_client
from tools.data.base import DataSourceError, DataValidationError, Fetched
from tools.data.validate import validate_bars

PROXIES: dict[str, tuple[str, str]] = {  # asked for -> (Alpaca symbol, what it stands for)
    "SP500": ("SPY", "the S&P 500"), "^GSPC": ("SPY", "the S&P 500"), "GSPC": ("SPY", "the S&P 500"),
}
REFUSED: dict[str, str] = {
    "IXIC": "the NASDAQ Composite has no ETF that tracks it (QQQ tracks the NASDAQ-100, another index)",
    "^IXIC": "the NASDAQ Composite has no ETF that tracks it (QQQ tracks the NASDAQ-100, another index)",
    "VIX": "VIX is an index of option prices; no ETF holds it (VIXY holds VIX futures, another series)",
    "^VIX": "VIX is an index of option prices; no ETF holds it (VIXY holds VIX futures, another series)",
}
UNREACHABLE = "Alpaca's market data API unreachable"
ADJUSTMENT = "all"


class AlpacaDataProvider:
    """Daily bars of US equities and ETFs from Alpaca; see the module docstring for proxies and restated history."""

    name = "alpaca"

    def __init__(self, keys: AlpacaKeys, url: str | None = None, options: AlpacaOptions | None = None,
                 start: date = date(2016, 1, 1), max_jump: float = 0.75, client: Any = None) -> None:
        self.options = options or AlpacaOptions()
        self.start, self.max_jump = start, max_jump
        self._keys = keys
        self._client = client or data_client(keys, url, self.options, TimedSession(self.options))

    def fetch(self, symbols: Sequence[str] | None, until: date | None = None) -> Fetched:
        if not symbols:
            raise DataSourceError("alpaca needs a list of symbols to fetch; set data.universe or pass symbols")
        wanted = list(dict.fromkeys(s.strip().upper() for s in symbols))
        rejected = {s: _refusal(s) for s in wanted if _refusal(s)}
        asks = {s: PROXIES.get(s, (s, ""))[0] for s in wanted if s not in rejected}
        kinds = {s: ("etf" if s in PROXIES else "equity") for s in asks}
        raw = self._bars(sorted(set(asks.values())), until)
        if raw is None:
            return Fetched(frames={}, kinds=kinds, rejected=rejected, stale=True, note=UNREACHABLE)
        frames: dict[str, pd.DataFrame] = {}
        for symbol, alpaca_symbol in asks.items():
            bars = raw.get(alpaca_symbol)
            if bars is None or bars.empty:
                rejected[symbol] = f"Alpaca returned no daily bars for {alpaca_symbol} (an unknown symbol, or none " \
                                   f"from {self.start} on)"
                continue
            try:
                frames[symbol] = validate_bars(symbol, bars, kinds[symbol], self.max_jump)
            except DataValidationError as exc:
                rejected[symbol] = exc.reason
        adjusted = (f"split- and dividend-adjusted (Adjustment.ALL) daily bars from Alpaca's {self.options.bar_feed} "
                    "feed")
        proxies = {s: f"{s} is {PROXIES[s][0]} (ETF proxy for {PROXIES[s][1]}: Alpaca serves no index bars)"
                   for s in frames if s in PROXIES}
        note = "; ".join([f"{adjusted}, each symbol's history replaced", *proxies.values()])
        notes = {s: "; ".join([adjusted, *([proxies[s]] if s in proxies else [])]) for s in frames}
        return Fetched(frames=frames, kinds={s: kinds[s] for s in frames}, rejected=rejected, note=note,
                       notes=notes, restated=True)

    def _bars(self, symbols: list[str], until: date | None) -> dict[str, pd.DataFrame] | None:
        from alpaca.data.enums import Adjustment, DataFeed
        from alpaca.data.requests import StockBarsRequest
        from alpaca.data.timeframe import TimeFrame

        if not symbols:
            return {}
        end = datetime.combine(until + timedelta(days=1), time(0), NEW_YORK) if until is not None else None
        request = StockBarsRequest(symbol_or_symbols=symbols, timeframe=TimeFrame.Day, adjustment=Adjustment.ALL,
                                   feed=DataFeed(self.options.bar_feed), end=end,
                                   start=datetime.combine(self.start, time(0), NEW_YORK))
        try:
            barset = self._client.get_stock_bars(request)
        except Exception as exc:  # sorted by classify; anything it does not know is re-raised
            f = classify(exc, self._keys.values())
            if f is None:
                raise
            if f.kind in ("lost", "not_sent"):
                return None
            if f.kind == "auth":
                raise DataSourceError(f"Alpaca refused the API keys ({f.describe()}): check APCA_API_KEY_ID and "
                                      "APCA_API_SECRET_KEY") from None
            raise DataSourceError(f"Alpaca's market data API answered {f.describe()}") from None
        return {s: _frame(bars) for s, bars in barset.data.items()}


def _refusal(symbol: str) -> str | None:
    if symbol in REFUSED:
        return f"{REFUSED[symbol]}: Alpaca serves US equities and ETFs only; load it from another source"
    if symbol.startswith("^") and symbol not in PROXIES:
        return "an index: Alpaca serves no index bars and the desk knows no ETF proxy for it"
    return None


def _frame(bars: list[Any]) -> pd.DataFrame:
    index = pd.DatetimeIndex([pd.Timestamp(b.timestamp.astimezone(NEW_YORK).date()) for b in bars], name="date")
    return pd.DataFrame({"open": [b.open for b in bars], "high": [b.high for b in bars], "low": [b.low for b in bars],
                         "close": [b.close for b in bars], "volume": [b.volume for b in bars]}, index=index)
