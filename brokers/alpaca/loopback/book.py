"""The loopback Alpaca account, in memory: orders, positions, cash and assets, behind one lock, answering in
Alpaca's JSON shapes (numbers as strings, as Alpaca sends them).

Fills: a market order fills at the price table's price when the market is open (the ``partial`` fault fills a
share of it and keeps the rest working); a limit order fills when marketable, else works; with the market closed
orders queue (``accepted``) until ``open_market``; ``end_session`` expires what is still working (day orders). No
commission. A refusal books nothing, as at Alpaca, and raises ``Refused`` with Alpaca's status, code and message:

| check, in this order                    | answer                                                          |
| --------------------------------------- | --------------------------------------------------------------- |
| client_order_id already used            | 422 40010001 ``client_order_id must be unique``                 |
| no such asset (no price)                | 422 40010001 ``asset "X" not found``                            |
| asset not tradable (fault)              | 422 42210000 ``asset X is not tradable``                        |
| fractional quantity, asset not fractionable | 422 40010001 ``qty must be integer``                        |
| fractional order under $1               | 403 40310000 ``cost basis must be >= 1``                        |
| buy under pattern-day-trader protection | 403 40310100 ``trade denied due to pattern day trading protection`` |
| sell beyond what is held and not already being sold | 403 40310000 ``insufficient qty available for order (...)`` |
| buy beyond buying power                 | 403 40310000 ``insufficient buying power``                      |

Time is the price table's session: the server's clock reads that date, 10:00 New York at start, moving with the wall
clock (strictly increasing, so ``after=`` pages never tie).
"""

from __future__ import annotations

import math
import threading
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from brokers.alpaca.loopback.faults import Faults
from brokers.sandbox.prices import PriceTable

NEW_YORK = ZoneInfo("America/New_York")
WORKING = frozenset({"new", "accepted", "partially_filled"})
_EPS = 1e-9


class Refused(Exception):
    """An order Alpaca would refuse outright: ``status`` (HTTP), ``code`` and ``message`` as Alpaca sends them."""

    def __init__(self, status: int, code: int, message: str, **extra: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.extra}


@dataclass(frozen=True)
class BookedOrder:
    id: str
    client_order_id: str
    symbol: str
    side: str
    qty: float
    type: str
    limit_price: float | None
    status: str
    filled_qty: float
    filled_avg_price: float | None
    created_at: datetime
    updated_at: datetime
    filled_at: datetime | None = None
    canceled_at: datetime | None = None
    expired_at: datetime | None = None

    def json(self, asset_id: str) -> dict[str, Any]:
        iso = lambda t: t.isoformat() if t is not None else None
        return {
            "id": self.id, "client_order_id": self.client_order_id, "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at), "submitted_at": iso(self.created_at), "filled_at": iso(self.filled_at),
            "expired_at": iso(self.expired_at), "canceled_at": iso(self.canceled_at), "failed_at": None,
            "replaced_at": None, "replaced_by": None, "replaces": None, "asset_id": asset_id, "symbol": self.symbol,
            "asset_class": "us_equity", "notional": None, "qty": _s(self.qty), "filled_qty": _s(self.filled_qty),
            "filled_avg_price": _s(self.filled_avg_price), "order_class": "simple", "order_type": self.type,
            "type": self.type, "side": self.side, "time_in_force": "day", "limit_price": _s(self.limit_price),
            "stop_price": None, "status": self.status, "extended_hours": False, "legs": None,
            "trail_percent": None, "trail_price": None, "hwm": None, "position_intent": None,
        }


def _s(x: float | None) -> str | None:
    return None if x is None else f"{x:.9f}".rstrip("0").rstrip(".")


def _fractional(qty: float) -> bool:
    return abs(qty - round(qty)) > _EPS


@dataclass
class _Clock:
    day: date
    started: float = field(default_factory=lambda: datetime.now(UTC).timestamp())
    last: datetime | None = None

    def now(self) -> datetime:
        base = datetime.combine(self.day, time(10, 0), NEW_YORK)
        t = base + timedelta(seconds=datetime.now(UTC).timestamp() - self.started)
        if self.last is not None and t <= self.last:
            t = self.last + timedelta(microseconds=1)
        self.last = t
        return t


class Book:
    """Thread-safe; ``faults`` is read at each call (the server swaps it at run time)."""

    def __init__(self, prices: PriceTable, cash: float = 100_000.0) -> None:
        if not (math.isfinite(cash) and cash >= 0):
            raise ValueError(f"loopback cash must be a finite number >= 0, got {cash!r}")
        self.prices, self.cash = prices, float(cash)
        self.clock = _Clock(prices.session)
        self._orders: list[BookedOrder] = []
        self._by_cid: dict[str, int] = {}
        self._holdings: dict[str, tuple[float, float]] = {}
        self._assets: dict[str, str] = {}
        self.refusals: list[tuple[str, int, str]] = []  # (client_order_id, HTTP status, message): booked nothing
        self._lock = threading.RLock()

    def state(self) -> tuple[Any, ...]:
        """Everything the account holds, to ``load`` into another book (a test starts each case from one seed)."""
        with self._lock:
            return self.cash, list(self._orders), dict(self._by_cid), dict(self._holdings), list(self.refusals)

    def load(self, state: tuple[Any, ...]) -> None:
        with self._lock:
            cash, orders, by_cid, holdings, refusals = state
            self.cash, self._orders, self._by_cid = cash, list(orders), dict(by_cid)
            self._holdings, self.refusals = dict(holdings), list(refusals)
            if orders:
                self.clock.last = max(self.clock.last or orders[-1].updated_at, orders[-1].updated_at)

    # ---------------------------------------------------------------- time and prices
    def set_prices(self, prices: PriceTable) -> None:
        """A new session: the clock moves to its date (working day orders of the old one should be ended first)."""
        with self._lock:
            self.prices = prices
            same_day = self.clock.day == prices.session
            self.clock = _Clock(prices.session, last=self.clock.last if same_day else None)

    def price(self, symbol: str) -> float | None:
        p = self.prices.get(symbol)
        return p.price if p is not None else None

    def asset_id(self, symbol: str) -> str:
        with self._lock:
            return self._assets.setdefault(symbol, str(uuid.uuid5(uuid.NAMESPACE_URL, f"loopback-asset:{symbol}")))

    def asset(self, symbol: str, faults: Faults) -> dict[str, Any] | None:
        if self.price(symbol) is None:
            return None
        fractionable = symbol not in faults.whole
        return {"id": self.asset_id(symbol), "class": "us_equity", "exchange": "NYSE", "symbol": symbol,
                "name": f"{symbol} (loopback)", "status": "active", "tradable": symbol not in faults.untradable,
                "marginable": True, "shortable": False, "easy_to_borrow": False, "fractionable": fractionable,
                "min_order_size": None, "min_trade_increment": None, "price_increment": "0.01",
                "maintenance_margin_requirement": 30, "attributes": ["fractional_eh_enabled"] if fractionable else []}

    # ---------------------------------------------------------------- reads
    def orders(self) -> list[BookedOrder]:
        with self._lock:
            return list(self._orders)

    def by_client_id(self, cid: str) -> BookedOrder | None:
        with self._lock:
            i = self._by_cid.get(cid)
            return self._orders[i] if i is not None else None

    def by_id(self, order_id: str) -> BookedOrder | None:
        with self._lock:
            return next((o for o in self._orders if o.id == order_id), None)

    def booked(self, cid: str) -> int:
        """How many times this id was acted on: orders booked, plus refusals that were decisions (not the
        uniqueness check protecting an id already booked)."""
        with self._lock:
            return (cid in self._by_cid) + sum(1 for c, _, m in self.refusals if c == cid and "unique" not in m)

    def positions(self) -> list[dict[str, Any]]:
        with self._lock:
            items = sorted(self._holdings.items())
        out = []
        for symbol, (qty, avg) in items:
            price = self.price(symbol) or avg
            out.append({"asset_id": self.asset_id(symbol), "symbol": symbol, "exchange": "NYSE",
                        "asset_class": "us_equity", "asset_marginable": True, "avg_entry_price": _s(avg),
                        "qty": _s(qty), "side": "long", "market_value": _s(qty * price), "cost_basis": _s(qty * avg),
                        "unrealized_pl": _s(qty * (price - avg)), "current_price": _s(price),
                        "lastday_price": _s(price), "change_today": "0", "qty_available": _s(qty - self._selling(symbol))})
        return out

    def _selling(self, symbol: str) -> float:
        return sum(o.qty - o.filled_qty for o in self._orders
                   if o.symbol == symbol and o.side == "sell" and o.status in WORKING)

    def _reserved(self) -> float:
        total = 0.0
        for o in self._orders:
            if o.side == "buy" and o.status in WORKING:
                total += (o.qty - o.filled_qty) * (o.limit_price or self.price(o.symbol) or 0.0)
        return total

    def account(self, faults: Faults) -> dict[str, Any]:
        with self._lock:
            held = sum(q * (self.price(s) or a) for s, (q, a) in self._holdings.items())
            buying_power = max(0.0, self.cash - self._reserved())
            equity = self.cash + held
            return {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, "loopback-account")), "account_number": "PA-LOOPBACK",
                    "status": "ACTIVE", "crypto_status": "INACTIVE", "currency": "USD", "cash": _s(self.cash),
                    "buying_power": _s(buying_power), "regt_buying_power": _s(buying_power),
                    "daytrading_buying_power": "0", "non_marginable_buying_power": _s(buying_power),
                    "portfolio_value": _s(equity), "equity": _s(equity), "last_equity": _s(equity),
                    "long_market_value": _s(held), "short_market_value": "0", "initial_margin": "0",
                    "maintenance_margin": "0", "last_maintenance_margin": "0", "sma": "0", "daytrade_count": 0,
                    "multiplier": "1", "pattern_day_trader": faults.pdt, "trading_blocked": False,
                    "transfers_blocked": False, "account_blocked": False, "trade_suspended_by_user": False,
                    "shorting_enabled": False, "created_at": "2024-01-02T00:00:00Z", "accrued_fees": "0",
                    "pending_transfer_in": "0", "pending_transfer_out": "0"}

    # ---------------------------------------------------------------- orders
    def submit(self, body: dict[str, Any], faults: Faults) -> BookedOrder:
        cid = str(body.get("client_order_id") or uuid.uuid4())
        symbol = str(body.get("symbol") or "").upper()
        side, otype = body.get("side"), body.get("type") or body.get("order_type")
        with self._lock:
            try:
                qty, limit = self._validate(cid, symbol, side, otype, body)
                self._check(cid, symbol, side, qty, limit, faults)
            except Refused as r:
                self.refusals.append((cid, r.status, r.message))
                raise
            now = self.clock.now()
            order = BookedOrder(str(uuid.uuid4()), cid, symbol, str(side), qty, str(otype), limit,
                                "accepted" if faults.closed else "new", 0.0, None, now, now)
            if not faults.closed:
                order = self._fill(order, faults.partial)
            self._by_cid[cid] = len(self._orders)
            self._orders.append(order)
            return order

    def _validate(self, cid: str, symbol: str, side: Any, otype: Any, body: dict[str, Any]) -> tuple[float, float | None]:
        if cid in self._by_cid:
            raise Refused(422, 40010001, "client_order_id must be unique")
        if len(cid) > 128:
            raise Refused(422, 40010001, "client_order_id must be no more than 128 characters")
        if side not in ("buy", "sell"):
            raise Refused(422, 40010001, "side must be buy or sell")
        if otype not in ("market", "limit"):
            raise Refused(422, 40010001, "only market and limit orders are supported by the loopback server")
        if (body.get("time_in_force") or "day") != "day":
            raise Refused(422, 40010001, "the loopback server takes day orders only")
        try:
            qty = round(float(body.get("qty")), 9)  # Alpaca keeps 9 decimals
            limit = float(body["limit_price"]) if otype == "limit" else None
        except (TypeError, ValueError, KeyError):
            raise Refused(422, 40010001, "qty (and limit_price for a limit order) must be numbers") from None
        if not math.isfinite(qty) or qty <= 0 or (limit is not None and not (math.isfinite(limit) and limit > 0)):
            raise Refused(422, 40010001, "qty must be > 0")
        return qty, limit

    def _check(self, cid: str, symbol: str, side: str, qty: float, limit: float | None, faults: Faults) -> None:
        price = self.price(symbol)
        if price is None:
            raise Refused(422, 40010001, f'asset "{symbol}" not found')
        if symbol in faults.untradable:
            raise Refused(422, 42210000, f"asset {symbol} is not tradable")
        if _fractional(qty):
            if symbol in faults.whole:
                raise Refused(422, 40010001, "qty must be integer")
            if qty * price < 1.0:
                raise Refused(403, 40310000, "cost basis must be >= 1")
        if side == "buy" and faults.pdt:
            raise Refused(403, 40310100, "trade denied due to pattern day trading protection")
        if side == "sell":
            available = self._holdings.get(symbol, (0.0, 0.0))[0] - self._selling(symbol)
            if qty > available + _EPS:
                raise Refused(403, 40310000, f"insufficient qty available for order (requested: {_s(qty)}, "
                              f"available: {_s(max(available, 0.0))})", symbol=symbol, available=_s(available) or "0")
        else:
            cost = qty * (limit if limit is not None else price)
            power = self.cash - self._reserved()
            if cost > power + _EPS:
                raise Refused(403, 40310000, "insufficient buying power", buying_power=_s(power) or "0",
                              cost_basis=_s(cost) or "0")

    def _fill(self, o: BookedOrder, partial: float | None) -> BookedOrder:
        price = self.price(o.symbol)
        if price is None or (o.limit_price is not None and (o.limit_price < price if o.side == "buy"
                                                             else o.limit_price > price)):
            return o
        todo = o.qty - o.filled_qty
        qty = todo * partial if partial is not None and o.type == "market" else todo
        if not _fractional(o.qty):  # whole-share orders fill in whole shares
            qty = math.floor(qty + _EPS)
        qty = round(qty, 9)
        if qty <= 0:
            return o
        held, avg = self._holdings.get(o.symbol, (0.0, 0.0))
        sign = 1 if o.side == "buy" else -1
        left = held + sign * qty
        if left <= _EPS:
            self._holdings.pop(o.symbol, None)
        else:
            self._holdings[o.symbol] = (left, (held * avg + qty * price) / left if sign > 0 else avg)
        self.cash -= sign * qty * price
        filled = o.filled_qty + qty
        avg_fill = ((o.filled_avg_price or 0.0) * o.filled_qty + price * qty) / filled
        now = self.clock.now()
        done = filled >= o.qty - _EPS
        return replace(o, filled_qty=filled, filled_avg_price=avg_fill, updated_at=now,
                       status="filled" if done else "partially_filled", filled_at=now if done else o.filled_at)

    def _put(self, o: BookedOrder) -> BookedOrder:
        self._orders[self._by_cid[o.client_order_id]] = o
        return o

    def cancel(self, order_id: str) -> BookedOrder:
        with self._lock:
            o = self.by_id(order_id)
            if o is None:
                raise Refused(404, 40410000, "order not found")
            if o.status not in WORKING:
                raise Refused(422, 42210000, f"order is already in \"{o.status}\" state")
            now = self.clock.now()
            return self._put(replace(o, status="canceled", canceled_at=now, updated_at=now))

    def open_market(self, faults: Faults) -> int:
        """The market opens: queued orders fill (or work) as they would have. Returns how many filled."""
        with self._lock:
            n = 0
            for o in list(self._orders):
                if o.status in WORKING:
                    after = self._put(self._fill(o, faults.partial))
                    n += after.status == "filled"
            return n

    def end_session(self) -> int:
        """The close: every working day order expires (what filled stays). Returns how many expired."""
        with self._lock:
            n = 0
            for o in list(self._orders):
                if o.status in WORKING:
                    now = self.clock.now()
                    self._put(replace(o, status="expired", expired_at=now, updated_at=now))
                    n += 1
            return n
