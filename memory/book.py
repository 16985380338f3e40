"""The book and its orders: every order the desk sent (by client_order_id), each order's cumulative fill, the
holdings with the risk metadata the exits read, and the book's daily snapshots."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any, Protocol

import pandas as pd

from memory.clock import now_utc
from memory.db import Database
from memory.records import Record
from vocab.terms import OrderRecordStatus, Side


class OrderRecord(Record):
    """An order as the store knows it: written before the broker is called, updated with each answer."""

    client_order_id: str
    intent_id: str
    run_id: str
    symbol: str
    side: Side
    quantity: float
    status: OrderRecordStatus
    session: date
    created: str
    updated: str
    detail: str | None


class FillRecord(Record):
    """One order's cumulative fill (a later, larger partial fill of the same order replaces it)."""

    fill_id: str
    client_order_id: str
    symbol: str
    side: Side
    quantity: float
    price: float
    commission: float
    session: date
    price_source: str


class Holding(Record):
    """A holding in the store's book: the broker's quantity and price, and the risk metadata the exits keep (the
    initial stop, the peak and the date it is known through, the trail, the profit tiers already taken)."""

    symbol: str
    quantity: float
    avg_price: float
    entry_date: date
    peak_date: date | None
    initial_stop: float
    peak: float
    trail_pct: float
    tiers_hit: int = 0
    updated: str | None = None


class Snapshot(Record):
    """The book at the end of a session."""

    date: date
    cash: float
    equity: float
    positions_value: float
    gross: float


class BookStore(Protocol):
    """The store's book: orders, fills, holdings, snapshots."""

    def order(self, client_order_id: str) -> OrderRecord | None: ...
    def record_order(self, client_order_id: str, intent_id: str, run_id: str, symbol: str, side: Side,
                     quantity: float, session: date, status: OrderRecordStatus, detail: str | None = None) -> bool: ...
    def update_order(self, client_order_id: str, status: OrderRecordStatus, detail: str | None = None) -> None: ...
    def orders(self, session: date | None = None) -> list[OrderRecord]: ...
    def symbols_with_orders_not_in(self, statuses: Iterable[str]) -> list[str]: ...
    def record_fill(self, fill: FillRecord) -> None: ...
    def fills(self, session: date | None = None, symbol: str | None = None) -> list[FillRecord]: ...
    def positions(self) -> dict[str, Holding]: ...
    def upsert_position(self, holding: Holding) -> None: ...
    def advance_peaks(self, day: date, closes: Mapping[str, float]) -> int: ...
    def delete_position(self, symbol: str) -> None: ...
    def save_snapshot(self, day: date, cash: float, equity: float, positions_value: float, gross: float,
                      payload: Mapping[str, Any]) -> None: ...
    def latest_snapshot(self, on_or_before: date | None = None, *, before: date | None = None) -> Snapshot | None: ...
    def snapshots(self) -> pd.DataFrame: ...
    def holdings(self) -> pd.DataFrame: ...


class Book:
    """``BookStore`` over the store's database (a part of ``memory.store.Store``)."""

    db: Database

    def order(self, client_order_id: str) -> OrderRecord | None:
        rows = self.db.query("SELECT * FROM orders WHERE client_order_id=?", [client_order_id])
        return OrderRecord.from_row(rows[0]) if rows else None

    def record_order(self, client_order_id: str, intent_id: str, run_id: str, symbol: str, side: Side,
                     quantity: float, session: date, status: OrderRecordStatus, detail: str | None = None) -> bool:
        """Insert a new order row; False (and nothing written) if this client_order_id already exists."""
        return self.db.insert_ignore("orders", {
            "client_order_id": client_order_id, "intent_id": intent_id, "run_id": run_id, "symbol": symbol,
            "side": side, "quantity": quantity, "status": status, "session": session.isoformat(), "created": now_utc(),
            "updated": now_utc(), "detail": detail})

    def update_order(self, client_order_id: str, status: OrderRecordStatus, detail: str | None = None) -> None:
        self.db.execute("UPDATE orders SET status=?, updated=?, detail=? WHERE client_order_id=?",
                        [status, now_utc(), detail, client_order_id])

    def orders(self, session: date | None = None) -> list[OrderRecord]:
        where, args = ("WHERE session=?", [session.isoformat()]) if session else ("", [])
        return OrderRecord.from_rows(self.db.query(f"SELECT * FROM orders {where} ORDER BY created", args))

    def symbols_with_orders_not_in(self, statuses: Iterable[str]) -> list[str]:
        """The symbols (sorted) with an order whose status is none of ``statuses`` (an order still in flight)."""
        final = list(statuses)
        marks = ", ".join("?" * len(final)) or "NULL"
        return [r[0] for r in self.db.execute(
            f"SELECT DISTINCT symbol FROM orders WHERE status NOT IN ({marks}) ORDER BY symbol", final).fetchall()]

    def record_fill(self, fill: FillRecord) -> None:
        """One row per order, its cumulative fill: a later, larger partial fill of the same order replaces it."""
        self.db.upsert("fills", [fill.model_dump(mode="json")], ("fill_id",))

    def fills(self, session: date | None = None, symbol: str | None = None) -> list[FillRecord]:
        given = [(c, v) for c, v in (("session", session and session.isoformat()), ("symbol", symbol)) if v]
        where = ("WHERE " + " AND ".join(f"{c} = ?" for c, _ in given)) if given else ""
        return FillRecord.from_rows(self.db.query(f"SELECT * FROM fills {where} ORDER BY session, fill_id",
                                                  [v for _, v in given]))

    # ---------------------------------------------------------------- holdings
    def positions(self) -> dict[str, Holding]:
        return {r["symbol"]: Holding.from_row(r) for r in self.db.query("SELECT * FROM positions")}

    def upsert_position(self, holding: Holding) -> None:
        row = holding.model_dump(mode="json")
        row["updated"] = now_utc()
        self.db.upsert("positions", [row], ("symbol",))

    def advance_peaks(self, day: date, closes: Mapping[str, float]) -> int:
        """Raise each holding's peak to the night's close, for a night on or after both its entry and the date its
        peak is known through. A night for a past date changes nothing; re-running a night is idempotent."""
        d, at = day.isoformat(), now_utc()
        cur = self.db.executemany(
            f"UPDATE positions SET peak = {self.db.greatest('peak', '?')}, peak_date = ?, updated = ? "
            "WHERE symbol = ? AND entry_date <= ? AND (peak_date IS NULL OR peak_date <= ?)",
            [(float(c), d, at, s, d, d) for s, c in closes.items()])
        return int(cur.rowcount)

    def delete_position(self, symbol: str) -> None:
        self.db.execute("DELETE FROM positions WHERE symbol=?", [symbol])

    # ---------------------------------------------------------------- snapshots
    def save_snapshot(self, day: date, cash: float, equity: float, positions_value: float, gross: float,
                      payload: Mapping[str, Any]) -> None:
        self.db.upsert("snapshots", [{"date": day.isoformat(), "cash": cash, "equity": equity,
                                      "positions_value": positions_value, "gross": gross,
                                      "payload": json.dumps(payload, default=str, separators=(",", ":"))}],
                       ("date",))

    def latest_snapshot(self, on_or_before: date | None = None, *, before: date | None = None) -> Snapshot | None:
        """The book's last snapshot on or before a date (or strictly before ``before``), None when there is none."""
        if before is not None:
            cond, arg = "date < ?", before.isoformat()
        elif on_or_before is not None:
            cond, arg = "date <= ?", on_or_before.isoformat()
        else:
            cond, arg = "1 = ?", 1
        rows = self.db.query(f"SELECT date, cash, equity, positions_value, gross FROM snapshots WHERE {cond} "
                             "ORDER BY date DESC LIMIT 1", [arg])
        return Snapshot.from_row(rows[0]) if rows else None

    def snapshots(self) -> pd.DataFrame:
        """Every snapshot as a frame indexed by date (cash, equity, positions_value, gross)."""
        cols = ["date", "cash", "equity", "positions_value", "gross"]
        df = pd.DataFrame(self.db.execute(f"SELECT {', '.join(cols)} FROM snapshots ORDER BY date").fetchall(),
                          columns=cols).astype({c: "float64" for c in cols[1:]})
        df.index = pd.DatetimeIndex(pd.to_datetime(df.pop("date")), name="date")
        return df

    def holdings(self) -> pd.DataFrame:
        """Market value of each holding (columns: symbols) at each snapshot's close (index: its date); 0 where a
        symbol was not held."""
        rows = self.db.execute("SELECT date, payload FROM snapshots ORDER BY date").fetchall()
        values = {d: {s: float(m.get("value", 0.0)) for s, m in json.loads(p or "{}").items()} for d, p in rows}
        df = pd.DataFrame.from_dict(values, orient="index").fillna(0.0)
        df.index = pd.DatetimeIndex(pd.to_datetime(list(values)), name="date")
        return df.reindex(columns=sorted(df.columns))
