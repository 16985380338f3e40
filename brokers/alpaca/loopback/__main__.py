"""``python -m brokers.alpaca.loopback --port 0 --prices bundled:2017-03-02 --faults lost=1``: serve a loopback Alpaca.

Prints one line with the URL it bound and the keys it accepts, then serves until interrupted. Keys come from
``APCA_API_KEY_ID`` / ``APCA_API_SECRET_KEY`` when set (so a desk with the same environment reaches it), else the
published loopback pair. Faults can be switched while it runs: ``curl -d '{"faults": "lost=1"}' URL/_admin/faults``;
``URL/_admin/open`` and ``URL/_admin/close`` open the market (queued orders fill) and close it (working orders expire).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from datetime import date

from brokers.alpaca.loopback.faults import FaultError
from brokers.alpaca.loopback.server import DEFAULT_KEYS, serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="desk sandbox-broker --api alpaca", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port to bind on 127.0.0.1 (0: a free one)")
    parser.add_argument("--faults", default="", help="e.g. latency=0.2,lost=1,error5xx=2,rate_limit=1,lag=1,"
                                                     "partial=0.5,closed,holiday,whole=AAPL,untradable=GE,pdt,blackout")
    parser.add_argument("--prices", default="bundled", help="CSV of symbol,price rows, or bundled[:YYYY-MM-DD]")
    parser.add_argument("--session", type=date.fromisoformat, default=None, help="the date of CSV prices")
    parser.add_argument("--cash", type=float, default=100_000.0)
    args = parser.parse_args(argv)
    keys = (os.environ.get("APCA_API_KEY_ID") or DEFAULT_KEYS[0], os.environ.get("APCA_API_SECRET_KEY") or DEFAULT_KEYS[1])
    try:
        server = serve(args.port, prices=args.prices, faults=args.faults, cash=args.cash, keys=keys,
                       session=args.session)
    except (FaultError, ValueError, OSError) as exc:
        print(f"loopback alpaca: {exc}", file=sys.stderr)
        return 2
    shown = "from APCA_API_KEY_ID / APCA_API_SECRET_KEY" if os.environ.get("APCA_API_KEY_ID") else \
        f"APCA_API_KEY_ID={keys[0]} APCA_API_SECRET_KEY={keys[1]}"
    print(f"loopback alpaca listening on {server.url} (port {server.port}; session {server.book.prices.session}; "
          f"keys {shown}; faults: {server.faults.spec() or 'none'})", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
