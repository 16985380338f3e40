"""The paper broker: simulated fills over stored daily bars, its book kept in its own SQLite file.

Fill model (market orders, the only kind):

- An order fills in full when submitted, at the reference price of the broker's session: the session's open
  when its bar has one, else the session's close. When the session has no bar (the latest date in the data,
  the morning after it has not happened yet), it fills at the latest close on or before the session, with
  ``price_source='latest_close'``. ``quote()`` uses the same rule, without slippage.
- Slippage is adverse, in basis points of the reference price: a buy pays ``ref × (1 + bps/1e4)``, a sell
  receives ``ref × (1 − bps/1e4)``.
- Commission is ``max(min_commission, commission_bps × notional / 1e4)`` on the slipped notional; a buy pays
  notional + commission, a sell receives notional − commission.
- Rejected, with the reason, never raised: a buy that needs more than the cash; a sell of more than is held
  (no shorting); a sell whose proceeds cannot cover its commission; a symbol with no price on or before the
  session. A rejected order stays rejected: resubmitting its id returns the rejection; use a new id to retry.
- Quantities are in the broker's units (``quantity_rules``): whole shares unless it was configured with fractions
  (``QuantityRules(decimals=n)``); an order off its units, or below its minimum notional, is rejected with the
  reason — except a sell of the whole holding, which is always accepted. A position's ``avg_price`` is the quantity-weighted slipped fill price of
  its buys (commissions excluded); sells leave it unchanged. Positions are marked at the session's quote.
- Orders fill immediately, so none is ever open: ``cancel`` returns the order's final status.

Every write of one submit (order, fill, position, cash) happens in one transaction, so a crash leaves either
all of it or none; a new PaperBroker on the same file (a restart) sees the same book.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from bisect import bisect_right
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import sqlite_utils

from brokers.base import (WHOLE_SHARES, Account, BrokerError, Order, OrderStatus, Position, QuantityRules, Quote,
                          check_resubmit)
from memory.sqlite import StoreError, connect
from memory.store import Store

PAPER_DAMAGED = ("restore it from a backup, or move it away to start a new paper account (the desk's store keeps "
                 "every order and fill it sent)")

SCHEMA_VERSION = 1
_QTY_EPS = 1e-9
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS account (
    id INTEGER PRIMARY KEY CHECK (id = 1), cash REAL NOT NULL, initial_cash REAL NOT NULL, created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
    client_order_id TEXT PRIMARY KEY, symbol TEXT NOT NULL, side TEXT NOT NULL, quantity REAL NOT NULL,
    order_type TEXT NOT NULL, status TEXT NOT NULL, filled_qty REAL NOT NULL, avg_price REAL,
    commission REAL NOT NULL, session TEXT NOT NULL, price_source TEXT, reason TEXT, created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS fills (
    fill_id INTEGER PRIMARY KEY, client_order_id TEXT NOT NULL UNIQUE REFERENCES orders(client_order_id),
    symbol TEXT NOT NULL, side TEXT NOT NULL, quantity REAL NOT NULL, price REAL NOT NULL,
    reference_price REAL NOT NULL, commission REAL NOT NULL, session TEXT NOT NULL, price_source TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS positions (symbol TEXT PRIMARY KEY, quantity REAL NOT NULL, avg_price REAL NOT NULL);
"""
_STATUS_COLUMNS = ("client_order_id", "symbol", "side", "quantity", "status", "filled_qty", "avg_price",
                   "commission", "session", "price_source", "reason")
_SELECT_ORDER = f"SELECT {', '.join(_STATUS_COLUMNS)} FROM orders"


class PriceSource(Protocol):
    """Daily prices the paper broker fills at."""

    def bar(self, symbol: str, session: date) -> tuple[float | None, float] | None:
        """(open or None, close) of the symbol's bar on that session; None when there is no bar."""

    def latest(self, symbol: str, on_or_before: date) -> tuple[date, float] | None:
        """(date, close) of the symbol's latest close on or before the date; None when there is none."""


class StorePriceSource:
    """PriceSource over a memory.store.Store, indexed once per bar write (the store's frame cache)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._indexed: pd.DataFrame | None = None
        self._refresh()

    def _refresh(self) -> None:
        close = self._store.frame("close")
        if close is self._indexed:
            return
        opens = self._store.frame("open").reindex(index=close.index, columns=close.columns)
        self._rows = {ts.date(): i for i, ts in enumerate(close.index)}
        self._cols = {str(s): j for j, s in enumerate(close.columns)}
        self._open, self._close = opens.to_numpy(), close.to_numpy()
        self._dates = [ts.date() for ts in close.index]
        self._series: dict[str, tuple[list[date], list[float]]] = {}
        self._indexed = close

    def bar(self, symbol: str, session: date) -> tuple[float | None, float] | None:
        self._refresh()
        row, col = self._rows.get(session), self._cols.get(symbol)
        if row is None or col is None:
            return None
        close, open_ = float(self._close[row, col]), float(self._open[row, col])
        if math.isnan(close):
            return None
        return (None if math.isnan(open_) else open_), close

    def latest(self, symbol: str, on_or_before: date) -> tuple[date, float] | None:
        self._refresh()
        series = self._series.get(symbol)
        if series is None:
            col = self._cols.get(symbol)
            if col is None:
                return None
            values = self._close[:, col]
            keep = np.flatnonzero(~np.isnan(values))
            series = self._series[symbol] = ([self._dates[i] for i in keep], values[keep].tolist())
        i = bisect_right(series[0], on_or_before) - 1
        return (series[0][i], series[1][i]) if i >= 0 else None


def _usable(price: float | None) -> bool:
    return price is not None and math.isfinite(price) and price > 0


class PaperBroker:
    """A simulated broker with slippage and commissions; see the module docstring for the fill model.

    ``initial_cash`` seeds a new file only: on a restart the stored account wins. ``db`` is the sqlite-utils view
    of the file (tables meta, account, orders, fills, positions) for inspection; write through the broker only.
    """

    def __init__(self, path: Path | str, prices: PriceSource, session: date, initial_cash: float = 100_000,
                 slippage_bps: float = 5, commission_bps: float = 1, min_commission: float = 1,
                 quantity: QuantityRules = WHOLE_SHARES) -> None:
        for name, value in (("initial_cash", initial_cash), ("slippage_bps", slippage_bps),
                            ("commission_bps", commission_bps), ("min_commission", min_commission)):
            if not (math.isfinite(value) and value >= 0):
                raise BrokerError(f"paper broker {name} must be a finite number >= 0, got {value!r}")
        self.path = Path(path)
        self._prices = prices
        self._session = session
        self.slippage_bps, self.commission_bps, self.min_commission = slippage_bps, commission_bps, min_commission
        self.quantity = quantity
        self._lock = threading.RLock()
        self._conn = self._open(initial_cash)
        self.db = sqlite_utils.Database(self._conn)

    def _open(self, initial_cash: float) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = connect(self.path, "paper broker file", PAPER_DAMAGED, check_same_thread=False, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript("BEGIN IMMEDIATE;" + _SCHEMA + "COMMIT;")
            row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except StoreError as exc:
            conn.close()
            raise BrokerError(str(exc)) from None
        if row is not None and int(row[0]) > SCHEMA_VERSION:
            conn.close()
            raise BrokerError(f"paper broker file {self.path} has schema v{row[0]}, newer than this desk "
                              f"(v{SCHEMA_VERSION}); upgrade desk")
        conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
        conn.execute("INSERT OR IGNORE INTO account (id, cash, initial_cash, created) VALUES (1, ?, ?, ?)",
                     [float(initial_cash), float(initial_cash), datetime.now(UTC).isoformat()])
        return conn

    # ---------------------------------------------------------------- clock and prices
    @property
    def session(self) -> date:
        return self._session

    def set_session(self, day: date) -> None:
        """Move the broker's clock: fills and marks use this session's prices from now on."""
        self._session = day

    def _reference(self, symbol: str) -> Quote | None:
        bar = self._prices.bar(symbol, self._session)
        if bar is not None:
            open_, close = bar
            if _usable(open_):
                return Quote(symbol=symbol, price=open_, as_of=self._session, source="open")
            if _usable(close):
                return Quote(symbol=symbol, price=close, as_of=self._session, source="close")
        latest = self._prices.latest(symbol, self._session)
        if latest is not None and _usable(latest[1]):
            return Quote(symbol=symbol, price=latest[1], as_of=latest[0], source="latest_close")
        return None

    def quote(self, symbol: str) -> Quote:
        quote = self._reference(symbol)
        if quote is None:
            raise BrokerError(f"no price for {symbol!r} on or before {self._session}; load its bars first")
        return quote

    def quantity_rules(self, symbol: str) -> QuantityRules:
        """The same units for every symbol: whole shares unless configured otherwise."""
        return self.quantity

    # ---------------------------------------------------------------- book
    def _cash(self) -> float:
        return float(self._conn.execute("SELECT cash FROM account WHERE id=1").fetchone()[0])

    def positions(self) -> dict[str, Position]:
        out: dict[str, Position] = {}
        with self._lock:
            rows = self._conn.execute("SELECT symbol, quantity, avg_price FROM positions ORDER BY symbol").fetchall()
        for symbol, qty, avg in rows:
            quote = self._reference(symbol)
            mark = quote.price if quote is not None else avg  # marked at cost only if the clock is before any bar
            out[symbol] = Position(symbol=symbol, quantity=qty, avg_price=avg, market_price=mark,
                                   market_value=qty * mark)
        return out

    def account(self) -> Account:
        with self._lock:
            cash, value = self._cash(), sum(p.market_value for p in self.positions().values())
        return Account(cash=cash, equity=cash + value, positions_value=value, session=self._session)

    # ---------------------------------------------------------------- orders
    def _load(self, client_order_id: str) -> OrderStatus | None:
        with self._lock:
            row = self._conn.execute(f"{_SELECT_ORDER} WHERE client_order_id=?", [client_order_id]).fetchone()
        return None if row is None else _status(row)

    def status(self, client_order_id: str) -> OrderStatus:
        found = self._load(client_order_id)
        if found is None:
            raise BrokerError(f"no order with client_order_id {client_order_id!r} at the paper broker {self.path}")
        return found

    def cancel(self, client_order_id: str) -> OrderStatus:
        """Market orders fill at submit, so there is never an open order: return the order's final status."""
        return self.status(client_order_id)

    def orders(self) -> list[OrderStatus]:
        """Every order this broker has seen, rejected ones included, oldest first (for reconciliation)."""
        with self._lock:
            rows = self._conn.execute(f"{_SELECT_ORDER} ORDER BY rowid").fetchall()
        return [_status(r) for r in rows]

    def submit(self, order: Order) -> OrderStatus:
        """Fill or reject ``order`` now; a known client_order_id returns its existing status (see check_resubmit)."""
        with self._lock, self._transaction():
            existing = self._load(order.client_order_id)
            if existing is not None:
                return check_resubmit(existing, order)
            if order.order_type != "market":
                return self._reject(order, None, "the paper broker places market orders only (it keeps no working "
                                                 "order for a limit to wait in)")
            quote = self._reference(order.symbol)
            if quote is None:
                return self._reject(order, None, f"no price for {order.symbol} on or before {self._session}")
            sign = 1 if order.side == "buy" else -1
            price = quote.price * (1 + sign * self.slippage_bps / 1e4)
            notional = order.quantity * price
            commission = max(self.min_commission, self.commission_bps * notional / 1e4)
            cash = self._cash()
            held, avg = self._conn.execute("SELECT quantity, avg_price FROM positions WHERE symbol=?",
                                           [order.symbol]).fetchone() or (0.0, 0.0)
            at = f"{order.quantity:g} {order.symbol} at {price:.4f} ({quote.source} {quote.as_of})"
            whole = order.side == "sell" and abs(order.quantity - held) <= _QTY_EPS
            off_units = self.quantity.refusal(order.quantity, quote.price, whole_holding=whole)
            if off_units:
                return self._reject(order, quote.source, off_units)
            if order.side == "buy" and notional + commission > cash:
                return self._reject(order, quote.source, f"insufficient cash: buying {at} needs "
                                    f"{notional + commission:,.2f} incl. commission, cash is {cash:,.2f}")
            if order.side == "sell" and order.quantity > held + _QTY_EPS:
                return self._reject(order, quote.source, f"cannot sell {order.quantity:g} {order.symbol}: holding "
                                    f"{held:g} (no shorting)")
            if order.side == "sell" and cash + notional - commission < 0:
                return self._reject(order, quote.source, f"insufficient cash: selling {at} yields {notional:,.2f}, "
                                    f"less than its commission {commission:,.2f} beyond cash {cash:,.2f}")
            new_qty = held + sign * order.quantity
            if new_qty <= _QTY_EPS:
                self._conn.execute("DELETE FROM positions WHERE symbol=?", [order.symbol])
            else:
                new_avg = (held * avg + order.quantity * price) / new_qty if sign > 0 else avg
                self._conn.execute("INSERT OR REPLACE INTO positions (symbol, quantity, avg_price) VALUES (?, ?, ?)",
                                   [order.symbol, new_qty, new_avg])
            self._conn.execute("UPDATE account SET cash=? WHERE id=1", [cash - sign * notional - commission])
            filled = self._insert(OrderStatus(
                client_order_id=order.client_order_id, symbol=order.symbol, side=order.side,
                quantity=order.quantity, status="filled", filled_qty=order.quantity, avg_price=price,
                commission=commission, session=self._session, price_source=quote.source, reason=None))
            self._conn.execute(
                "INSERT INTO fills (client_order_id, symbol, side, quantity, price, reference_price, commission, "
                "session, price_source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [order.client_order_id, order.symbol, order.side, order.quantity, price, quote.price, commission,
                 self._session.isoformat(), quote.source])
            return filled

    def _reject(self, order: Order, price_source: str | None, reason: str) -> OrderStatus:
        return self._insert(OrderStatus(
            client_order_id=order.client_order_id, symbol=order.symbol, side=order.side, quantity=order.quantity,
            status="rejected", filled_qty=0.0, avg_price=None, commission=0.0, session=self._session,
            price_source=price_source, reason=reason))

    def _insert(self, s: OrderStatus) -> OrderStatus:
        self._conn.execute(
            "INSERT INTO orders (client_order_id, symbol, side, quantity, order_type, status, filled_qty, avg_price, "
            "commission, session, price_source, reason, created) VALUES (?, ?, ?, ?, 'market', ?, ?, ?, ?, ?, ?, ?, ?)",
            [s.client_order_id, s.symbol, s.side, s.quantity, s.status, s.filled_qty, s.avg_price, s.commission,
             s.session.isoformat(), s.price_source, s.reason, datetime.now(UTC).isoformat()])
        return s

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # ---------------------------------------------------------------- lifecycle
    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> PaperBroker:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _status(row: tuple[Any, ...]) -> OrderStatus:
    fields = dict(zip(_STATUS_COLUMNS, row, strict=True))
    fields["session"] = date.fromisoformat(fields["session"])
    return OrderStatus(**fields)
