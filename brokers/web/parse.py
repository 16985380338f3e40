"""Read a page's values through the selector map in one round trip, and turn them into the broker's types.

Every conversion that fails says which value on which page could not be read: a site that changed its pages
fails loudly (BrokerError naming the field and the map), never with a guessed number.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from brokers.base import Account, BrokerError, OrderStatus, Position, Quote
from brokers.web.site import FieldSpec, SiteMap

# Runs in the page: read every field of every row matching a selector, as text or attribute (null when absent).
EXTRACT_JS = """
const [rowSel, fields, single] = arguments;
const rows = single ? [document.querySelector(rowSel)].filter(Boolean) : document.querySelectorAll(rowSel);
return Array.from(rows).map(row => {
  const out = {};
  for (const [name, spec] of Object.entries(fields)) {
    const el = spec.css ? row.querySelector(spec.css) : row;
    out[name] = el ? (spec.attr ? el.getAttribute(spec.attr) : el.textContent.trim()) : null;
  }
  return out;
});
"""


def specs(fields: dict[str, FieldSpec]) -> dict[str, dict[str, str]]:
    return {name: spec.model_dump() for name, spec in fields.items()}


def extract(driver: Any, row_css: str, fields: dict[str, FieldSpec], single: bool = False) -> list[dict[str, Any]]:
    return driver.execute_script(EXTRACT_JS, row_css, specs(fields), single)


class Reader:
    """Converts raw strings from one page of ``site`` into numbers, dates and states, or says what is wrong."""

    def __init__(self, site: SiteMap, page: str) -> None:
        self.site, self.page = site, page

    def _fail(self, field: str, raw: object, want: str) -> BrokerError:
        return BrokerError(f"{self.site.name} {self.page} page: {field} {str(raw)[:80]!r} is not {want}; the "
                           f"selector map '{self.site.name}' may be out of date")

    def text(self, row: dict[str, Any], field: str, required: bool = True) -> str | None:
        raw = row.get(field)
        if raw is None or (required and raw == ""):
            if required:
                raise self._fail(field, raw, "present")
            return None
        return str(raw) if raw != "" else None

    def number(self, row: dict[str, Any], field: str, required: bool = True) -> float | None:
        raw = self.text(row, field, required)
        if raw is None:
            return None
        try:
            value = float(raw.replace(",", "").replace("\u00a0", "").strip())
        except ValueError:
            raise self._fail(field, raw, "a number") from None
        if not math.isfinite(value):
            raise self._fail(field, raw, "a finite number")
        return value

    def day(self, row: dict[str, Any], field: str) -> date:
        raw = self.text(row, field)
        try:
            return date.fromisoformat(str(raw))
        except ValueError:
            raise self._fail(field, raw, "a date (YYYY-MM-DD)") from None

    def mapped(self, row: dict[str, Any], field: str, table: dict[str, str]) -> str:
        raw = self.text(row, field)
        if raw not in table:
            raise self._fail(field, raw, f"one of {', '.join(table)} (add it to the map)")
        return table[str(raw)]


def order_status(site: SiteMap, row: dict[str, Any], page: str) -> OrderStatus:
    r, m = Reader(site, page), site.orders
    return OrderStatus(
        client_order_id=r.text(row, "client_order_id"), symbol=r.text(row, "symbol"),
        side=r.mapped(row, "side", m.side_map), quantity=r.number(row, "quantity"),
        status=r.mapped(row, "status", m.status_map), filled_qty=r.number(row, "filled_qty"),
        avg_price=r.number(row, "avg_price", required=False), commission=r.number(row, "commission") or 0.0,
        session=r.day(row, "session"), price_source=r.text(row, "price_source", required=False),
        reason=r.text(row, "reason", required=False), broker_order_id=r.text(row, "broker_order_id"))


def account(site: SiteMap, row: dict[str, Any]) -> Account:
    r = Reader(site, "portfolio")
    return Account(cash=r.number(row, "cash"), equity=r.number(row, "equity"),
                   positions_value=r.number(row, "positions_value"), session=r.day(row, "session"))


def position(site: SiteMap, row: dict[str, Any]) -> Position:
    r = Reader(site, "portfolio")
    return Position(symbol=r.text(row, "symbol"), quantity=r.number(row, "quantity"),
                    avg_price=r.number(row, "avg_price"), market_price=r.number(row, "market_price"),
                    market_value=r.number(row, "market_value"))


def quote(site: SiteMap, row: dict[str, Any]) -> Quote:
    r = Reader(site, "instruments")
    source = r.text(row, "source")
    if source not in ("open", "close", "latest_close"):
        raise r._fail("source", source, "open, close or latest_close")
    return Quote(symbol=r.text(row, "symbol"), price=r.number(row, "price"), as_of=r.day(row, "as_of"),
                 source=source)
