"""A test double's HTTP server on a loopback address, serving from a thread of its own: the sandbox web broker and
the loopback Alpaca API both run on it. ``LocalServer`` has the ``url``, ``stop()`` and the ``with`` block; the
server's ``app`` (its state, faults and ``stopping`` event) is what the request handler reads as ``server.app``."""

from __future__ import annotations

import ipaddress
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol


class App(Protocol):
    stopping: threading.Event


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: App, handler: type[BaseHTTPRequestHandler]) -> None:
        self.app = app
        super().__init__(address, handler)


def check_address(host: str, port: int, what: str) -> None:
    """A loopback host and a port in range, else ValueError saying which: these servers' admin endpoints take no
    credentials by design."""
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"the {what} serves loopback addresses only (got {host!r}); use 127.0.0.1")
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be 0..65535 (0 picks a free port), got {port}")


class LocalServer:
    """``app`` served by ``handler`` on ``host:port`` (``port=0`` picks a free one) until ``stop()``."""

    def __init__(self, app: Any, handler: type[BaseHTTPRequestHandler], host: str, port: int, name: str) -> None:
        self.app = app
        self._httpd = _Server((host, port), app, handler)
        bound_host, bound_port = self._httpd.server_address[:2]
        self.host, self.port = str(bound_host), int(bound_port)
        self.url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"{name}-{self.port}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.app.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
