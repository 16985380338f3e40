"""The sandbox's HTTP request handler: routes, sessions, one-time ticket tokens and the fault switches.

App pages: ``/login`` → ``/login/code`` (two-step login), ``/instruments?q=``, ``/trade?symbol=`` (ticket),
``POST /orders`` (books, then 303 to the confirmation ``/orders/<id>``), ``/orders?ref=`` (blotter),
``POST /orders/<id>/cancel``, ``/portfolio``. Admin (no login, no faults): ``GET|POST /_admin/faults``,
``GET /_admin/book``. Static: ``/static/app.js``, ``/static/app.css``.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
from dataclasses import asdict
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from brokers.sandbox import pages
from brokers.sandbox.auth import Sessions
from brokers.sandbox.book import Book, Ticket, TicketError
from brokers.sandbox.faults import FaultError, Faults

log = logging.getLogger("brokers.sandbox")
COOKIE = "sb_session"
MAX_BODY = 16 * 1024
_ORDER = re.compile(r"^/orders/(SB-\d{6})(/cancel)?$")
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'")
STATIC = {"/static/app.js": "application/javascript", "/static/app.css": "text/css"}


class SandboxApp:
    """The state one sandbox serves: its book, sessions, faults and outstanding ticket tokens."""

    def __init__(self, book: Book, sessions: Sessions, faults: Faults) -> None:
        self.book, self.sessions = book, sessions
        self._faults = faults
        self._tokens: set[str] = set()
        self._lock = threading.Lock()
        self.stopping = threading.Event()

    @property
    def faults(self) -> Faults:
        with self._lock:
            return self._faults

    def set_faults(self, faults: Faults | str | None) -> Faults:
        new = faults if isinstance(faults, Faults) else Faults.parse(faults)
        with self._lock:
            self._faults = new
        log.info("sandbox faults: %s", new.spec() or "none")
        return new

    def new_token(self) -> str:
        token = secrets.token_urlsafe(16)
        with self._lock:
            self._tokens.add(token)
        return token

    def use_token(self, token: str) -> bool:
        with self._lock:
            if token in self._tokens:
                self._tokens.remove(token)
                return True
            return False


def _safe_next(path: str) -> str:
    return path if path.startswith("/") and not path.startswith("//") and "\\" not in path else "/"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection: a dropped response is never retried on reuse
    server_version = "SandboxBroker/1"

    @property
    def app(self) -> SandboxApp:
        return self.server.app  # type: ignore[attr-defined]  # set on the server when the app starts it

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self._dispatch("POST")

    # ---------------------------------------------------------------- plumbing
    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        self.query = {k: v[0] for k, v in parse_qs(url.query, max_num_fields=20).items()}
        path = url.path
        try:
            if path in STATIC and method == "GET":
                return self._static(path)
            if path.startswith("/_admin/"):
                return self._admin(method, path)
            faults = self.app.faults
            if faults.slow and self.app.stopping.wait(faults.slow):
                return None
            if faults.maintenance:
                return self._page(pages.maintenance(), HTTPStatus.SERVICE_UNAVAILABLE)
            self.form = self._form() if method == "POST" else {}
            if self.form is None:
                return None
            return self._route(method, path, faults)
        except (BrokenPipeError, ConnectionResetError):
            return None

    def _body(self) -> str | None:
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._page(pages.message("Bad request", "a form needs a Content-Length"), HTTPStatus.LENGTH_REQUIRED)
            return None
        if not 0 <= length <= MAX_BODY:
            self._page(pages.message("Bad request", "form too large"), HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
            return None
        return self.rfile.read(length).decode("utf-8", "replace")

    def _form(self) -> dict[str, str] | None:
        body = self._body()
        if body is None:
            return None
        return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True, max_num_fields=50).items()}

    def _sid(self) -> str | None:
        try:
            morsel = SimpleCookie(self.headers.get("Cookie", "")).get(COOKIE)
        except CookieError:
            return None
        return morsel.value if morsel else None

    def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", _CSP)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _page(self, html: str, status: int = HTTPStatus.OK, headers: dict[str, str] | None = None) -> None:
        self._send(status, html.encode(), "text/html; charset=utf-8", headers)

    def _redirect(self, location: str, headers: dict[str, str] | None = None) -> None:
        self._send(HTTPStatus.SEE_OTHER, b"", "text/plain", {"Location": location, **(headers or {})})

    def _json(self, payload: object, status: int = HTTPStatus.OK) -> None:
        self._send(status, json.dumps(payload, default=str).encode(), "application/json")

    def _static(self, path: str) -> None:
        body = resources.files("brokers.sandbox").joinpath("static", path.rsplit("/", 1)[1]).read_bytes()
        self._send(HTTPStatus.OK, body, STATIC[path] + "; charset=utf-8")

    # ---------------------------------------------------------------- admin
    def _admin(self, method: str, path: str) -> None:
        if path == "/_admin/faults" and method == "POST":
            body = self._body()
            if body is None:
                return
            try:
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    spec = json.loads(body or "{}").get("faults", "")
                else:
                    spec = parse_qs(body, keep_blank_values=True).get("faults", [""])[0]
                return self._json(self.app.set_faults(spec).model_dump())
            except (FaultError, ValueError, AttributeError) as exc:
                return self._json({"error": f"bad faults: {exc}"}, HTTPStatus.BAD_REQUEST)
        if path == "/_admin/faults":
            return self._json(self.app.faults.model_dump())
        if path == "/_admin/book":
            book = self.app.book
            return self._json({"cash": book.cash, "orders": [asdict(o) for o in book.orders()],
                               "holdings": [asdict(h) for h in book.holdings()]})
        return self._json({"error": f"no admin endpoint {path}"}, HTTPStatus.NOT_FOUND)

    # ---------------------------------------------------------------- app
    def _route(self, method: str, path: str, faults: Faults) -> None:
        sessions = self.app.sessions
        if path == "/login":
            return self._login(method)
        if path == "/login/code":
            return self._code(method)
        if path == "/logout" and method == "POST":
            sessions.end(self._sid())
            return self._redirect("/login", {"Set-Cookie": f"{COOKIE}=; Max-Age=0; Path=/"})
        state = sessions.touch(self._sid(), faults.expire)
        if state != "ok":
            back = quote(_safe_next(self.path if method == "GET" else "/"), safe="")
            return self._redirect(f"/login?next={back}" + ("&expired=1" if state == "expired" else ""))
        return self._app(method, path, faults)

    def _login(self, method: str) -> None:
        nxt = _safe_next(self.form.get("next") or self.query.get("next", "/"))
        if method == "GET":
            notice = "Your session has expired. Please log in again." if self.query.get("expired") else None
            return self._page(pages.login(notice=notice, next_path=nxt))
        sid = self.app.sessions.password_ok(self.form.get("user", ""), self.form.get("password", ""))
        if sid is None:
            return self._page(pages.login(error="Wrong user or password.", next_path=nxt), HTTPStatus.UNAUTHORIZED)
        cookie = f"{COOKIE}={sid}; HttpOnly; SameSite=Strict; Path=/"
        return self._redirect(f"/login/code?next={quote(nxt, safe='')}", {"Set-Cookie": cookie})

    def _code(self, method: str) -> None:
        nxt = _safe_next(self.form.get("next") or self.query.get("next", "/"))
        if self.app.sessions.stage(self._sid()) != "code":
            return self._redirect("/login")
        if method == "GET":
            return self._page(pages.code(next_path=nxt))
        if not self.app.sessions.code_ok(self._sid(), self.form.get("code", "")):
            return self._page(pages.code(error="That code is not valid.", next_path=nxt), HTTPStatus.UNAUTHORIZED)
        return self._redirect(nxt)

    def _app(self, method: str, path: str, faults: Faults) -> None:
        book, rr = self.app.book, faults.rerender
        if path == "/" and method == "GET":
            return self._redirect("/portfolio")
        if path == "/instruments" and method == "GET":
            q = self.query.get("q", "")[:64]
            return self._page(pages.instruments(q, book.prices.search(q) if q else [], rr))
        if path == "/trade" and method == "GET":
            return self._page(pages.ticket(self.query.get("symbol", "")[:64], self.app.new_token(), rr))
        if path == "/orders" and method == "POST":
            return self._place(faults)
        if path == "/orders" and method == "GET":
            ref = self.query.get("ref", "")
            return self._page(pages.blotter(book.orders(ref or None), ref, rr))
        if path == "/portfolio" and method == "GET":
            return self._page(pages.portfolio(book.cash, book.holdings(), book.prices.session.isoformat(), rr))
        match = _ORDER.match(path)
        if match and method == "GET" and not match.group(2):
            found = book.order(match.group(1))
            if found is not None:
                return self._page(pages.confirmation(found, rr))
        if match and method == "POST" and match.group(2):
            try:
                cancelled = book.cancel(match.group(1))
            except KeyError:
                pass
            else:
                return self._redirect(f"/orders?ref={quote(cancelled.reference, safe='')}")
        return self._page(pages.message("Not found", f"no page {path}"), HTTPStatus.NOT_FOUND)

    def _place(self, faults: Faults) -> None:
        form = self.form
        ticket = Ticket(symbol=form.get("symbol", ""), side=form.get("side", ""), quantity=form.get("quantity", ""),
                        order_type=form.get("order_type", "market"), limit_price=form.get("limit_price", ""),
                        reference=form.get("reference", ""))
        if not self.app.use_token(form.get("token", "")):
            return self._page(pages.ticket(ticket.symbol[:64], self.app.new_token(), faults.rerender,
                                           error="This ticket was already submitted or has expired: check Orders "
                                                 "before placing it again."), HTTPStatus.CONFLICT)
        try:
            booked = self.app.book.place(ticket, reject_rate=faults.reject, partial=faults.partial)
        except TicketError as exc:
            return self._page(pages.ticket(ticket.symbol[:64], self.app.new_token(), faults.rerender, error=str(exc)),
                              HTTPStatus.BAD_REQUEST)
        log.info("sandbox booked %s ref=%r %s", booked.order_id, booked.reference, booked.status)
        if faults.lost_confirmation:  # booked, but a gateway between loses the confirmation
            return self._send(HTTPStatus.BAD_GATEWAY, b"<!doctype html><title>502 Bad Gateway</title>"
                              b"<h1>502 Bad Gateway</h1><p>The upstream server did not answer in time.</p>",
                              "text/html; charset=utf-8")
        return self._redirect(f"/orders/{booked.order_id}")
