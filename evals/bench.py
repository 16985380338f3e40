"""Performance benchmarks (ARCHITECTURE.md: Quality): run them with ``python -m evals.bench [--quick]``.

Measures, on a fresh temporary DESK_HOME:
  - first setup: ``desk run`` from an empty home (bundled data load + feature/weather cache + model training + run)
  - ``desk run`` after setup: wall time of the whole command in a new process (median of 3), each for one of the
    three sessions before the latest, whose nights have not run: each plans its night and executes its morning (a
    second ``desk run`` of one date finds its night frozen and only re-checks the morning: measured apart, as
    ``desk_run_frozen_seconds``)
  - replay throughput over 2017–2018: trading days per second through the real graphs with the rules provider
    (setup — features and walk-forward models — reported separately)

``--store-url postgresql://…/EMPTY_DB`` measures the same on a PostgreSQL store (an empty database: the first setup
loads it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from tools.calendar import xnys_sessions


def _desk(home: Path, *args: str, store_url: str | None = None) -> tuple[float, str]:
    """Run ``desk ARGS`` in a new process on ``home``; (wall seconds, stdout)."""
    env = {**os.environ, "DESK_HOME": str(home), **({"DESK_STORE__URL": store_url} if store_url else {})}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "desk.cli", *args], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"desk {' '.join(args)} failed: {proc.stderr.strip()[-500:]}")
    return elapsed, proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--from", dest="start", default="2017-01-01")
    parser.add_argument("--to", dest="end", default="2018-12-31")
    parser.add_argument("--store-url", default=None, help="an empty PostgreSQL database to measure the store on")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home, url = Path(tmp) / "home", args.store_url
        first, out = _desk(home, "run", "--json", store_url=url)
        latest = date.fromisoformat(json.loads(out)["night"]["as_of"])
        sessions = [d.date() for d in xnys_sessions() if d.date() < latest][-3:]
        warm = [_desk(home, "run", "--date", d.isoformat(), "--json", store_url=url)[0] for d in reversed(sessions)]
        frozen, _ = _desk(home, "run", "--json", store_url=url)
        span = ("replay", "--from", args.start, "--to", args.end, "--json")
        result = json.loads(_desk(home, *span, store_url=url)[1])
        second = json.loads(_desk(home, *span, store_url=url)[1])
    print(json.dumps({
        "first_setup_seconds": round(first, 2),
        "desk_run_seconds_median": round(statistics.median(warm), 2),
        "desk_run_seconds_all": [round(w, 2) for w in warm],
        "desk_run_frozen_seconds": round(frozen, 2),
        "replay_nights": result["nights"],
        "replay_setup_seconds_cold": result["setup_seconds"],
        "replay_days_per_second": result["days_per_second"],
        "replay_days_per_second_second_run": second["days_per_second"],
        "store": "postgresql" if args.store_url else "sqlite",
        "cpu_count": os.cpu_count(),
    }, indent=2))


if __name__ == "__main__":
    main()
