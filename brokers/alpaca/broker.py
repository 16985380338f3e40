"""The Broker protocol over Alpaca's trading API (alpaca-py), paper by default, live only when configured.

No order twice. Every submit first asks Alpaca for the order by its client_order_id (``GET
/v2/orders:by_client_order_id``); only an id Alpaca does not hold is sent. A send whose answer is lost (a read
timeout, a 5xx, a connection dropped mid-answer) is looked up again before anything else: found, it is that order;
not found, it is sent again (Alpaca refuses a client_order_id it already holds with 422 ``client_order_id must be
unique``, which is read as "look it up", never as a refusal); and when Alpaca cannot be asked, the order is
``unknown`` — ``status()`` asks again, and a later ``submit`` looks it up before sending. A 429 was never acted on
and is waited out (``brokers.alpaca.rest``).

Refusals come back ``rejected`` with the reason in the desk's words and Alpaca's (buying power, not tradable, not
fractionable, pattern-day-trader protection, an unknown asset); Alpaca books nothing for them, so they are
remembered by this broker object for ``status`` and resubmits (the desk's store records them as final). Partial
fills, cancellations and expiries map as ``brokers.alpaca.orders`` says. Market and limit day orders are placed; an
order Alpaca accepted is watched for up to ``fill_wait_s`` until it fills.

Quotes are the latest trade on ``quote_feed`` from the market data API. ``quantity_rules`` reads the asset
(fractionable or whole shares). ``market_clock`` reads Alpaca's clock and calendar, which the morning holds against
the exchange calendar (``brokers.clock``).
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

from brokers.alpaca.config import LIVE_URL, PAPER_URL, AlpacaKeys, AlpacaOptions, trading_url
from brokers.alpaca.errors import Failure, classify, refusal_reason, scrub
from brokers.alpaca.orders import QTY_DECIMALS, NEW_YORK, at_alpaca, refused, request, to_status, unknown
from brokers.alpaca.rest import TimedSession, data_client, trading_client
from brokers.base import (WHOLE_SHARES, Account, BrokerError, BrokerUnavailable, Order, OrderStatus, Position,
                          QuantityRules, Quote, check_resubmit)
from brokers.clock import MarketClock

log = logging.getLogger("brokers.alpaca")
T = TypeVar("T")
SYMBOL = re.compile(r"^[A-Z][A-Z0-9.\-]{0,11}$")
FRACTIONAL_MIN_NOTIONAL = 1.0  # Alpaca's smallest fractional order, in dollars


class AlpacaAuthError(BrokerError):
    """Alpaca refused the keys (401): the message is one line saying which keys to check."""


@dataclass(frozen=True)
class BrokerEvent:
    """Something the operator should hear about: a lost answer, a resend, an order left unknown."""

    kind: str
    detail: str
    at: datetime


class _Unreachable(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.describe())
        self.failure = failure


class AlpacaBroker:
    """Alpaca at ``url`` (None: Alpaca's paper API, or its live API with ``options.live``)."""

    def __init__(self, keys: AlpacaKeys, url: str | None = None, options: AlpacaOptions | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.options = options or AlpacaOptions()
        self.url = trading_url(url, self.options)
        _check_account_kind(self.url, self.options.live)
        self.live = self.options.live
        self.name = f"Alpaca {'LIVE' if self.live else 'paper'}"
        self._secrets = keys.values()
        self._sleep = sleep
        self._http, self._data_http = TimedSession(self.options, sleep), TimedSession(self.options, sleep)
        self._trading = trading_client(keys, url, self.options, self._http)
        self._data = data_client(keys, url, self.options, self._data_http)
        self._pending: dict[str, Order] = {}  # sent by this object, not yet seen at Alpaca
        self._refused: dict[str, OrderStatus] = {}  # refused outright: Alpaca booked nothing
        self._session_day: date | None = None  # the New York date Alpaca's answers last carried
        self._rules: dict[str, QuantityRules] = {}  # per symbol, read once per broker object
        self.events: list[BrokerEvent] = []

    @property
    def notice(self) -> str:
        """What every run says about where its orders go."""
        if self.live:
            return f"LIVE TRADING: orders go to the Alpaca live account at {self.url} (real money)"
        return f"Alpaca paper account at {self.url}"

    def _report(self, kind: str, detail: str) -> None:
        self.events.append(BrokerEvent(kind, detail, datetime.now(UTC)))
        (log.warning if kind in ("unknown", "lost") else log.info)("alpaca %s: %s", kind, detail)

    # ---------------------------------------------------------------- calls
    def _failure(self, exc: Exception) -> Failure:
        f = classify(exc, self._secrets)
        if f is None:
            raise exc
        if f.kind == "auth":
            raise AlpacaAuthError(f"{self.name} refused the API keys ({f.describe()}): check APCA_API_KEY_ID and "
                                  f"APCA_API_SECRET_KEY ({'live' if self.live else 'paper'} keys for a "
                                  f"{'live' if self.live else 'paper'} account)") from None
        return f

    def _read(self, what: str, fn: Callable[[], T]) -> T:
        """A read: bad keys and refusals raise BrokerError, a broker that cannot answer now BrokerUnavailable."""
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - sorted by classify; anything it does not know is re-raised
            f = self._failure(exc)
        if f.kind in ("lost", "not_sent"):
            raise BrokerUnavailable(f"{what}: {self.name} cannot answer now ({f.describe()})")
        raise BrokerError(f"{what}: {self.name} answered {f.describe()}")

    def _lookup(self, client_order_id: str) -> OrderStatus | None:
        """The order Alpaca holds under ``client_order_id`` (None: it holds none); _Unreachable when it cannot say."""
        last: Failure | None = None
        for attempt in range(self.options.lookup_attempts):
            if attempt:
                self._sleep(self.options.lookup_pause_s)
            try:
                return self._seen(to_status(self._trading.get_order_by_client_id(client_order_id)))
            except Exception as exc:  # noqa: BLE001 - sorted by classify
                last = self._failure(exc)
            if last.kind == "not_found":
                return None
            if last.kind not in ("lost", "not_sent"):
                raise BrokerError(f"looking up {client_order_id!r}: {self.name} answered {last.describe()}")
        assert last is not None
        raise _Unreachable(last)

    # ---------------------------------------------------------------- orders
    def submit(self, order: Order) -> OrderStatus:
        order = at_alpaca(order)  # the quantity Alpaca will keep: what a resubmit must repeat
        cid = order.client_order_id
        if cid in self._refused:
            return check_resubmit(self._refused[cid], order)
        notes: list[str] = []
        sent = cid in self._pending
        for _ in range(self.options.submit_attempts):
            try:
                found = self._lookup(cid)
            except _Unreachable as exc:
                if sent:
                    return self._unknown(order, f"sent, not confirmed: {'; '.join(notes) or 'an earlier send'}; "
                                                f"{self.name} cannot be asked now ({exc}); status() asks again")
                return self._unknown(order, f"not sent: {self.name} could not be asked first whether it holds the "
                                            f"order ({exc})")
            if found is not None:
                self._pending.pop(cid, None)
                return check_resubmit(self._await_fill(found), order)
            if sent:
                self._report("resend", f"{cid}: {self.name} does not hold it after {notes[-1] if notes else 'a send'};"
                                       " sending again")
            self._pending[cid] = order
            try:
                placed = self._trading.submit_order(request(order))
            except Exception as exc:  # noqa: BLE001 - sorted by classify
                f = self._failure(exc)
                if f.kind in ("refused", "not_found"):
                    self._pending.pop(cid, None)
                    return self._refuse(order, refusal_reason(f, order.symbol, order.side, order.quantity))
                if f.kind in ("lost", "duplicate"):  # it may be at Alpaca / Alpaca says it holds the id
                    sent = True
                    what = "the answer to the order was lost" if f.kind == "lost" else "Alpaca holds the id already"
                    self._report("lost", f"{cid}: {what} ({f.describe()}); looking it up")
                notes.append(f"{f.kind.replace('_', ' ')}: {f.describe()}")
                continue
            self._pending.pop(cid, None)
            return check_resubmit(self._await_fill(self._seen(to_status(placed))), order)
        return self._unknown(order, f"{'sent, not confirmed' if sent else 'not sent'} after "
                                    f"{self.options.submit_attempts} attempts ({'; '.join(notes)}); status() asks "
                                    f"{self.name} by client_order_id")

    def _await_fill(self, status: OrderStatus) -> OrderStatus:
        """Watch a working order for up to ``fill_wait_s`` (a market order fills within moments while open)."""
        deadline = time.monotonic() + self.options.fill_wait_s
        while not status.is_final and status.broker_order_id and time.monotonic() < deadline:
            self._sleep(self.options.fill_poll_s)
            try:
                status = to_status(self._trading.get_order_by_id(status.broker_order_id))
            except Exception as exc:  # noqa: BLE001 - sorted by classify: stop watching, keep what is known
                f = self._failure(exc)
                log.info("alpaca: watching %s stopped (%s)", status.client_order_id, f.describe())
                break
        return status

    def _refuse(self, order: Order, reason: str) -> OrderStatus:
        status = refused(order, reason, self._today())
        self._refused[order.client_order_id] = status
        return status

    def _unknown(self, order: Order, reason: str) -> OrderStatus:
        self._pending[order.client_order_id] = order  # status() answers for it until Alpaca does
        self._report("unknown", f"{order.client_order_id}: {reason}")
        return unknown(order, reason, self._today())

    def status(self, client_order_id: str) -> OrderStatus:
        if client_order_id in self._refused:
            return self._refused[client_order_id]
        try:
            found = self._lookup(client_order_id)
        except _Unreachable as exc:
            if client_order_id in self._pending:
                return self._unknown(self._pending[client_order_id], f"{self.name} cannot answer now ({exc})")
            raise BrokerUnavailable(f"status of {client_order_id!r}: {self.name} cannot answer now ({exc})") from None
        if found is not None:
            self._pending.pop(client_order_id, None)
            return found
        if client_order_id in self._pending:
            return self._unknown(self._pending[client_order_id], f"not at {self.name}: the order was most likely "
                                 "never placed; submit it again to place it (it is looked up first)")
        raise BrokerError(f"no order with client_order_id {client_order_id!r} at {self.name} ({self.url})")

    def cancel(self, client_order_id: str) -> OrderStatus:
        if client_order_id in self._refused:
            return self._refused[client_order_id]
        try:
            found = self._lookup(client_order_id)
        except _Unreachable as exc:
            raise BrokerUnavailable(f"cancel {client_order_id!r}: {self.name} cannot answer now ({exc})") from None
        if found is None:
            raise BrokerError(f"no order with client_order_id {client_order_id!r} at {self.name} to cancel")
        if found.is_final:
            return found
        oid = found.broker_order_id
        try:
            self._trading.cancel_order_by_id(oid)
        except Exception as exc:  # noqa: BLE001 - sorted by classify; the order is read again either way
            f = self._failure(exc)
            log.info("alpaca: cancel of %s answered %s; reading the order again", client_order_id, f.describe())
        return self._await_fill(self._read(f"order {client_order_id}",
                                           lambda: to_status(self._trading.get_order_by_id(oid))))

    def orders(self) -> list[OrderStatus]:
        """Every order Alpaca holds, oldest first (500 a page)."""
        from alpaca.common.enums import Sort
        from alpaca.trading.enums import QueryOrderStatus
        from alpaca.trading.requests import GetOrdersRequest

        out: dict[str, OrderStatus] = {}
        after: datetime | None = None
        while True:
            page = self._read("orders", lambda a=after: self._trading.get_orders(GetOrdersRequest(
                status=QueryOrderStatus.ALL, limit=500, direction=Sort.ASC, after=a, nested=False)))
            fresh = [o for o in page if str(o.id) not in out]
            for o in fresh:
                out[str(o.id)] = to_status(o)
            if len(page) < 500 or not fresh:
                return list(out.values())
            after = max(o.submitted_at or o.created_at for o in fresh) - timedelta(microseconds=1)

    # ---------------------------------------------------------------- book and prices
    def _today(self) -> date:
        return self._session_day or datetime.now(NEW_YORK).date()

    def _seen(self, status: OrderStatus) -> OrderStatus:
        self._session_day = status.session
        return status

    def account(self) -> Account:
        a = self._read("account", self._trading.get_account)
        cash = float(a.cash or 0)
        held = float(a.long_market_value or 0) + float(a.short_market_value or 0)
        clock = self._read("clock", self._trading.get_clock)
        self._session_day = clock.timestamp.astimezone(NEW_YORK).date()
        return Account(cash=cash, equity=float(a.equity) if a.equity is not None else cash + held,
                       positions_value=held, session=self._session_day)

    def positions(self) -> dict[str, Position]:
        out = {}
        for p in self._read("positions", self._trading.get_all_positions):
            qty = float(p.qty)
            if abs(qty) < 1e-12:
                continue
            value = float(p.market_value) if p.market_value is not None else qty * float(p.current_price)
            price = float(p.current_price) if p.current_price is not None else value / qty
            out[p.symbol] = Position(symbol=p.symbol, quantity=qty, avg_price=float(p.avg_entry_price),
                                     market_price=price, market_value=value)
        return out

    def quote(self, symbol: str) -> Quote:
        from alpaca.data.enums import DataFeed
        from alpaca.data.requests import StockLatestTradeRequest

        if not SYMBOL.match(symbol):
            raise BrokerError(f"no price for {symbol[:40]!r} at {self.name}: not a US equity symbol")
        req = StockLatestTradeRequest(symbol_or_symbols=symbol, feed=DataFeed(self.options.quote_feed))
        try:
            trades = self._data.get_stock_latest_trade(req)
        except Exception as exc:  # noqa: BLE001 - sorted by classify
            f = self._failure(exc)
            if f.kind in ("lost", "not_sent"):
                raise BrokerUnavailable(f"quote {symbol}: {self.name} market data cannot answer now "
                                        f"({f.describe()})") from None
            raise BrokerError(f"no price for {symbol} at {self.name}: {f.describe()}") from None
        trade = trades.get(symbol)
        if trade is None or not trade.price or trade.price <= 0:
            raise BrokerError(f"no price for {symbol} at {self.name}: no latest trade on the "
                              f"{self.options.quote_feed} feed")
        return Quote(symbol=symbol, price=float(trade.price), as_of=trade.timestamp.astimezone(NEW_YORK).date(),
                     source="latest_trade")

    def quantity_rules(self, symbol: str) -> QuantityRules:
        """The asset's units at Alpaca: a fractionable asset in fractions to 9 decimals (or its
        ``min_trade_increment``) with Alpaca's $1 minimum for a fractional order; otherwise whole shares. An asset
        that cannot be read now, or that Alpaca does not list, is held to whole shares: every broker takes those,
        and the submit says the rest."""
        if symbol in self._rules:
            return self._rules[symbol]
        if not SYMBOL.match(symbol):
            return WHOLE_SHARES
        try:
            asset = self._read(f"asset {symbol}", lambda: self._trading.get_asset(symbol))
        except BrokerError as exc:  # unavailable, or not listed: whole shares, said in the log and the events
            self._report("units", f"{symbol}: whole shares ({exc})")
            return WHOLE_SHARES
        rules = WHOLE_SHARES
        if asset.fractionable:
            step = asset.min_trade_increment
            decimals = QTY_DECIMALS if not step or step <= 0 else min(QTY_DECIMALS, max(0, round(-math.log10(step))))
            rules = QuantityRules(decimals=decimals, min_notional=FRACTIONAL_MIN_NOTIONAL)
        self._rules[symbol] = rules
        return rules

    def market_clock(self) -> MarketClock:
        """Alpaca's clock, and whether Alpaca's calendar lists a session on its New York date."""
        from alpaca.trading.requests import GetCalendarRequest

        c = self._read("clock", self._trading.get_clock)
        today = c.timestamp.astimezone(NEW_YORK).date()
        self._session_day = today
        days = self._read("calendar", lambda: self._trading.get_calendar(GetCalendarRequest(start=today, end=today)))
        return MarketClock(now=c.timestamp, is_open=c.is_open, next_open=c.next_open, next_close=c.next_close,
                           session_today=any(d.date == today for d in days))

    # ---------------------------------------------------------------- lifecycle
    def close(self) -> None:
        self._http.close()
        self._data_http.close()

    def __enter__(self) -> AlpacaBroker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:  # never the keys
        return f"AlpacaBroker({self.url!r}, live={self.live})"


def _check_account_kind(url: str, live: bool) -> None:
    """Refuse an address that contradicts ``broker.alpaca.live`` (live keys are real money)."""
    if url == LIVE_URL and not live:
        raise BrokerError(f"broker.url is Alpaca's live API ({LIVE_URL}) but broker.alpaca.live is false; set "
                          "broker.alpaca.live = true to trade real money, or remove broker.url for paper")
    if url == PAPER_URL and live:
        raise BrokerError(f"broker.alpaca.live is true but broker.url is Alpaca's paper API ({PAPER_URL}); remove "
                          "broker.url to reach the live API")


__all__ = ["AlpacaAuthError", "AlpacaBroker", "BrokerEvent", "scrub"]
