"""The loopback server's request handler: Alpaca's REST paths as alpaca-py calls them, keys, and the fault switches.

Trading (``/v2``): ``GET /account``, ``GET /positions``, ``GET|POST /orders``, ``GET /orders:by_client_order_id``,
``GET|DELETE /orders/<id>``, ``GET /assets/<symbol>``, ``GET /clock``, ``GET /calendar``. Market data (``/v2/stocks``):
``GET /trades/latest``, ``GET /bars``. Every one needs the ``APCA-API-KEY-ID`` / ``APCA-API-SECRET-KEY`` headers
(401 otherwise). Admin (no keys, no faults): ``GET|POST /_admin/faults``, ``POST /_admin/session`` (``prices``: a
new session), ``POST /_admin/open`` (queued orders fill), ``POST /_admin/close`` (working orders expire),
``GET /_admin/book``.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import socket
import threading
from datetime import date
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from brokers.alpaca.loopback import market
from brokers.alpaca.loopback.book import Book, Refused
from brokers.alpaca.loopback.faults import EVERY, FaultError, Faults
from brokers.sandbox.prices import PriceTable

log = logging.getLogger("brokers.alpaca.loopback")
MAX_BODY = 16 * 1024
_ORDER = re.compile(r"^/v2/orders/([0-9a-f\-]{36})$")
_ASSET = re.compile(r"^/v2/assets/([^/]{1,40})$")


class LoopbackApp:
    """What one server serves: its account book, the keys it accepts, the faults and their remaining counts."""

    def __init__(self, book: Book, keys: tuple[str, str], faults: Faults, history: market.History) -> None:
        self.book, self.keys, self.history = book, keys, history
        self._lock = threading.Lock()
        self._faults = faults
        self._left = self._counts(faults)
        self.dark = False  # blackout: an order was booked, every answer since is dropped
        self.bar_queries: list[dict[str, str]] = []
        self.stopping = threading.Event()

    @staticmethod
    def _counts(f: Faults) -> dict[str, int]:
        return {n: getattr(f, n) for n in ("lost", "error5xx", "rate_limit", "lag") if getattr(f, n) is not None}

    @property
    def faults(self) -> Faults:
        with self._lock:
            return self._faults

    def set_faults(self, faults: Faults | str | None) -> Faults:
        new = faults if isinstance(faults, Faults) else Faults.parse(faults)
        with self._lock:
            self._faults, self._left, self.dark = new, self._counts(new), False
        log.info("loopback alpaca faults: %s", new.spec() or "none")
        return new

    def take(self, name: str) -> bool:
        """Whether the counted fault ``name`` hits this request (and count it)."""
        with self._lock:
            left = self._left.get(name, 0)
            if left <= 0:
                return False
            if left != EVERY:
                self._left[name] = left - 1
            return True


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AlpacaLoopback/1"
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stall between

    @property
    def app(self) -> LoopbackApp:
        return self.server.app  # type: ignore[attr-defined]  # set on the server when the app starts it

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self._dispatch("POST")

    def do_DELETE(self) -> None:  # noqa: N802 - http.server's name
        self._dispatch("DELETE")

    # ---------------------------------------------------------------- plumbing
    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        self.query = {k: v[0] for k, v in parse_qs(url.query, max_num_fields=30).items()}
        try:
            body = self._body()
            if body is None:
                return
            if url.path.startswith("/_admin/"):
                return self._admin(method, url.path, body)
            if not self._authorised():
                return self._json({"code": 40110000, "message": "request is not authorized"}, 401)
            faults, app = self.app.faults, self.app
            if faults.latency and app.stopping.wait(faults.latency):
                return None
            if app.take("rate_limit"):
                return self._json({"code": 42910000, "message": "rate limit exceeded"}, 429,
                                  {"Retry-After": f"{faults.retry_after:g}"})
            if app.take("error5xx"):
                return self._json({"code": 50010000, "message": "internal server error"}, 500)
            if app.dark:
                return self._drop()
            status, payload, headers = self._route(method, url.path, body, faults)
            ordered = method == "POST" and url.path == "/v2/orders" and status == 200
            if ordered and faults.blackout:
                app.dark = True
            if app.dark or (ordered and app.take("lost")):  # booked; the answer never arrives
                return self._drop()
            if ordered and faults.slow_orders and app.stopping.wait(faults.slow_orders):
                return None
            return self._json(payload, status, headers)
        except (BrokenPipeError, ConnectionResetError):
            return None

    def _drop(self) -> None:
        """Close the connection without an answer (the client sees it dropped mid-request)."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _authorised(self) -> bool:
        key = self.headers.get("APCA-API-KEY-ID", "")
        secret = self.headers.get("APCA-API-SECRET-KEY", "")
        return hmac.compare_digest(key, self.app.keys[0]) & hmac.compare_digest(secret, self.app.keys[1])

    def _body(self) -> Any:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self._json({"code": 40010000, "message": "request body too large or unreadable"}, 400)
            return None
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        try:
            data = json.loads(raw)
        except ValueError:
            self._json({"code": 40010000, "message": "request body must be JSON"}, 400)
            return None
        return data if isinstance(data, dict) else {}

    def _json(self, payload: object, status: int = 200, headers: dict[str, str] | None = None) -> None:
        body = b"" if payload is None else json.dumps(payload, default=str).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    # ---------------------------------------------------------------- admin
    def _admin(self, method: str, path: str, body: dict[str, Any]) -> None:
        app, book = self.app, self.app.book
        try:
            if path == "/_admin/faults" and method == "POST":
                return self._json(app.set_faults(str(body.get("faults") or "")).model_dump(mode="json"))
            if path == "/_admin/faults":
                return self._json({**app.faults.model_dump(mode="json"), "spec": app.faults.spec()})
            if path == "/_admin/session" and method == "POST":
                book.set_prices(PriceTable.of(str(body.get("prices") or "bundled"),
                                              date.fromisoformat(body["session"]) if body.get("session") else None))
                return self._json({"session": book.prices.session.isoformat()})
            if path == "/_admin/open" and method == "POST":
                app.set_faults(app.faults.model_copy(update={"closed": False}))
                return self._json({"filled": book.open_market(app.faults)})
            if path == "/_admin/close" and method == "POST":
                return self._json({"expired": book.end_session()})
            if path == "/_admin/book":
                return self._json({"cash": book.cash, "positions": book.positions(),
                                   "orders": [o.json(book.asset_id(o.symbol)) for o in book.orders()],
                                   "refusals": book.refusals})
        except (FaultError, ValueError, KeyError, TypeError) as exc:
            return self._json({"error": f"bad admin request: {exc}"}, HTTPStatus.BAD_REQUEST)
        return self._json({"error": f"no admin endpoint {method} {path}"}, HTTPStatus.NOT_FOUND)

    # ---------------------------------------------------------------- the API
    def _route(self, method: str, path: str, body: dict[str, Any],
               faults: Faults) -> tuple[int, object, dict[str, str] | None]:
        book, q = self.app.book, self.query
        try:
            if method == "GET" and path == "/v2/account":
                return 200, book.account(faults), None
            if method == "GET" and path == "/v2/positions":
                return 200, book.positions(), None
            if method == "POST" and path == "/v2/orders":
                o = book.submit(body, faults)
                return 200, o.json(book.asset_id(o.symbol)), None
            if method == "GET" and path == "/v2/orders":
                return 200, self._orders(), None
            if method == "GET" and path == "/v2/orders:by_client_order_id":
                o = book.by_client_id(q.get("client_order_id", ""))
                if o is None or self.app.take("lag"):
                    return 404, {"code": 40410000, "message": "order not found"}, None
                return 200, o.json(book.asset_id(o.symbol)), None
            if (m := _ORDER.match(path)) and method in ("GET", "DELETE"):
                if method == "DELETE":
                    book.cancel(m.group(1))
                    return 204, None, None
                o = book.by_id(m.group(1))
                if o is None:
                    return 404, {"code": 40410000, "message": "order not found"}, None
                return 200, o.json(book.asset_id(o.symbol)), None
            if (m := _ASSET.match(path)) and method == "GET":
                asset = book.asset(unquote(m.group(1)).upper(), faults)
                if asset is None:
                    return 404, {"code": 40410000, "message": "asset not found"}, None
                return 200, asset, None
            if method == "GET" and path == "/v2/clock":
                return 200, market.clock(book.clock.now(), not faults.closed), None
            if method == "GET" and path == "/v2/calendar":
                start = date.fromisoformat(q.get("start") or book.clock.day.isoformat())
                end = date.fromisoformat(q.get("end") or start.isoformat())
                return 200, market.sessions(start, end, book.clock.day if faults.holiday else None), None
            if method == "GET" and path == "/v2/stocks/trades/latest":
                now = book.clock.now()
                trades = {s: market.latest_trade(p, now) for s in self._symbols()
                          if (p := book.price(s)) is not None}
                return 200, {"trades": trades}, None
            if method == "GET" and path == "/v2/stocks/bars":
                self.app.bar_queries.append(dict(q))
                return 200, market.bars(self.app.history, self._symbols(), _day(q.get("start")), _day(q.get("end")),
                                        min(int(q.get("limit") or 1000), 10_000), q.get("page_token")), None
        except Refused as r:
            return r.status, r.body(), None
        except ValueError as exc:
            return 422, {"code": 40010001, "message": f"invalid request: {str(exc)[:120]}"}, None
        return 404, {"code": 40410000, "message": f"endpoint not found: {method} {path[:80]}"}, None

    def _symbols(self) -> list[str]:
        return [s.strip().upper() for s in self.query.get("symbols", "").split(",") if s.strip()][:200]

    def _orders(self) -> list[dict[str, Any]]:
        q, book = self.query, self.app.book
        status = q.get("status", "open")
        rows = book.orders()
        if status == "open":
            rows = [o for o in rows if o.status in ("new", "accepted", "partially_filled")]
        elif status == "closed":
            rows = [o for o in rows if o.status not in ("new", "accepted", "partially_filled")]
        if q.get("after"):
            after = _instant(q["after"])
            rows = [o for o in rows if o.created_at > after]
        if q.get("until"):
            until = _instant(q["until"])
            rows = [o for o in rows if o.created_at < until]
        if q.get("direction", "desc") == "desc":
            rows = rows[::-1]
        limit = min(int(q.get("limit") or 50), 500)
        return [o.json(book.asset_id(o.symbol)) for o in rows[:limit]]


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text[:10]) if text else None


def _instant(text: str):
    from datetime import UTC, datetime

    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)
