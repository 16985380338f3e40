"""Start and stop a loopback Alpaca server on 127.0.0.1: ``serve(...)`` returns a running LoopbackServer."""

from __future__ import annotations

import ipaddress
import logging
import threading
from datetime import date
from http.server import ThreadingHTTPServer
from typing import Any

from brokers.alpaca.loopback.app import Handler, LoopbackApp
from brokers.alpaca.loopback.book import Book
from brokers.alpaca.loopback.faults import Faults
from brokers.alpaca.loopback.market import History, bundled_history
from brokers.sandbox.prices import PricesArg, PriceTable

log = logging.getLogger("brokers.alpaca.loopback")
DEFAULT_KEYS = ("LOOPBACKKEYID", "loopback-secret-key")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: LoopbackApp) -> None:
        self.app = app
        super().__init__(address, Handler)


class LoopbackServer:
    """A running loopback Alpaca: ``url`` (for ``broker.url``), ``keys``, its ``book``, faults switchable at run
    time, ``stop()``."""

    def __init__(self, httpd: _Server, app: LoopbackApp) -> None:
        self._httpd, self.app = httpd, app
        host, port = httpd.server_address[:2]
        self.host, self.port = str(host), int(port)
        self.url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"alpaca-loopback-{self.port}", daemon=True)
        self._thread.start()

    @property
    def book(self) -> Book:
        return self.app.book

    @property
    def keys(self) -> tuple[str, str]:
        return self.app.keys

    @property
    def faults(self) -> Faults:
        return self.app.faults

    def set_faults(self, faults: Faults | str | None) -> Faults:
        """Switch faults now, e.g. ``set_faults("lost=1,lag=1")``; ``None`` or ``""`` turns them all off."""
        return self.app.set_faults(faults)

    def set_session(self, prices: PricesArg, session: date | None = None) -> None:
        """Move to a new session priced by ``prices`` (the clock moves to its date)."""
        self.app.book.set_prices(PriceTable.of(prices, session))

    def stop(self) -> None:
        self.app.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(port: int = 0, *, prices: PricesArg = "bundled", faults: Faults | str | None = None,
          cash: float = 100_000.0, keys: tuple[str, str] = DEFAULT_KEYS, session: date | None = None,
          history: History = bundled_history, host: str = "127.0.0.1") -> LoopbackServer:
    """Serve a loopback Alpaca on ``host:port`` (``port=0`` picks a free one) and return it running.

    ``prices``: as the sandbox broker takes them (a mapping, a callable, a CSV path, ``"bundled[:YYYY-MM-DD]"``);
    ``session`` dates a mapping, callable or CSV (default today). ``history`` serves the daily bars. The server
    binds loopback addresses only: its admin endpoints take no keys by design.
    """
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"the loopback Alpaca serves loopback addresses only (got {host!r}); use 127.0.0.1")
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be 0..65535 (0 picks a free port), got {port}")
    if not all(keys):
        raise ValueError("the loopback Alpaca needs a key id and a secret key")
    app = LoopbackApp(Book(PriceTable.of(prices, session), cash=cash), keys,
                      faults if isinstance(faults, Faults) else Faults.parse(faults), history)
    server = LoopbackServer(_Server((host, port), app), app)
    log.info("loopback alpaca on %s (faults: %s)", server.url, app.faults.spec() or "none")
    return server
