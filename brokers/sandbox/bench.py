"""Benchmark of the web broker against the sandbox in headless Chromium: ``python -m brokers.sandbox.bench``.

Measures (1) one order end to end with the session reused (browser up, logged in): blotter search, ticket,
review, confirmation, each step photographed; (2) a morning of 8 orders, from a cold start (browser launch and
login included) to the last confirmation. Targets: (1) ≤ 3 s, (2) ≤ 30 s. Prints one line per figure and exits
non-zero when a target is missed. ``--faults`` runs the same under a fault spec; ``--no-artifacts`` measures
without screenshots.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pydantic import SecretStr

from brokers.base import Order
from brokers.resolve import settle
from brokers.sandbox.server import serve
from brokers.web import BrowserSettings, WebBroker, WebBrokerSettings, WebCredentials

SYMBOLS = ["AAPL", "MSFT", "XOM", "JPM", "PG", "KO", "WMT", "JNJ"]
TARGET_ONE_S, TARGET_MORNING_S = 3.0, 30.0


def _broker(url: str, creds, artifacts: Path | None, headed: bool) -> WebBroker:
    return WebBroker(WebBrokerSettings(
        url=url, artifacts_dir=artifacts, browser=BrowserSettings(loopback_only=True, headed=headed),
        credentials=WebCredentials(user=creds.user, password=SecretStr(creds.password),
                                   totp_secret=SecretStr(creds.totp_secret))))


def run(faults: str = "", repeats: int = 5, artifacts: bool = True, headed: bool = False) -> dict[str, float]:
    prices = {s: 50.0 + 10 * i for i, s in enumerate(SYMBOLS)}
    with tempfile.TemporaryDirectory(prefix="desk-bench-") as tmp, serve(prices=prices, cash=1e7) as server:
        art = Path(tmp) if artifacts else None
        started = time.perf_counter()
        with _broker(server.url, server.credentials, art and art / "morning", headed) as broker:
            server.set_faults(faults)
            results = [settle(broker, Order(client_order_id=f"bench-m{i}", symbol=s, side="buy", quantity=10))
                       for i, s in enumerate(SYMBOLS)]
            morning = time.perf_counter() - started
            server.set_faults(None)
            placed = {o.reference for o in server.book.orders()}
            if len(server.book.orders()) != len(SYMBOLS) or placed != {r.client_order_id for r in results}:
                raise SystemExit(f"bench: the morning did not place each order once: {server.book.orders()}")
            server.set_faults(faults)
            one = []
            for i in range(repeats):
                t = time.perf_counter()
                settle(broker, Order(client_order_id=f"bench-o{i}", symbol="MSFT", side="buy", quantity=1))
                one.append(time.perf_counter() - t)
    return {"one_order_s": statistics.median(one), "one_order_max_s": max(one), "morning_8_s": morning}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m brokers.sandbox.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--faults", default="", help="a sandbox fault spec, e.g. slow=0.2,rerender")
    parser.add_argument("--repeats", type=int, default=5, help="single orders to time (median is reported)")
    parser.add_argument("--no-artifacts", action="store_true", help="skip screenshots and HTML snapshots")
    parser.add_argument("--headed", action="store_true", help="show the browser (debugging)")
    args = parser.parse_args(argv)
    figures = run(args.faults, args.repeats, not args.no_artifacts, args.headed)
    print(f"one order, session reused: median {figures['one_order_s']:.2f}s (max {figures['one_order_max_s']:.2f}s; "
          f"target <= {TARGET_ONE_S:g}s)")
    print(f"morning of 8 orders, cold start: {figures['morning_8_s']:.2f}s (target <= {TARGET_MORNING_S:g}s)")
    ok = figures["one_order_s"] <= TARGET_ONE_S and figures["morning_8_s"] <= TARGET_MORNING_S
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
