"""The Selenium web broker: the Broker protocol over a trading web site, driven in a real Chromium.

Idempotency is the site's own book: the client_order_id goes into the order's client-reference field, and the
blotter is searched for that reference before every submit and resubmit. A submit whose confirmation does not
arrive (timeout, dropped connection, maintenance, browser killed after the button was pressed) is ``unknown``
and is never pressed again by that call; ``status()`` resolves it from the blotter, and a later ``submit``
looks it up before sending anything. An expired session logs in again and continues. The retry policy is
stated once, in ``brokers.web.config``. Every step leaves a screenshot and an HTML snapshot (``recorder``).

Usage: ``with WebBroker(WebBrokerSettings(url=..., credentials=WebCredentials.from_env(),
artifacts_dir=home / "artifacts" / run_id)) as broker: broker.submit(order)`` — one browser per run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from brokers.base import (Account, BrokerError, BrokerUnavailable, Order, OrderStatus, Position, QuantityRules, Quote,
                          check_resubmit)
from brokers.web.artifacts import Recorder
from brokers.web.browser import Browser, is_lost
from brokers.web.config import WebBrokerSettings
from brokers.web.pages import BlotterPage, InstrumentsPage, NotSent, Placed, PortfolioPage, Refused, TicketPage
from brokers.web.session import LoginRefused, SiteSession
from brokers.web.site import load_site

log = logging.getLogger("brokers.web")
T = TypeVar("T")


@dataclass(frozen=True)
class BrokerEvent:
    """Something the operator should hear about: login, stale page, maintenance, browser lost, unknown order."""

    kind: str
    detail: str
    at: datetime


class WebBroker:
    """Drive ``settings.url`` with the selector map ``settings.site``; ``browser`` may be shared (tests)."""

    def __init__(self, settings: WebBrokerSettings, browser: Browser | None = None) -> None:
        self.settings = settings
        self.site = load_site(settings.site)
        self._own_browser = browser is None
        self.browser = browser or Browser(settings.browser, settings.timeouts.page_s)
        self.recorder = Recorder(settings.artifacts_dir)
        self.events: list[BrokerEvent] = []
        self.session = SiteSession(settings, self.site, self.browser, self.recorder, self._report)
        self._pending: dict[str, Order] = {}  # possibly at the broker, not yet seen on its blotter
        self._refused: dict[str, OrderStatus] = {}  # refused before reaching the broker's book
        self._session_day: date | None = None

    def begin_run(self, run_id: str) -> None:
        """The desk starts run ``run_id``: its screenshots and snapshots go to ``artifacts_dir / run_id``."""
        if self.settings.artifacts_dir is not None:
            self.recorder.move_to(self.settings.artifacts_dir / run_id)

    def _report(self, kind: str, detail: str) -> None:
        self.events.append(BrokerEvent(kind, detail, datetime.now(UTC)))
        (log.warning if kind in ("maintenance", "unknown", "browser_lost") else log.info)("web broker %s: %s",
                                                                                          kind, detail)

    # ---------------------------------------------------------------- one call, with a browser that may die
    def _call(self, what: str, fn: Callable[[], T]) -> T:
        """Run one protocol call; a lost browser is relaunched once (the call starts again from the site's book)."""
        self.session.logins_left = self.settings.retry.max_logins
        for attempt in (1, 2):
            try:
                return fn()
            except (BrokerError, LoginRefused):
                raise
            except Exception as exc:  # noqa: BLE001 - sorted below: a lost browser, or a page that misbehaved
                if not is_lost(exc):
                    self.session.snap("browser-error")
                    raise BrokerUnavailable(f"{what}: the browser failed ({type(exc).__name__}: "
                                            f"{str(exc).splitlines()[0][:200] if str(exc) else ''})") from None
                self._report("browser_lost", f"{what}: {type(exc).__name__}; starting a new browser")
                self.browser.lost()
                if attempt == 2:
                    raise BrokerUnavailable(f"{what}: the browser was lost twice; retry later") from None
        raise AssertionError("unreachable")

    def _seen(self, status: OrderStatus) -> OrderStatus:
        self._session_day = status.session
        return status

    def _one(self, client_order_id: str, found: list[OrderStatus]) -> OrderStatus | None:
        if len(found) > 1:
            ids = ", ".join(str(o.broker_order_id) for o in found)
            raise BrokerError(f"{self.site.name} has {len(found)} orders with reference {client_order_id!r} ({ids}): "
                              "placed more than once outside this broker; reconcile by hand")
        return self._seen(found[0]) if found else None

    def _unknown(self, order: Order, reason: str) -> OrderStatus:
        self._pending[order.client_order_id] = order
        self._report("unknown", f"{order.client_order_id}: {reason}")
        return OrderStatus(client_order_id=order.client_order_id, symbol=order.symbol, side=order.side,
                           quantity=order.quantity, status="unknown", filled_qty=0.0, avg_price=None, commission=0.0,
                           session=self._session_day or date.today(), price_source=None, reason=reason)

    # ---------------------------------------------------------------- orders
    def submit(self, order: Order) -> OrderStatus:
        cid = order.client_order_id
        problem = self.site.reference.check("client_order_id", cid)
        if problem:
            raise BrokerError(f"{problem}: {self.site.name} cannot carry it as the order's client reference")
        if cid in self._refused:
            return check_resubmit(self._refused[cid], order)
        if order.order_type != "market":
            return self._refuse(order, f"not sent: the web broker places market orders only (the {self.site.name} "
                                       "selector map drives the market ticket)")
        bad_symbol = self.site.symbols.check("symbol", order.symbol)
        if bad_symbol:
            return self._refuse(order, f"not sent: {bad_symbol} (no price for it at {self.site.name})")
        off_units = self._off_units(order)
        if off_units:
            return self._refuse(order, f"not sent: {off_units}")
        return self._call(f"submit {cid}", lambda: self._submit(order))

    def quantity_rules(self, symbol: str) -> QuantityRules:
        """What the site's ticket accepts (the selector map's ``[quantities]``; whole shares unless it says)."""
        return self.site.quantities

    def _off_units(self, order: Order) -> str | None:
        """Why the ticket would not take this quantity, read from the site only when the answer depends on it."""
        rules = self.site.quantities
        if rules.accepts(order.quantity) and not rules.min_notional:
            return None
        held = self.positions().get(order.symbol) if order.side == "sell" else None
        whole = held is not None and abs(held.quantity - order.quantity) < 1e-9
        price = self.quote(order.symbol).price if rules.min_notional and not whole else None
        return rules.refusal(order.quantity, price, whole_holding=whole)

    def _submit(self, order: Order) -> OrderStatus:
        cid, notes = order.client_order_id, []
        for _ in range(self.settings.retry.submit_attempts):
            try:
                known = self._one(cid, BlotterPage(self.session).find(cid))
            except BrokerUnavailable as exc:
                return self._unknown(order, f"not sent: the blotter could not be searched first ({exc})")
            if known is not None:
                self._pending.pop(cid, None)
                return check_resubmit(known, order)
            self._pending[cid] = order
            try:
                outcome = TicketPage(self.session).place(order)
            except BrokerUnavailable as exc:
                outcome = NotSent(str(exc))
            if isinstance(outcome, Placed):
                self._pending.pop(cid, None)
                return check_resubmit(self._seen(outcome.status), order)
            if isinstance(outcome, Refused):  # a refusal after the button was pressed is checked, not believed
                known = self._one(cid, BlotterPage(self.session).find(cid))
                self._pending.pop(cid, None)
                if known is not None:
                    self._report("retry", f"{cid}: the site showed a refusal ({outcome.reason}) but booked it")
                    return check_resubmit(known, order)
                return self._refuse(order, f"the broker refused the ticket: {outcome.reason}")
            if not isinstance(outcome, NotSent):
                self.browser.probe()
                return self._unknown(order, f"sent, not confirmed: {outcome.reason}; status() asks the blotter")
            notes.append(outcome.reason)
            self._report("retry", f"{cid} not sent ({outcome.reason}); looking it up again")
        return self._unknown(order, f"not sent after {len(notes)} attempts: {'; '.join(notes)}")

    def _refuse(self, order: Order, reason: str) -> OrderStatus:
        status = OrderStatus(client_order_id=order.client_order_id, symbol=order.symbol, side=order.side,
                             quantity=order.quantity, status="rejected", filled_qty=0.0, avg_price=None,
                             commission=0.0, session=self._session_day or date.today(), price_source=None,
                             reason=reason)
        self._refused[order.client_order_id] = status
        return status

    def status(self, client_order_id: str) -> OrderStatus:
        if client_order_id in self._refused:
            return self._refused[client_order_id]

        def read() -> OrderStatus:
            found = self._one(client_order_id, BlotterPage(self.session).find(client_order_id))
            if found is not None:
                self._pending.pop(client_order_id, None)
                return found
            if client_order_id in self._pending:
                return self._unknown(self._pending[client_order_id], "not on the blotter: the order was most likely "
                                     "not booked; submit it again to place it (the blotter is searched first)")
            raise BrokerError(f"no order with client_order_id {client_order_id!r} at {self.site.name} "
                              f"({self.settings.url})")
        try:
            return self._call(f"status {client_order_id}", read)
        except BrokerUnavailable as exc:
            if client_order_id in self._pending:
                return self._unknown(self._pending[client_order_id], f"the broker cannot answer now ({exc})")
            raise

    def cancel(self, client_order_id: str) -> OrderStatus:
        def run() -> OrderStatus:
            blotter = BlotterPage(self.session)
            found = self._one(client_order_id, blotter.find(client_order_id))
            if found is None:
                raise BrokerError(f"no order with client_order_id {client_order_id!r} at {self.site.name} to cancel")
            if found.is_final:
                return found
            blotter.cancel(found)
            after = self._one(client_order_id, blotter.find(client_order_id))
            if after is None:
                raise BrokerError(f"order {client_order_id!r} left the blotter after cancelling")
            return after
        if client_order_id in self._refused:
            return self._refused[client_order_id]
        return self._call(f"cancel {client_order_id}", run)

    def orders(self) -> list[OrderStatus]:
        """Every order on the site's blotter, oldest first (reconciliation)."""
        return [self._seen(o) for o in self._call("orders", lambda: BlotterPage(self.session).all())]

    # ---------------------------------------------------------------- book and prices
    def _portfolio(self) -> tuple[Account, dict[str, Position]]:
        account, positions = self._call("portfolio", lambda: PortfolioPage(self.session).read())
        self._session_day = account.session
        return account, positions

    def account(self) -> Account:
        return self._portfolio()[0]

    def positions(self) -> dict[str, Position]:
        return self._portfolio()[1]

    def quote(self, symbol: str) -> Quote:
        problem = self.site.symbols.check("symbol", symbol)
        if problem:
            raise BrokerError(f"no price for {symbol!r} at {self.site.name}: {problem}")
        found = self._call(f"quote {symbol}", lambda: InstrumentsPage(self.session).quote(symbol))
        if found is None:
            raise BrokerError(f"no price for {symbol!r} at {self.site.name}: its instrument search does not list it")
        return found

    # ---------------------------------------------------------------- lifecycle
    def close(self) -> None:
        if self._own_browser:
            self.browser.close()

    def __enter__(self) -> WebBroker:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
