"""The market-data contract: what a provider returns, and the two errors a data source can raise."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol, runtime_checkable

import pandas as pd

KINDS: tuple[str, ...] = ("equity", "etf", "index", "macro")


class DataValidationError(Exception):
    """One symbol's bars are unusable; ``str()`` is ``"SYMBOL: reason"`` (one line)."""

    def __init__(self, symbol: str, reason: str) -> None:
        super().__init__(f"{symbol}: {reason}")
        self.symbol = symbol
        self.reason = reason


class DataSourceError(Exception):
    """The source cannot be read at all (missing file, garbage line); the message is one line saying where."""


class SourceUnserved(DataSourceError):
    """A source that served nothing (offline), or not every symbol asked for: nothing was written, and the failed
    load is recorded (a live desk's data did not update)."""


@dataclass(frozen=True)
class Fetched:
    """What a provider hands back: validated frames and kinds per symbol, plus what it refused and why.

    ``note`` is the load's one line; ``notes`` what the symbols table keeps on each symbol (its adjustment, the proxy
    it stands for). ``restated``: the source restates history (adjusted prices change after every split and
    dividend), so each frame is the symbol's whole series and replaces what the store held, instead of extending it.
    """

    frames: dict[str, pd.DataFrame]
    kinds: dict[str, str]
    rejected: dict[str, str] = field(default_factory=dict)
    stale: bool = False
    note: str | None = None
    notes: dict[str, str] = field(default_factory=dict)
    restated: bool = False


@runtime_checkable
class MarketDataProvider(Protocol):
    """A source of daily bars. ``symbols=None`` means everything the source offers; ``until`` truncates."""

    name: str

    def fetch(self, symbols: Sequence[str] | None, until: date | None) -> Fetched: ...
