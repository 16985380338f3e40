"""Market data: the daily bars of every symbol, what the store holds per symbol, and the wide frames the tools
read (cached as Parquet beside the store under the bars' revision: ``memory.bar_cache``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from memory.bar_cache import BarCache
from memory.clock import now_utc
from memory.db import Database, copy_rows, is_postgres, same_database
from memory.records import Record

BAR_COLUMNS = ("open", "high", "low", "close", "volume")
BARS_REVISION = "bars_revision"   # meta key: a new value in the transaction of every write of bars


class SymbolInfo(Record):
    """What the store holds for one symbol: its kind and source, its first and last bar, whether it is stale."""

    symbol: str
    kind: str
    source: str
    first_date: date | None
    last_date: date | None
    rows: int
    loaded_at: str
    stale: bool
    note: str | None


class MarketData(Protocol):
    """The store's market data."""

    def write_bars(self, frames: Mapping[str, pd.DataFrame], kinds: Mapping[str, str], source: str,
                   until: date | None = None, stale: bool = False, note: str | Mapping[str, str] | None = None,
                   replace: bool = False) -> dict[str, int]: ...
    def copy_market_from(self, other: Path | str) -> None: ...
    def mark_stale(self, symbols: Iterable[str], stale: bool, note: str | None = None) -> None: ...
    def symbols(self, kind: str | None = None) -> list[SymbolInfo]: ...
    def last_bar_date(self, symbol: str) -> date | None: ...
    def frame(self, field: str = "close") -> pd.DataFrame: ...
    def bars(self, symbol: str) -> pd.DataFrame: ...


class Market:
    """``MarketData`` over the store's database (a part of ``memory.store.Store``)."""

    db: Database
    postgres: bool
    _frames: dict[str, pd.DataFrame]
    _bar_cache: BarCache | None

    def __init__(self, location: Path | str) -> None: ...
    def transaction(self) -> Any: ...
    def close(self) -> None: ...
    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str | None) -> None: ...

    def write_bars(self, frames: Mapping[str, pd.DataFrame], kinds: Mapping[str, str], source: str,
                   until: date | None = None, stale: bool = False, note: str | Mapping[str, str] | None = None,
                   replace: bool = False) -> dict[str, int]:
        """Write validated bars for many symbols in one transaction; return rows written per symbol.

        Each frame is indexed by date with columns open, high, low, close, volume (open/high/low/volume may be NaN
        where the source has only closes). With ``until``, rows after it are dropped and the store stays truncated.
        With ``replace``, each written symbol's stored bars are deleted first (a source that restates history).
        ``note`` is kept on every written symbol, or per symbol from a mapping.
        """
        written: dict[str, int] = {}
        with self.transaction():
            if until is not None:
                self.db.execute("DELETE FROM bars WHERE date > ?", [until.isoformat()])
                self.set_meta("data_until", until.isoformat())
            else:
                self.set_meta("data_until", None)
            for symbol, frame in frames.items():
                if replace:
                    self.db.execute("DELETE FROM bars WHERE symbol = ?", [symbol])
                if until is not None:
                    frame = frame[frame.index <= pd.Timestamp(until)]
                values = frame.reindex(columns=list(BAR_COLUMNS)).astype("float64")
                rows = [
                    (symbol, d.strftime("%Y-%m-%d"), *(None if v != v else float(v) for v in vals))
                    for d, vals in zip(values.index, values.to_numpy().tolist(), strict=True)
                ]
                self.db.upsert("bars", [dict(zip(("symbol", "date", *BAR_COLUMNS), r, strict=True)) for r in rows],
                               ("symbol", "date"))
                first, last, n = self.db.execute(
                    "SELECT min(date), max(date), count(*) FROM bars WHERE symbol=?", [symbol]).fetchone()
                self.db.upsert("symbols", [{
                    "symbol": symbol, "kind": kinds.get(symbol, "equity"), "source": source, "first_date": first,
                    "last_date": last, "rows": n, "loaded_at": now_utc(), "stale": int(stale),
                    "note": note.get(symbol) if isinstance(note, Mapping) else note,
                }], ["symbol"])
                written[symbol] = len(rows)
            if until is not None:
                for symbol, first, last, n in self.db.execute(
                        "SELECT symbol, min(date), max(date), count(*) FROM bars GROUP BY symbol").fetchall():
                    self.db.execute("UPDATE symbols SET first_date = ?, last_date = ?, rows = ? WHERE symbol = ?",
                                    [first, last, n, symbol])
            self.set_meta(BARS_REVISION, uuid.uuid4().hex)
        self._frames.clear()
        return written

    def copy_market_from(self, other: Path | str) -> None:
        """Copy another store's bars and symbols into this (empty) one: a replay's own store, same market. Within
        one backend the database copies them itself (SQLite: ATTACH; PostgreSQL: another schema of the same
        database); across backends or servers the rows are streamed."""
        source = type(self)(other) if is_postgres(other) else None
        try:
            with self.transaction():
                if not self.postgres and source is None:
                    self.db.execute("ATTACH DATABASE ? AS other_store", [str(other)])
                    self.db.execute("INSERT INTO bars SELECT * FROM other_store.bars")
                    self.db.execute("INSERT INTO symbols SELECT * FROM other_store.symbols")
                elif source is not None and self.postgres and same_database(source.db, self.db):
                    other_schema = source.db.execute("SELECT current_schema()").fetchone()[0]
                    for table in ("bars", "symbols"):
                        self.db.execute(f'INSERT INTO {table} SELECT * FROM "{other_schema}".{table}')
                else:
                    source = source or type(self)(other)
                    for table in ("bars", "symbols"):
                        copy_rows(source.db, self.db, table)
                self.set_meta(BARS_REVISION, uuid.uuid4().hex)
        finally:
            if source is not None:
                source.close()
        if not self.postgres and source is None:
            self.db.execute("DETACH DATABASE other_store")
        self._frames.clear()

    def mark_stale(self, symbols: Iterable[str], stale: bool, note: str | None = None) -> None:
        with self.transaction():
            for s in symbols:
                self.db.execute("UPDATE symbols SET stale = ?, note = ? WHERE symbol = ?", [int(stale), note, s])

    def symbols(self, kind: str | None = None) -> list[SymbolInfo]:
        where, args = ("WHERE kind=?", [kind]) if kind else ("", [])
        return SymbolInfo.from_rows(self.db.query(f"SELECT * FROM symbols {where} ORDER BY symbol", args))

    def last_bar_date(self, symbol: str) -> date | None:
        row = self.db.execute("SELECT max(date) FROM bars WHERE symbol=?", [symbol]).fetchone()
        return date.fromisoformat(row[0]) if row and row[0] else None

    def frame(self, field: str = "close") -> pd.DataFrame:
        """Wide frame (dates × symbols) of one bar field, cached until the next bar write: in this object, and on
        disk beside the store under the bars' revision (memory.bar_cache), so the next process reads Parquet."""
        if field not in BAR_COLUMNS:
            raise ValueError(f"unknown bar field {field!r}")
        if field not in self._frames:
            revision = self._bars_revision()
            wide = self._bar_cache.read(revision, field) if self._bar_cache is not None else None
            if wide is None:
                read_at, wide = self._read_frame(field)
                if read_at == revision and self._bar_cache is not None:
                    self._bar_cache.write(revision, field, wide)
            self._frames[field] = wide
        return self._frames[field]

    def _bars_revision(self) -> str:
        """The bars' revision, given one first if the store has none yet (a store from before revisions)."""
        revision = self.get_meta(BARS_REVISION)
        if revision is None:
            self.db.insert_ignore("meta", {"key": BARS_REVISION, "value": uuid.uuid4().hex})
            revision = self.get_meta(BARS_REVISION)
        return str(revision)

    def _read_frame(self, field: str) -> tuple[str | None, pd.DataFrame]:
        """(the revision read at, the frame) - both from one snapshot of the store."""
        with self.transaction():
            revision = self.get_meta(BARS_REVISION)
            long = pd.DataFrame(self.db.execute(f"SELECT date, symbol, {field} FROM bars").fetchall(),
                                columns=["date", "symbol", "v"])
        wide = long.pivot(index="date", columns="symbol", values="v")
        wide.index = pd.DatetimeIndex(pd.to_datetime(wide.index), name="date")
        return revision, wide.sort_index().astype("float64")

    def bars(self, symbol: str) -> pd.DataFrame:
        """One symbol's bars (date index, OHLCV columns)."""
        return pd.DataFrame({f: self.frame(f)[symbol] for f in BAR_COLUMNS if symbol in self.frame(f)}).dropna(
            subset=["close"])
