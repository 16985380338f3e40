"""Page objects of a trading site, addressed through its selector map: ticket, blotter, portfolio, instruments.

The ticket is the only page that can place an order. It fills the fields, reads them back, opens the site's
confirmation dialog and checks its summary against the order before it presses the button; a page that
re-renders under it (stale elements, lost values) is filled again. Pressing the button is the point of no
return: from then on the outcome is the confirmation page, a refusal, or "unconfirmed" — never a second press.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from selenium.common.exceptions import (ElementClickInterceptedException, ElementNotInteractableException,
                                        TimeoutException, WebDriverException)
from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select

from brokers.base import (Account, BrokerError, BrokerUnavailable, Order, OrderStatus, Position, QuantityRules,
                          Quote)
from brokers.web import parse
from brokers.web.session import SiteSession, detached, left



def retryable(exc: WebDriverException) -> bool:
    """A page that changed under the browser before anything was sent: fill or look again."""
    return isinstance(exc, ElementNotInteractableException | ElementClickInterceptedException) or detached(exc)


@dataclass(frozen=True)
class Placed:
    status: OrderStatus


@dataclass(frozen=True)
class NotSent:
    reason: str


@dataclass(frozen=True)
class Refused:
    reason: str


@dataclass(frozen=True)
class Unconfirmed:
    reason: str


Outcome = Placed | NotSent | Refused | Unconfirmed


class TicketPage:
    def __init__(self, s: SiteSession) -> None:
        self.s, self.m = s, s.site.ticket

    def place(self, order: Order) -> Outcome:
        s, m, p = self.s, self.m, self.s.site.paths
        cid = order.client_order_id
        s.open(p.ticket, "ticket", "ticket", cid, {p.ticket_symbol: order.symbol})
        want = {"symbol": order.symbol, "side": m.side_values[order.side], "quantity": QuantityRules.text(order.quantity),
                "reference": cid}
        for _ in range(s.settings.retry.stale_retries):
            try:
                if not self._prepare(want, cid):
                    continue
            except (BrokerUnavailable, TimeoutException) as exc:
                return NotSent(f"the ticket could not be filled: {exc}")
            except WebDriverException as exc:
                if not retryable(exc):
                    raise
                s.report("stale", f"ticket for {cid}: {type(exc).__name__}; filling it again")
                continue
            try:
                page = s.d.find_element(By.TAG_NAME, "html")
                s.element(m.confirm).click()  # the point of no return once this returns
            except WebDriverException as exc:
                if not retryable(exc) or isinstance(exc, TimeoutException):
                    return Unconfirmed(f"the browser failed while the order was sent ({type(exc).__name__})")
                s.report("stale", f"ticket for {cid}: {type(exc).__name__} on the confirm button; filling it again")
                continue
            except Exception as exc:  # noqa: BLE001 - the click may have been delivered: never press it again
                return Unconfirmed(f"the browser failed while the order was sent ({type(exc).__name__})")
            return self._outcome(order, page)
        return NotSent(f"the ticket kept changing under the browser ({s.settings.retry.stale_retries} attempts)")

    def _prepare(self, want: dict[str, str], cid: str) -> bool:
        """Fill the ticket and open the dialog; True when the dialog shows exactly ``want``."""
        s, m = self.s, self.m
        for field in ("symbol", "quantity", "reference"):
            el = s.element(getattr(m, field))
            el.clear()
            el.send_keys(want[field])
        Select(s.element(m.side)).select_by_value(want["side"])
        Select(s.element(m.order_type)).select_by_value(m.market_value)
        got = {f: s.element(getattr(m, f)).get_property("value") for f in want}
        if got != want:
            s.report("stale", f"ticket for {cid} lost its values ({sorted(k for k in want if got[k] != want[k])})")
            return False
        s.element(m.review).click()
        s.element(m.dialog)
        summary = s.d.execute_script("return arguments[0].map(c => (document.querySelector(c) || {}).textContent);",
                                     [getattr(m.summary, f) for f in ("symbol", "side", "quantity", "reference")])
        expected = [want["symbol"].upper(), want["side"], want["quantity"], want["reference"]]
        if [str(x or "").strip() for x in summary] != expected:
            s.report("stale", f"confirmation dialog for {cid} shows {summary}, expected {expected}; going back")
            s.element(m.back).click()
            return False
        s.snap("review", cid)
        return True

    def _outcome(self, order: Order, page: Any) -> Outcome:
        """Read what the site answered; reading never presses anything, so a page re-rendering under it is read again."""
        last: Exception | None = None
        for _ in range(self.s.settings.retry.stale_retries):
            try:
                return self._read_outcome(order, page)
            except Exception as exc:  # noqa: BLE001 - after the point of no return every failure is "unconfirmed"
                last = exc
                if not detached(exc):
                    break
                self.s.report("stale", f"outcome of {order.client_order_id}: the page changed while read; reading again")
        return Unconfirmed(f"the outcome could not be read ({type(last).__name__}: {str(last)[:200]})")

    def _read_outcome(self, order: Order, page: Any) -> Outcome:
        s, cid, t = self.s, order.client_order_id, self.s.settings.timeouts
        try:
            s.wait(left(page), t.confirm_s, "the confirmation")
            state = s.settled(t.confirm_s)
        except (BrokerUnavailable, TimeoutException):
            s.snap("no-confirmation", cid)
            return Unconfirmed(f"no confirmation within {t.confirm_s:g}s after the order was sent")
        if state == "confirmation":
            rows = parse.extract(s.d, s.site.orders.confirmation_row, s.site.orders.fields)
            if len(rows) != 1:
                s.snap("confirmation-unreadable", cid)
                return Unconfirmed(f"the confirmation page shows {len(rows)} orders, expected 1")
            s.snap("confirmation", cid)
            return Placed(parse.order_status(s.site, rows[0], "confirmation"))
        s.snap(f"after-send-{state}", cid)
        if state == "ticket":
            errors = s.d.find_elements(By.CSS_SELECTOR, self.m.error)
            return Refused(errors[0].text.strip()[:300] if errors else "the site showed the ticket again")
        if state in ("login", "code"):
            return NotSent("the session ended as the order was sent: the site showed its login page")
        if state == "none":
            return Unconfirmed(f"the site sent no confirmation page (browser shows {s.d.title!r})")
        return Unconfirmed(f"the {state} page came instead of the confirmation")


class BlotterPage:
    def __init__(self, s: SiteSession) -> None:
        self.s, self.m = s, s.site.orders

    def find(self, client_order_id: str) -> list[OrderStatus]:
        """Every blotter order whose reference is exactly ``client_order_id`` (the site may match loosely)."""
        p = self.s.site.paths
        self.s.open(p.blotter, "blotter", "blotter-search", client_order_id, {p.blotter_query: client_order_id})
        return [o for o in self._rows() if o.client_order_id == client_order_id]

    def all(self) -> list[OrderStatus]:
        self.s.open(self.s.site.paths.blotter, "blotter", "blotter")
        rows = self._rows()
        return rows[::-1] if self.m.newest_first else rows

    def _rows(self) -> list[OrderStatus]:
        return [parse.order_status(self.s.site, r, "blotter") for r in parse.extract(self.s.d, self.m.row,
                                                                                    self.m.fields)]

    def cancel(self, target: OrderStatus) -> None:
        """Press the cancel button of ``target``'s row, once; the caller reads the blotter again afterwards."""
        s = self.s
        for _ in range(s.settings.retry.stale_retries):
            try:
                rows = parse.extract(s.d, self.m.row, self.m.fields)
                index = next(i for i, r in enumerate(rows) if r.get("broker_order_id") == target.broker_order_id)
                buttons = s.d.find_elements(By.CSS_SELECTOR, self.m.row)[index].find_elements(By.CSS_SELECTOR,
                                                                                               self.m.cancel)
                if not buttons:
                    return  # no longer cancellable: it filled or was cancelled meanwhile
                page = s.d.find_element(By.TAG_NAME, "html")
                buttons[0].click()
            except WebDriverException as exc:
                if not retryable(exc):
                    raise
                s.report("stale", f"blotter row of {target.client_order_id}: looking again")
                continue
            except StopIteration:
                raise BrokerError(f"order {target.broker_order_id} left the blotter while cancelling") from None
            s.wait(left(page), what="the blotter after cancelling")
            state = s.settled()
            if state != "blotter":
                s.handle(state, s.d.current_url, "blotter")
            s.snap("cancel", target.client_order_id)
            return
        raise BrokerUnavailable(f"could not press cancel for {target.client_order_id}: the blotter kept changing")


class PortfolioPage:
    def __init__(self, s: SiteSession) -> None:
        self.s = s

    def read(self) -> tuple[Account, dict[str, Position]]:
        s, site = self.s, self.s.site
        s.open(site.paths.portfolio, "portfolio", "portfolio")
        found = parse.extract(s.d, site.account.element, site.account.fields, single=True)
        if not found:
            raise BrokerError(f"{site.name} portfolio page: no account summary at {site.account.element}")
        positions = [parse.position(site, r) for r in parse.extract(s.d, site.positions.row, site.positions.fields)]
        return parse.account(site, found[0]), {p.symbol: p for p in positions}


class InstrumentsPage:
    def __init__(self, s: SiteSession) -> None:
        self.s = s

    def quote(self, symbol: str) -> Quote | None:
        s, site = self.s, self.s.site
        s.open(site.paths.instruments, "instruments", "instrument-search", None, {site.paths.instruments_query: symbol})
        rows = parse.extract(s.d, site.instruments.row, site.instruments.fields)
        match = [r for r in rows if r.get("symbol") == symbol]
        return parse.quote(site, match[0]) if match else None
