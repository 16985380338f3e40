"""The sandbox broker's own book, in memory: orders, fills, positions and cash, behind one lock.

Fills: a marketable order (any market order; a limit buy at or above the price, a limit sell at or below)
fills at the table price, commission ``max(min_commission, commission_bps × notional / 1e4)``; with the
``partial`` fault a market order fills that share and keeps working for the rest. A non-marketable limit order
works until cancelled (the table's prices do not move). Rejections are booked with their reason: no price,
insufficient cash, no shorting, or a random reject under the ``reject`` fault. A ticket that is malformed
(missing reference, bad quantity) is refused with a TicketError and books nothing.

The book never deduplicates on the client reference: every accepted ticket is a new order, exactly like a broker
that does not enforce unique references. Placing each order once is the client's job.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Literal

from brokers.sandbox.prices import PriceTable

Status = Literal["working", "partially_filled", "filled", "rejected", "cancelled"]
OPEN: frozenset[str] = frozenset({"working", "partially_filled"})
RANDOM_REJECTS = ("price outside the permitted band", "instrument temporarily halted by the exchange",
                  "order exceeds the account's single-order limit")
MAX_TEXT = 64
_EPS = 1e-9


class TicketError(ValueError):
    """A ticket the sandbox refuses outright (nothing booked); the message says which field and why."""


@dataclass(frozen=True)
class Ticket:
    symbol: str
    side: str
    quantity: str
    order_type: str
    limit_price: str
    reference: str


@dataclass(frozen=True)
class BookedOrder:
    seq: int
    order_id: str
    reference: str
    symbol: str
    side: str
    quantity: float
    order_type: str
    limit_price: float | None
    status: Status
    filled_qty: float
    avg_price: float | None
    commission: float
    reason: str | None
    session: date
    price_source: str | None
    placed_at: datetime


@dataclass(frozen=True)
class Holding:
    symbol: str
    quantity: float
    avg_price: float
    market_price: float

    @property
    def market_value(self) -> float:
        return self.quantity * self.market_price


def _text(name: str, value: str) -> str:
    value = value.strip()
    if not value:
        raise TicketError(f"{name} is required")
    if len(value) > MAX_TEXT or any(not ch.isprintable() for ch in value):
        raise TicketError(f"{name} must be at most {MAX_TEXT} printable characters")
    return value


def _number(name: str, raw: str) -> float:
    try:
        value = float(raw.strip().replace(",", ""))
    except ValueError:
        raise TicketError(f"{name} {raw.strip()[:MAX_TEXT]!r} is not a number") from None
    if not math.isfinite(value) or value <= 0 or value > 1e9:
        raise TicketError(f"{name} must be a number greater than 0 (got {raw.strip()[:MAX_TEXT]!r})")
    return value


class Book:
    """Thread-safe; ``listeners`` are called with each newly booked order (tests use it to act mid-order)."""

    def __init__(self, prices: PriceTable, cash: float = 100_000.0, commission_bps: float = 1.0,
                 min_commission: float = 1.0, seed: int = 7) -> None:
        if not (math.isfinite(cash) and cash >= 0):
            raise ValueError(f"sandbox cash must be a finite number >= 0, got {cash!r}")
        self.prices, self.cash = prices, float(cash)
        self.commission_bps, self.min_commission = commission_bps, min_commission
        self._rng = random.Random(seed)
        self._orders: list[BookedOrder] = []
        self._holdings: dict[str, tuple[float, float]] = {}
        self._lock = threading.RLock()
        self.listeners: list[Callable[[BookedOrder], None]] = []

    # ---------------------------------------------------------------- reads
    def orders(self, reference: str | None = None) -> list[BookedOrder]:
        """Oldest first; ``reference`` filters to orders whose reference contains it (case-sensitive)."""
        with self._lock:
            return [o for o in self._orders if reference is None or reference in o.reference]

    def order(self, order_id: str) -> BookedOrder | None:
        with self._lock:
            return next((o for o in self._orders if o.order_id == order_id), None)

    def holdings(self) -> list[Holding]:
        with self._lock:
            items = sorted(self._holdings.items())
        out = []
        for symbol, (qty, avg) in items:
            price = self.prices.get(symbol)
            out.append(Holding(symbol, qty, avg, price.price if price else avg))
        return out

    # ---------------------------------------------------------------- writes
    def place(self, ticket: Ticket, reject_rate: float | None = None, partial: float | None = None) -> BookedOrder:
        symbol = _text("symbol", ticket.symbol).upper()
        reference = _text("client reference", ticket.reference)
        if ticket.side not in ("buy", "sell"):
            raise TicketError(f"side must be buy or sell (got {ticket.side[:MAX_TEXT]!r})")
        if ticket.order_type not in ("market", "limit"):
            raise TicketError(f"order type must be market or limit (got {ticket.order_type[:MAX_TEXT]!r})")
        qty = _number("quantity", ticket.quantity)
        limit = _number("limit price", ticket.limit_price) if ticket.order_type == "limit" else None
        with self._lock:
            seq = len(self._orders) + 1
            base = BookedOrder(seq, f"SB-{seq:06d}", reference, symbol, ticket.side, qty, ticket.order_type, limit,
                               "working", 0.0, None, 0.0, None, self.prices.session, None, datetime.now(UTC))
            booked = self._decide(base, reject_rate, partial)
            self._orders.append(booked)
        for listener in list(self.listeners):
            listener(booked)
        return booked

    def _decide(self, o: BookedOrder, reject_rate: float | None, partial: float | None) -> BookedOrder:
        price = self.prices.get(o.symbol)
        if price is None:
            return replace(o, status="rejected", reason=f"no price for {o.symbol}")
        o = replace(o, price_source=price.source, session=price.as_of)
        if reject_rate is not None and self._rng.random() < reject_rate:
            return replace(o, status="rejected", reason=self._rng.choice(RANDOM_REJECTS))
        held, avg = self._holdings.get(o.symbol, (0.0, 0.0))
        notional = o.quantity * price.price
        if o.side == "buy" and notional + self._commission(notional) > self.cash + _EPS:
            return replace(o, status="rejected", reason=f"insufficient cash: {o.quantity:g} {o.symbol} at "
                           f"{price.price:.2f} needs {notional + self._commission(notional):,.2f}, "
                           f"cash is {self.cash:,.2f}")
        if o.side == "sell" and o.quantity > held + _EPS:
            return replace(o, status="rejected",
                           reason=f"cannot sell {o.quantity:g} {o.symbol}: holding {held:g} (no shorting)")
        if o.limit_price is not None and (o.limit_price < price.price if o.side == "buy"
                                          else o.limit_price > price.price):
            return o  # not marketable: works until cancelled
        qty = round(o.quantity * partial, 6) if partial is not None and o.order_type == "market" else o.quantity
        if qty <= 0:
            return o
        commission = self._commission(qty * price.price)
        sign = 1 if o.side == "buy" else -1
        new_qty = held + sign * qty
        if new_qty <= _EPS:
            self._holdings.pop(o.symbol, None)
        else:
            self._holdings[o.symbol] = (new_qty, (held * avg + qty * price.price) / new_qty if sign > 0 else avg)
        self.cash -= sign * qty * price.price + commission
        status: Status = "filled" if qty >= o.quantity - _EPS else "partially_filled"
        return replace(o, status=status, filled_qty=qty, avg_price=price.price, commission=commission)

    def _commission(self, notional: float) -> float:
        return max(self.min_commission, self.commission_bps * notional / 1e4)

    def cancel(self, order_id: str) -> BookedOrder:
        """Cancel a working order (what filled stays filled); a final order comes back unchanged."""
        with self._lock:
            for i, o in enumerate(self._orders):
                if o.order_id == order_id:
                    if o.status in OPEN:
                        self._orders[i] = o = replace(o, status="cancelled")
                    return o
        raise KeyError(order_id)
