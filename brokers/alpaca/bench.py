"""Benchmark of the Alpaca adapter against the loopback Alpaca API, beside the paper and web brokers in the same run:
``python -m brokers.alpaca.bench [--orders 50] [--morning 20] [--skip-web] [--faults SPEC]``.

Two figures per broker:

1. **orders per second**: ``--orders`` single orders placed one after another through ``settle`` (the morning's
   execution loop), the broker already up (Alpaca: an HTTP session; web: a logged-in browser; paper: its file);
2. **a 20-order morning**: what a morning asks of its broker, from a cold start (the broker built, the browser
   launched and logged in): the book (``positions``), a quote per symbol, 20 orders through ``settle``, then the
   book and the account again (reconcile). Each order is checked placed exactly once.

Prices are a fixed table (20 symbols at 50..145). The web broker drives the sandbox in headless Chromium (skipped
when Chromium is missing, or with ``--skip-web``); screenshots are off, as they are not the broker's work. Prints
one line per figure.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from brokers.alpaca.broker import AlpacaBroker
from brokers.alpaca.config import AlpacaKeys, AlpacaOptions
from brokers.alpaca.loopback import serve as serve_alpaca
from brokers.base import Broker, Order
from brokers.resolve import settle

SESSION = date(2024, 1, 2)
SYMBOLS = [f"S{i:02d}" for i in range(20)]
PRICES = {s: 50.0 + 5 * i for i, s in enumerate(SYMBOLS)}


class _Table:
    """The paper broker's price source over the same fixed table."""

    def bar(self, symbol: str, session: date) -> tuple[float | None, float] | None:
        return (PRICES[symbol], PRICES[symbol]) if symbol in PRICES else None

    def latest(self, symbol: str, on_or_before: date) -> tuple[date, float] | None:
        return (SESSION, PRICES[symbol]) if symbol in PRICES else None


Factory = Callable[[], Any]  # a context manager yielding (broker, placed: cid -> times booked)


@contextmanager
def _paper(tmp: Path, tag: str) -> Iterator[tuple[Broker, Callable[[str], int]]]:
    from brokers.paper import PaperBroker

    b = PaperBroker(tmp / f"paper-{tag}.sqlite", _Table(), SESSION, initial_cash=1e9)

    def booked(cid: str) -> int:
        return b.db.execute("SELECT count(*) FROM orders WHERE client_order_id=?", [cid]).fetchone()[0]
    try:
        yield b, booked
    finally:
        b.close()


@contextmanager
def _alpaca(tmp: Path, tag: str) -> Iterator[tuple[Broker, Callable[[str], int]]]:
    with serve_alpaca(prices=PRICES, session=SESSION, cash=1e9) as server:
        b = AlpacaBroker(AlpacaKeys(key_id=SecretStr(server.keys[0]), secret_key=SecretStr(server.keys[1])),
                         server.url, AlpacaOptions())
        try:
            yield b, server.book.booked
        finally:
            b.close()


@contextmanager
def _web(tmp: Path, tag: str) -> Iterator[tuple[Broker, Callable[[str], int]]]:
    from brokers.sandbox.server import serve
    from brokers.web import BrowserSettings, WebBroker, WebBrokerSettings, WebCredentials

    with serve(prices=PRICES, session=SESSION, cash=1e9) as server:
        c = server.credentials
        b = WebBroker(WebBrokerSettings(url=server.url, artifacts_dir=None,
                                        browser=BrowserSettings(loopback_only=True),
                                        credentials=WebCredentials(user=c.user, password=SecretStr(c.password),
                                                                   totp_secret=SecretStr(c.totp_secret))))
        try:
            yield b, lambda cid: sum(o.reference == cid for o in server.book.orders())
        finally:
            b.close()


def _order(tag: str, i: int) -> Order:
    return Order(client_order_id=f"bench-{tag}-{i}", symbol=SYMBOLS[i % len(SYMBOLS)], side="buy", quantity=1)


def _check(results: list[Any], booked: Callable[[str], int], what: str) -> None:
    bad = [r.client_order_id for r in results if r.status != "filled" or booked(r.client_order_id) != 1]
    if bad:
        raise SystemExit(f"bench: {what}: orders not placed exactly once and filled: {bad[:5]}")


def orders_per_second(factory: Factory, tmp: Path, n: int) -> float:
    with factory(tmp, "ops") as (broker, booked):
        settle(broker, _order("warm", 0))  # the session is up: a first call made
        t = time.perf_counter()
        results = [settle(broker, _order("ops", i)) for i in range(n)]
        seconds = time.perf_counter() - t
        _check(results, booked, "orders per second")
    return n / seconds


def morning(factory: Factory, tmp: Path, n: int) -> float:
    t = time.perf_counter()
    with factory(tmp, "morning") as (broker, booked):
        broker.positions()
        for s in SYMBOLS[:n]:
            broker.quote(s)
        results = [settle(broker, _order("morning", i)) for i in range(n)]
        broker.positions()
        broker.account()
        seconds = time.perf_counter() - t
        _check(results, booked, "morning")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m brokers.alpaca.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=50, help="single orders timed for orders per second")
    parser.add_argument("--morning", type=int, default=20, help="orders in the timed morning")
    parser.add_argument("--web-orders", type=int, default=10, help="single orders timed for the web broker")
    parser.add_argument("--skip-web", action="store_true", help="leave the web broker (Chromium) out")
    args = parser.parse_args(argv)
    brokers: list[tuple[str, Factory, int]] = [("paper", _paper, args.orders), ("alpaca", _alpaca, args.orders)]
    if not args.skip_web:
        from brokers.web.browser import selenium_missing

        why = selenium_missing()
        if why:
            print(f"web broker left out: {why}")
        else:
            brokers.append(("web", _web, args.web_orders))
    from brokers.alpaca.loopback.market import _schedule

    _schedule()  # the loopback server's XNYS schedule, built once per process: the server's cost, not the adapter's
    with tempfile.TemporaryDirectory(prefix="desk-alpaca-bench-") as tmp:
        for name, factory, n in brokers:
            ops = orders_per_second(factory, Path(tmp), n)
            seconds = morning(factory, Path(tmp), args.morning)
            print(f"{name:<7} {ops:8.1f} orders/s ({n} orders, broker up)   {args.morning}-order morning from a "
                  f"cold start: {seconds:6.2f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
