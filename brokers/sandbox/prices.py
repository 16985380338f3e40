"""The sandbox's price table: what each instrument trades at during its session.

``PriceTable.of(...)`` accepts a mapping ``{symbol: price}``, a callable ``symbol -> price | None`` (the desk can
pass a view over its bundled history), a CSV path with ``symbol,price`` rows, or ``"bundled"`` /
``"bundled:YYYY-MM-DD"``: the last close on or before that date of skfolio's bundled S&P 500 constituents.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import Union

from pydantic import BaseModel, ConfigDict, Field

from brokers.base import PriceSourceName

PriceLookup = Callable[[str], float | None]
PricesArg = Union[Mapping[str, float], PriceLookup, str, Path, "PriceTable"]
SYMBOL = re.compile(r"^[A-Z0-9][A-Z0-9.\-]{0,14}$")


class Price(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    symbol: str
    price: float = Field(gt=0)
    as_of: date
    source: PriceSourceName


class PriceTable:
    """Prices for one session; ``get`` returns None for an instrument without a usable price."""

    def __init__(self, lookup: PriceLookup, session: date, source: PriceSourceName = "latest_close",
                 symbols: list[str] | None = None) -> None:
        self._lookup, self.session, self.source = lookup, session, source
        self._symbols = sorted(symbols or [])

    @classmethod
    def of(cls, prices: PricesArg, session: date | None = None) -> PriceTable:
        if isinstance(prices, PriceTable):
            return prices
        if isinstance(prices, Mapping):
            table = {str(k): float(v) for k, v in prices.items()}
            return cls(table.get, session or date.today(), symbols=list(table))
        if callable(prices):
            return cls(prices, session or date.today())
        text = str(prices)
        if text == "bundled" or text.startswith("bundled:"):
            return _bundled(text.partition(":")[2] or None)
        return _csv(Path(text), session or date.today())

    def get(self, symbol: str) -> Price | None:
        value = self._lookup(symbol)
        if value is None or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
            return None
        return Price(symbol=symbol, price=float(value), as_of=self.session, source=self.source)

    def search(self, query: str) -> list[Price]:
        """Instruments whose symbol starts with ``query`` (case-insensitive); an exact symbol always matches."""
        q = query.strip().upper()
        names = [s for s in self._symbols if s.startswith(q)] if q else list(self._symbols)
        if q and q not in names:
            names.insert(0, q)
        return [p for p in (self.get(s) for s in names) if p is not None]


def _csv(path: Path, session: date) -> PriceTable:
    if not path.is_file():
        raise ValueError(f"price file {path} not found; pass a CSV with symbol,price rows, or 'bundled'")
    table: dict[str, float] = {}
    with path.open(newline="") as f:
        for n, row in enumerate(csv.reader(f), start=1):
            if not row or row[0].strip().lower() == "symbol":
                continue
            if len(row) != 2:
                raise ValueError(f"{path}:{n}: expected 'symbol,price', got {len(row)} fields")
            symbol, raw = row[0].strip().upper(), row[1].strip()
            try:
                price = float(raw)
            except ValueError:
                raise ValueError(f"{path}:{n}: price {raw!r} for {symbol} is not a number") from None
            if not SYMBOL.match(symbol) or not math.isfinite(price) or price <= 0:
                raise ValueError(f"{path}:{n}: bad row {symbol!r},{raw!r}: need a symbol and a price > 0")
            table[symbol] = price
    if not table:
        raise ValueError(f"price file {path} has no symbol,price rows")
    return PriceTable(table.get, session, symbols=list(table))


def _bundled(day: str | None) -> PriceTable:
    from skfolio.datasets import load_sp500_dataset  # shipped inside the skfolio package, no network

    closes = load_sp500_dataset()
    if day is not None:
        try:
            cutoff = date.fromisoformat(day)
        except ValueError:
            raise ValueError(f"bundled prices: {day!r} is not a date (use bundled:YYYY-MM-DD)") from None
        closes = closes[closes.index.date <= cutoff]
    if closes.empty:
        raise ValueError(f"bundled prices: no closes on or before {day}")
    last = closes.ffill().iloc[-1]
    table = {str(s): float(v) for s, v in last.items() if math.isfinite(v) and v > 0}
    return PriceTable(table.get, closes.index[-1].date(), source="close", symbols=list(table))
