"""Start and stop a loopback Alpaca server on 127.0.0.1: ``serve(...)`` returns a running LoopbackServer."""

from __future__ import annotations

import logging
from datetime import date

from brokers.alpaca.loopback.app import Handler, LoopbackApp
from brokers.alpaca.loopback.book import Book
from brokers.alpaca.loopback.faults import Faults
from brokers.alpaca.loopback.market import History, bundled_history
from brokers.local_server import LocalServer, check_address
from brokers.sandbox.prices import PricesArg, PriceTable

log = logging.getLogger("brokers.alpaca.loopback")
DEFAULT_KEYS = ("LOOPBACKKEYID", "loopback-secret-key")


class LoopbackServer(LocalServer):
    """A running loopback Alpaca: ``url`` (for ``broker.url``), ``keys``, its ``book``, faults switchable at run
    time, ``stop()``."""

    app: LoopbackApp

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


def serve(port: int = 0, *, prices: PricesArg = "bundled", faults: Faults | str | None = None,
          cash: float = 100_000.0, keys: tuple[str, str] = DEFAULT_KEYS, session: date | None = None,
          history: History = bundled_history, host: str = "127.0.0.1") -> LoopbackServer:
    """Serve a loopback Alpaca on ``host:port`` (``port=0`` picks a free one) and return it running.

    ``prices``: as the sandbox broker takes them (a mapping, a callable, a CSV path, ``"bundled[:YYYY-MM-DD]"``);
    ``session`` dates a mapping, callable or CSV (default today). ``history`` serves the daily bars. The server
    binds loopback addresses only: its admin endpoints take no keys by design.
    """
    check_address(host, port, "loopback Alpaca")
    if not all(keys):
        raise ValueError("the loopback Alpaca needs a key id and a secret key")
    app = LoopbackApp(Book(PriceTable.of(prices, session), cash=cash), keys,
                      faults if isinstance(faults, Faults) else Faults.parse(faults), history)
    server = LoopbackServer(app, Handler, host, port, "alpaca-loopback")
    log.info("loopback alpaca on %s (faults: %s)", server.url, app.faults.spec() or "none")
    return server
