"""Start and stop a sandbox broker on 127.0.0.1: ``serve(...)`` returns a running SandboxServer."""

from __future__ import annotations

import logging
from datetime import date

from brokers.local_server import LocalServer, check_address
from brokers.sandbox.app import Handler, SandboxApp
from brokers.sandbox.auth import SandboxCredentials, Sessions
from brokers.sandbox.book import Book
from brokers.sandbox.faults import Faults
from brokers.sandbox.prices import PricesArg, PriceTable

log = logging.getLogger("brokers.sandbox")


class SandboxServer(LocalServer):
    """A running sandbox: ``url``, its ``book`` (for inspection), faults switchable at run time, ``stop()``."""

    app: SandboxApp

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
    check_address(host, port, "sandbox")
    table = PriceTable.of(prices, session)
    app = SandboxApp(Book(table, cash=cash, commission_bps=commission_bps, min_commission=min_commission,
                          seed=seed), Sessions(credentials or SandboxCredentials()),
                     faults if isinstance(faults, Faults) else Faults.parse(faults))
    server = SandboxServer(app, Handler, host, port, "sandbox-broker")
    log.info("sandbox broker on %s (faults: %s)", server.url, app.faults.spec() or "none")
    return server
