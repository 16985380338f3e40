"""Start and stop a sandbox broker on 127.0.0.1: ``serve(...)`` returns a running SandboxServer."""

from __future__ import annotations

import ipaddress
import logging
import threading
from datetime import date
from http.server import ThreadingHTTPServer
from typing import Any

from brokers.sandbox.app import Handler, SandboxApp
from brokers.sandbox.auth import SandboxCredentials, Sessions
from brokers.sandbox.book import Book
from brokers.sandbox.faults import Faults
from brokers.sandbox.prices import PricesArg, PriceTable

log = logging.getLogger("brokers.sandbox")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: SandboxApp) -> None:
        self.app = app
        super().__init__(address, Handler)


class SandboxServer:
    """A running sandbox: ``url``, its ``book`` (for inspection), faults switchable at run time, ``stop()``."""

    def __init__(self, httpd: _Server, app: SandboxApp) -> None:
        self._httpd, self.app = httpd, app
        host, port = httpd.server_address[:2]
        self.host, self.port = str(host), int(port)
        self.url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"sandbox-broker-{self.port}", daemon=True)
        self._thread.start()

    @property
    def book(self) -> Book:
        return self.app.book

    @property
    def credentials(self) -> SandboxCredentials:
        return self.app.sessions.credentials

    @property
    def faults(self) -> Faults:
        return self.app.faults

    def set_faults(self, faults: Faults | str | None) -> Faults:
        """Switch faults now, e.g. ``set_faults("slow=0.5,reject")``; ``None`` or ``""`` turns them all off."""
        return self.app.set_faults(faults)

    def stop(self) -> None:
        self.app.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def serve(port: int = 0, *, prices: PricesArg = "bundled", faults: Faults | str | None = None,
          cash: float = 100_000.0, credentials: SandboxCredentials | None = None, session: date | None = None,
          seed: int = 7, commission_bps: float = 1.0, min_commission: float = 1.0,
          host: str = "127.0.0.1") -> SandboxServer:
    """Serve a sandbox broker on ``host:port`` (``port=0`` picks a free one) and return it running.

    ``prices``: a mapping symbol -> price, a callable symbol -> price | None, a CSV path (``symbol,price``) or
    ``"bundled[:YYYY-MM-DD]"``. ``session`` dates the prices of a mapping, callable or CSV (default today).
    ``seed`` makes the ``reject`` fault reproducible. The sandbox binds loopback addresses only: its admin
    endpoints are unauthenticated by design.
    """
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"the sandbox serves loopback addresses only (got {host!r}); use 127.0.0.1")
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be 0..65535 (0 picks a free port), got {port}")
    table = PriceTable.of(prices, session)
    app = SandboxApp(Book(table, cash=cash, commission_bps=commission_bps, min_commission=min_commission,
                          seed=seed), Sessions(credentials or SandboxCredentials()),
                     faults if isinstance(faults, Faults) else Faults.parse(faults))
    server = SandboxServer(_Server((host, port), app), app)
    log.info("sandbox broker on %s (faults: %s)", server.url, app.faults.spec() or "none")
    return server
