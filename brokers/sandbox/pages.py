"""The sandbox's HTML pages. Every piece of text that came from a user or the book goes through ``esc``.

Machine-readable values sit in ``data-*`` attributes beside the human-readable cells, the way a selector map
addresses them; scripts are served from ``/static`` under a Content-Security-Policy that forbids inline script.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from urllib.parse import quote

from brokers.sandbox.book import OPEN, BookedOrder, Holding
from brokers.sandbox.prices import Price

LABELS = {"working": "Working", "partially_filled": "Partially filled", "filled": "Filled",
          "rejected": "Rejected", "cancelled": "Cancelled"}
NAV = (("/instruments", "Instruments"), ("/trade", "Trade"), ("/orders", "Orders"), ("/portfolio", "Portfolio"))


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _num(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def layout(page: str, title: str, body: str, *, nav: bool = True, rerender: bool = False) -> str:
    links = "".join(f'<a href="{href}">{label}</a> ' for href, label in NAV)
    header = (f'<header><nav>{links}<form id="logout" method="post" action="/logout">'
              '<button type="submit">Log out</button></form></nav></header>') if nav else ""
    flags = ' data-rerender="1"' if rerender else ""
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="app" content="sandbox-broker">'
            f'<title>{esc(title)} · Sandbox Broker</title><link rel="stylesheet" href="/static/app.css">'
            '<script src="/static/app.js" defer></script></head>'
            f'<body data-page="{esc(page)}"{flags}>{header}<main id="main"><h1>{esc(title)}</h1>{body}</main>'
            "</body></html>")


def error_line(message: str | None) -> str:
    return f'<p class="error" role="alert">{esc(message)}</p>' if message else ""


def login(error: str | None = None, notice: str | None = None, next_path: str = "/") -> str:
    note = f'<p id="notice" class="notice">{esc(notice)}</p>' if notice else ""
    return layout("login", "Log in", note + error_line(error) + (
        '<form id="login" method="post" action="/login">'
        f'<input type="hidden" name="next" value="{esc(next_path)}">'
        '<label>User <input id="user" name="user" autocomplete="username"></label>'
        '<label>Password <input id="password" name="password" type="password" autocomplete="current-password">'
        '</label><button id="login-submit" type="submit">Continue</button></form>'), nav=False)


def code(error: str | None = None, next_path: str = "/") -> str:
    return layout("code", "One-time code", error_line(error) + (
        "<p>Enter the 6-digit code from your authenticator.</p>"
        '<form id="code" method="post" action="/login/code">'
        f'<input type="hidden" name="next" value="{esc(next_path)}">'
        '<label>Code <input id="otp" name="code" inputmode="numeric" autocomplete="one-time-code"></label>'
        '<button id="code-submit" type="submit">Log in</button></form>'), nav=False)


def maintenance() -> str:
    return layout("maintenance", "Down for maintenance", '<div id="maintenance"><p>The trading service is '
                  "undergoing scheduled maintenance. Please try again shortly.</p></div>", nav=False)


def message(title: str, text: str) -> str:
    return layout("message", title, f'<p id="message">{esc(text)}</p>')


def instruments(query: str, found: Iterable[Price], rerender: bool) -> str:
    rows = "".join(
        f'<tr class="instrument" data-symbol="{esc(p.symbol)}" data-price="{_num(p.price)}" '
        f'data-as-of="{p.as_of.isoformat()}" data-source="{esc(p.source)}"><td>{esc(p.symbol)}</td>'
        f"<td>{p.price:,.2f}</td><td>{esc(p.source)} {p.as_of.isoformat()}</td>"
        f'<td><a class="trade" href="/trade?symbol={esc(quote(p.symbol, safe=""))}">Trade</a></td></tr>'
        for p in found)
    empty = "" if rows else f'<p id="no-results">No instrument matches {esc(query)!s}.</p>' if query else ""
    return layout("instruments", "Instruments", (
        '<form id="search" method="get" action="/instruments"><label>Symbol '
        f'<input id="q" name="q" value="{esc(query)}"></label><button type="submit">Search</button></form>'
        f'{empty}<table id="instruments"><thead><tr><th>Symbol</th><th>Price</th><th>As of</th><th></th></tr>'
        f"</thead><tbody>{rows}</tbody></table>"), rerender=rerender)


def ticket(symbol: str, token: str, rerender: bool, error: str | None = None) -> str:
    opts = "".join(f'<option value="{v}">{v.capitalize()}</option>' for v in ("buy", "sell"))
    types = "".join(f'<option value="{v}">{v.capitalize()}</option>' for v in ("market", "limit"))
    summary = "".join(f'<dt>{label}</dt><dd id="sum-{key}"></dd>' for key, label in (
        ("symbol", "Symbol"), ("side", "Side"), ("quantity", "Quantity"), ("type", "Type"), ("limit", "Limit"),
        ("reference", "Reference")))
    return layout("ticket", "Order ticket", error_line(error) + (
        '<form id="ticket" method="post" action="/orders">'
        f'<input type="hidden" name="token" value="{esc(token)}">'
        f'<label>Symbol <input id="symbol" name="symbol" value="{esc(symbol)}"></label>'
        f'<label>Side <select id="side" name="side">{opts}</select></label>'
        '<label>Quantity <input id="quantity" name="quantity" inputmode="decimal"></label>'
        f'<label>Type <select id="order-type" name="order_type">{types}</select></label>'
        '<label>Limit price <input id="limit-price" name="limit_price" inputmode="decimal"></label>'
        '<label>Client reference <input id="reference" name="reference" maxlength="64"></label>'
        '<button id="review" type="button">Review order</button>'
        '<div id="confirm-dialog" role="dialog" aria-modal="true" hidden><h2>Confirm your order</h2>'
        f'<dl id="summary">{summary}</dl><button id="confirm" type="submit">Place order</button>'
        '<button id="back" type="button">Back</button></div></form>'), rerender=rerender)


def order_row(o: BookedOrder, cancel: bool = True) -> str:
    attrs = {"order-id": o.order_id, "seq": o.seq, "ref": o.reference, "symbol": o.symbol, "side": o.side,
             "qty": _num(o.quantity), "type": o.order_type, "limit": _num(o.limit_price),
             "status": LABELS[o.status], "filled": _num(o.filled_qty), "avg": _num(o.avg_price),
             "commission": _num(o.commission), "session": o.session.isoformat(),
             "price-source": o.price_source or "", "reason": o.reason or ""}
    data = " ".join(f'data-{k}="{esc(v)}"' for k, v in attrs.items())
    button = (f'<form class="cancel" method="post" action="/orders/{esc(o.order_id)}/cancel">'
              '<button class="cancel" type="submit">Cancel</button></form>') if cancel and o.status in OPEN else ""
    cells = (o.order_id, o.placed_at.strftime("%H:%M:%S"), o.reference, o.symbol, o.side, f"{o.quantity:g}",
             o.order_type + (f" {o.limit_price:,.2f}" if o.limit_price else ""), LABELS[o.status],
             f"{o.filled_qty:g}", "" if o.avg_price is None else f"{o.avg_price:,.2f}", f"{o.commission:,.2f}",
             o.reason or "")
    return f'<tr class="order-row" {data}>' + "".join(f"<td>{esc(c)}</td>" for c in cells) + f"<td>{button}</td></tr>"


_HEAD = ("<thead><tr><th>Order</th><th>Time</th><th>Reference</th><th>Symbol</th><th>Side</th><th>Qty</th>"
         "<th>Type</th><th>Status</th><th>Filled</th><th>Avg price</th><th>Commission</th><th>Reason</th><th></th>"
         "</tr></thead>")


def confirmation(o: BookedOrder, rerender: bool) -> str:
    return layout("confirmation", "Order received", (
        f'<div id="confirmation" data-order-id="{esc(o.order_id)}"><p>Your order number is '
        f'<strong id="order-id">{esc(o.order_id)}</strong>.</p>'
        f'<table id="confirmed-order">{_HEAD}<tbody>{order_row(o, cancel=False)}</tbody></table>'
        '<p><a href="/orders">All orders</a></p></div>'), rerender=rerender)


def blotter(orders: Iterable[BookedOrder], ref: str, rerender: bool, error: str | None = None) -> str:
    rows = "".join(order_row(o) for o in reversed(list(orders)))  # newest first
    return layout("blotter", "Orders", error_line(error) + (
        '<form id="blotter-search" method="get" action="/orders"><label>Client reference '
        f'<input id="ref" name="ref" value="{esc(ref)}"></label><button type="submit">Search</button></form>'
        f'<table id="blotter">{_HEAD}<tbody>{rows}</tbody></table>'), rerender=rerender)


def portfolio(cash: float, holdings: Iterable[Holding], session: str, rerender: bool) -> str:
    held = list(holdings)
    value = sum(h.market_value for h in held)
    rows = "".join(
        f'<tr class="position" data-symbol="{esc(h.symbol)}" data-qty="{_num(h.quantity)}" '
        f'data-avg="{_num(h.avg_price)}" data-price="{_num(h.market_price)}" data-value="{_num(h.market_value)}">'
        f"<td>{esc(h.symbol)}</td><td>{h.quantity:g}</td><td>{h.avg_price:,.2f}</td><td>{h.market_price:,.2f}</td>"
        f"<td>{h.market_value:,.2f}</td></tr>" for h in held)
    return layout("portfolio", "Portfolio", (
        f'<div id="account" data-cash="{_num(cash)}" data-positions-value="{_num(value)}" '
        f'data-equity="{_num(cash + value)}" data-session="{esc(session)}">'
        f"<p>Cash {cash:,.2f} · Positions {value:,.2f} · Equity {cash + value:,.2f} · Session {esc(session)}</p>"
        '</div><table id="positions"><thead><tr><th>Symbol</th><th>Quantity</th><th>Avg price</th><th>Price</th>'
        f"<th>Value</th></tr></thead><tbody>{rows}</tbody></table>"), rerender=rerender)
