"""The dashboard's door: the page, its static files, ``/api/<command>`` (the command core's read results as JSON, the
same JSON as ``desk ops <command> --json``), the live stamp (server-sent events), the login and the actions.

It is a plain function of a request → a response, mounted on ``desk serve``'s port (``desk.serve.http``), so that
``/health``, ``/metrics`` and ``/slack/events`` stay where they are. Nothing here reads the store but through the
command core, except the change stamp (``memory.board``).

Security, in order: the port listens on loopback unless ``serve.host`` says otherwise; off loopback every page and
read needs a login (``desk.dashboard.auth``); on loopback, a request whose Host is not a loopback name is refused
(a DNS-rebinding page cannot read the desk); an action needs ``dashboard.actions``, a login, its session's CSRF token
and a same-origin request, and the core still allows it to ``slack.operators`` only, audited and echoed.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import mimetypes
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from desk.actor import Actor
from desk.config import Settings
from desk.core.catalog import COMMANDS
from desk.core.core import LOOPBACK_VIEWER, Core, Refused
from desk.dashboard.auth import COOKIE, LoginRefused, Session, Sessions, csrf_ok
from desk.dashboard.live import Watcher
from graph.errors import DeskError

log = logging.getLogger("desk.dashboard")

# the reads a page may ask for: every read served to the web door but `ask` (an LLM's answer costs money and time)
READS = frozenset(n for n, c in COMMANDS.items() if c.effect == "read" and "web" in c.doors and n != "ask")
ACTIONS = ("approve", "reject", "veto", "halt", "resume")
PANELS = ("status", "book", "holdings", "candidates", "intents", "orders", "weather", "regimes", "agents", "models",
          "runs")  # what the page reads
STATIC = {"dashboard.js": "application/javascript", "dashboard.css": "text/css", "index.html": "text/html",
          "login.html": "text/html"}
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
MAX_FORM = 16 << 10
MAX_STREAMS = 32
# the page's own reads carry this header: a read the core refuses with its one line (bad input, or nothing to show
# yet on a new home) answers 200 with {"error": line}, which the panel shows; every other client gets the 400
PAGE_HEADER = "X-Desk-Page"


@dataclass(frozen=True)
class Request:
    method: str
    target: str  # the path and query as sent
    headers: Mapping[str, str]
    body: bytes = b""

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.target).query))

    def header(self, name: str) -> str | None:
        low = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == low), None)

    def cookie(self, name: str) -> str | None:
        raw = self.header("cookie")
        if not raw:
            return None
        try:
            jar = SimpleCookie(raw)
        except CookieError:
            return None
        return jar[name].value if name in jar else None

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8", errors="replace"), keep_blank_values=True))


@dataclass
class Response:
    status: int
    body: bytes | Iterable[bytes]
    ctype: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def streaming(self) -> bool:
        return not isinstance(self.body, bytes)


def _json(status: int, data: Any) -> Response:
    return Response(status, json.dumps(data).encode())


def _error(status: int, message: str) -> Response:
    return _json(status, {"error": message})


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def _host_name(value: str | None) -> str:
    """The name of a Host header without its port."""
    if not value:
        return ""
    if value.startswith("["):
        return value[1:].split("]")[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class Dashboard:
    """The dashboard of one ``desk serve``: ``handle`` answers the paths it owns and returns None for the others."""

    def __init__(self, settings: Settings, core: Callable[[], Core], *, host: str,
                 submit: Callable[[Callable[[], Any]], Any] | None = None, watcher: Watcher | None = None,
                 health: Callable[[], tuple[int, dict[str, Any]]] | None = None, warm: bool = True) -> None:
        self.settings, self.core, self.submit, self.health = settings, core, submit, health
        self.loopback = is_loopback(host)
        self.sessions = Sessions(settings)
        self.watcher = watcher or Watcher(settings)
        self.warmed = threading.Event()
        if warm:
            threading.Thread(target=self._warm, name="desk-dashboard-warm", daemon=True).start()
        else:
            self.warmed.set()

    def _warm(self) -> None:
        """Read each panel once at start, so that the first page does not wait for the modules its reads import
        (pandas, the model registry, the checkpointer: 2-3 s on this machine)."""
        for name in PANELS:
            try:
                self.core().execute(name, {}, Actor(who=LOOPBACK_VIEWER, via="web"))
            except Exception as exc:  # noqa: BLE001 - warming is best effort; a page's own read reports any failure
                log.debug("warming %s: %s", name, exc)
        self.warmed.set()

    def close(self) -> None:
        self.watcher.stop()

    # ------------------------------------------------------------------ routing
    def handle(self, req: Request) -> Response | None:
        path = req.path
        if not (path == "/" or path.startswith(("/static/", "/api/", "/login", "/logout"))):
            return None
        if self.loopback and _host_name(req.header("host")) and not is_loopback(_host_name(req.header("host"))):
            return _error(403, "this dashboard answers on its loopback address only (Host header refused)")
        session = self.sessions.get(req.cookie(COOKIE))
        response = self._route(req, path, session)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    def _route(self, req: Request, path: str, session: Session | None) -> Response:
        if path.startswith("/static/"):
            return self._static(path.removeprefix("/static/"))
        if path == "/login":
            return self._login(req) if req.method == "POST" else self._static("login.html")
        if path == "/logout" and req.method == "POST":
            return self._logout(req, session)
        if not self.loopback and session is None:  # bound elsewhere: nothing is shown without a login
            if path == "/":
                return Response(303, b"", "text/plain", {"Location": "/login"})
            return _error(401, "log in first (/login)" if self.sessions.enabled else
                          "the dashboard is bound off loopback and no DESK_DASHBOARD__TOKEN is set: nobody can log in")
        if path == "/" and req.method == "GET":
            return self._static("index.html")
        if path == "/api/session" and req.method == "GET":
            return _json(200, {"who": session.who if session else None, "role": session.role if session else None,
                               "csrf": session.csrf if session else None,
                               "actions": self.settings.dashboard.actions, "login": self.sessions.enabled,
                               "loopback": self.loopback, "warm": self.warmed.is_set()})
        if path == "/api/health" and req.method == "GET":  # /health's answer, read by the page without a 503 error
            code, data = self.health() if self.health else (200, {"status": "ok", "scheduler": {"running": False}})
            return _json(200, {**data, "http_status": code})
        if path == "/api/events" and req.method == "GET":
            if self.watcher.listeners >= MAX_STREAMS:  # each open stream holds one of the port's threads
                return _error(503, f"{MAX_STREAMS} pages already listen: close one (the page falls back to reading "
                                   "when it is reloaded)")
            return Response(200, self.watcher.stream(), "text/event-stream", {"X-Accel-Buffering": "no"})
        if path.startswith("/api/do/"):
            if req.method != "POST":
                return _error(405, "actions are POSTed with the session's CSRF token")
            return self._action(req, path.removeprefix("/api/do/"), session)
        if path.startswith("/api/") and req.method == "GET":
            got = self._read(path.removeprefix("/api/"), req.query, session)
            if got.status == 400 and req.header(PAGE_HEADER) == "1":
                got.status = 200  # the page shows the core's line in its panel ("no night has run yet"): not a failure
            return got
        return _error(404 if req.method == "GET" else 405, f"no {req.method} {path} on the dashboard")

    # ------------------------------------------------------------------ pages
    def _static(self, name: str) -> Response:
        if name == "plotly.min.js":
            from desk.dashboard.assets import plotly_js

            return Response(200, plotly_js(), "application/javascript", {"Cache-Control": "max-age=86400"})
        if name not in STATIC:
            return _error(404, f"no static file {name[:60]!r}")
        body = resources.files("desk.dashboard").joinpath("static", name).read_bytes()
        ctype = STATIC[name] or mimetypes.guess_type(name)[0] or "application/octet-stream"
        return Response(200, body, f"{ctype}; charset=utf-8")

    # ------------------------------------------------------------------ reads
    def _actor(self, session: Session | None) -> Actor:
        return Actor(who=session.who, via="web") if session else Actor(who=LOOPBACK_VIEWER, via="web")

    def _read(self, name: str, query: Mapping[str, str], session: Session | None) -> Response:
        if name not in READS:
            return _error(404, f"no /api/{name[:40]}: the reads are {', '.join(sorted(READS))}, health, session, "
                               "events")
        try:
            result = self.core().execute(name, dict(query), self._actor(session))
        except Refused as refused:
            return _error(403, str(refused))
        except DeskError as exc:
            return _error(400, str(exc))
        return Response(200, result.model_dump_json(by_alias=True).encode())

    # ------------------------------------------------------------------ login and actions
    def _same_origin(self, req: Request) -> bool:
        """Whether a POST came from this dashboard's own page (or from no page at all: a client with the session's
        CSRF token). A browser says where it came from in Sec-Fetch-Site, or else in Origin."""
        site = req.header("sec-fetch-site")
        if site is not None:
            return site == "same-origin"
        origin = req.header("origin")
        if origin is None:
            return True
        return origin != "null" and urlsplit(origin).netloc == (req.header("host") or "")

    def _login(self, req: Request) -> Response:
        if len(req.body) > MAX_FORM or not self._same_origin(req):
            return _error(403, "login refused: not from this dashboard's page")
        form = req.form()
        try:
            session = self.sessions.login(form.get("member", ""), form.get("token", ""))
        except LoginRefused as refused:
            log.warning("dashboard login refused for %r: %s", form.get("member", "")[:40], refused)
            return Response(303, b"", "text/plain", {"Location": "/login?refused=1"})
        cookie = f"{COOKIE}={session.sid}; HttpOnly; SameSite=Strict; Path=/"
        return Response(303, b"", "text/plain", {"Location": "/", "Set-Cookie": cookie})

    def _logout(self, req: Request, session: Session | None) -> Response:
        if not csrf_ok(session, req.form().get("csrf")):
            return _error(403, "logout refused: no valid session and CSRF token")
        self.sessions.logout(req.cookie(COOKIE))
        return Response(303, b"", "text/plain", {"Location": "/",
                                                 "Set-Cookie": f"{COOKIE}=; Max-Age=0; HttpOnly; SameSite=Strict; Path=/"})

    def _action(self, req: Request, name: str, session: Session | None) -> Response:
        if name not in ACTIONS:
            return _error(404, f"no action {name[:40]!r}: the dashboard's actions are {', '.join(ACTIONS)}")
        if not self.settings.dashboard.actions:
            return _error(403, "actions are off on this desk (dashboard.actions = false)")
        if len(req.body) > MAX_FORM:
            return _error(413, "form too large")
        form = req.form()
        if session is None or not csrf_ok(session, form.pop("csrf", None)) or not self._same_origin(req):
            return _error(403, f"`{name}` refused: it needs a login, its session's CSRF token and this page")
        core, actor = self.core(), Actor(who=session.who, via="web")
        args = {k: v for k, v in form.items() if v != ""}
        try:
            if COMMANDS[name].long and self.submit is not None:  # a morning's run: acknowledged now, done on the book's worker
                core.check(name, actor)
                self.submit(lambda: core.execute(name, args, actor))
                return _json(202, {"accepted": name, "by": session.who,
                                   "note": "running on the desk's worker; the page updates when it ends"})
            result = core.execute(name, args, actor)
        except Refused as refused:
            return _error(403, str(refused))
        except DeskError as exc:
            return _error(400, str(exc))
        return Response(200, result.model_dump_json(by_alias=True).encode())
