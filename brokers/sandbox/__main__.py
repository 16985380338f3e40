"""``python -m brokers.sandbox --port 0 --faults slow,rerender --prices bundled``: serve a sandbox broker.

Prints one line with the URL it bound, then serves until interrupted. Credentials come from
``SANDBOX_USER`` / ``SANDBOX_PASSWORD`` / ``SANDBOX_TOTP_SECRET`` (defaults: desk / sandbox / the published
demo secret). Faults can be switched while it runs: ``curl -d faults=maintenance URL/_admin/faults``.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from datetime import date

from brokers.sandbox.auth import DEFAULT_TOTP_SECRET, SandboxCredentials
from brokers.sandbox.faults import FaultError
from brokers.sandbox.server import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m brokers.sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port to bind on 127.0.0.1 (0: a free one)")
    parser.add_argument("--faults", default="", help="e.g. slow=0.5,rerender,lost_confirmation,reject=0.3,"
                                                     "expire=5,maintenance,partial=0.5")
    parser.add_argument("--prices", default="bundled", help="CSV of symbol,price rows, or bundled[:YYYY-MM-DD]")
    parser.add_argument("--session", type=date.fromisoformat, default=None, help="the date of CSV prices")
    parser.add_argument("--cash", type=float, default=100_000.0)
    parser.add_argument("--seed", type=int, default=7, help="seed of the reject fault")
    args = parser.parse_args(argv)
    creds = SandboxCredentials(user=os.environ.get("SANDBOX_USER", "desk"),
                               password=os.environ.get("SANDBOX_PASSWORD", "sandbox"),
                               totp_secret=os.environ.get("SANDBOX_TOTP_SECRET", DEFAULT_TOTP_SECRET))
    try:
        server = serve(args.port, prices=args.prices, faults=args.faults, cash=args.cash, credentials=creds,
                       session=args.session, seed=args.seed)
    except (FaultError, ValueError, OSError) as exc:
        print(f"sandbox broker: {exc}", file=sys.stderr)
        return 2
    print(f"sandbox broker listening on {server.url} (port {server.port}; faults: "
          f"{server.faults.spec() or 'none'})", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
