"""The serve port: ``GET /health`` (JSON), ``GET /metrics`` (Prometheus text), in Slack's HTTP mode
``POST /slack/events`` (Bolt verifies every request's signature and timestamp), and every other path to the
dashboard (``desk.dashboard.app``) when it is on."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import CONTENT_TYPE_LATEST

from desk.dashboard.app import Request, Response

log = logging.getLogger("desk.serve.http")
MAX_BODY = 1 << 20  # Slack's payloads are small; anything larger is refused
SlackDispatch = Callable[[str, dict[str, str], str], tuple[int, dict[str, str], str]]
Web = Callable[["Request"], "Response | None"]


class ServePort:
    def __init__(self, host: str, port: int, *, health: Callable[[], tuple[int, dict[str, Any]]],
                 metrics: Callable[[], bytes], slack: SlackDispatch | None = None, web: Web | None = None) -> None:
        self.health, self.metrics, self.slack, self.web = health, metrics, slack, web
        serve = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                log.debug("%s " + fmt, self.address_string(), *args)

            def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    if k.lower() not in ("content-length", "content-type"):
                        self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def _web(self, body: bytes = b"") -> bool:
                """The dashboard's answer, if the path is its own."""
                if serve.web is None:
                    return False
                try:
                    got = serve.web(Request(self.command, self.path, dict(self.headers), body))
                except Exception as exc:  # one page's failure is a 500 with its line, never the port's
                    log.exception("dashboard %s %s", self.command, self.path[:200])
                    self._send(500, json.dumps({"error": f"the dashboard failed: {exc}"}).encode(), "application/json")
                    return True
                if got is None:
                    return False
                if not got.streaming:
                    assert isinstance(got.body, bytes)
                    self._send(got.status, got.body, got.ctype, got.headers)
                    return True
                self.close_connection = True
                try:
                    self.send_response(got.status)  # an event stream: no length, the connection closes at its end
                    self.send_header("Content-Type", got.ctype)
                    self.send_header("Connection", "close")
                    for k, v in got.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    for chunk in got.body:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                except OSError:  # the page went away
                    pass
                finally:
                    close = getattr(got.body, "close", None)
                    if close is not None:
                        close()
                return True

            def do_GET(self):
                path = urlsplit(self.path).path
                if path == "/health":
                    status, data = serve.health()
                    return self._send(status, json.dumps(data).encode(), "application/json")
                if path == "/metrics":
                    return self._send(200, serve.metrics(), CONTENT_TYPE_LATEST)
                if self._web():
                    return None
                self._send(404, b'{"error": "not found: /health, /metrics, /slack/events"}', "application/json")

            def do_POST(self):
                parts = urlsplit(self.path)
                try:
                    size = int(self.headers.get("Content-Length") or 0)
                except ValueError:
                    size = -1
                if not 0 <= size <= MAX_BODY:
                    return self._send(413, b'{"error": "body too large"}', "application/json")
                raw = self.rfile.read(size)
                if parts.path != "/slack/events" or serve.slack is None:
                    if self._web(raw):
                        return None
                    return self._send(404, b'{"error": "not found"}', "application/json")
                body = raw.decode("utf-8", errors="replace")
                status, headers, text = serve.slack(body, dict(self.headers), parts.query)
                ctype = headers.get("content-type") or headers.get("Content-Type") or "text/plain;charset=utf-8"
                self._send(status, text.encode(), ctype, headers)

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, name="desk-http", daemon=True)

    def start(self) -> ServePort:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
