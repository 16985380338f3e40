"""The dashboard's two figures, on this machine, in headless Chromium against `desk serve`:

- **page load**: from navigation to every panel drawn with its data (the page's own clock), and to its charts drawn
  (plotly.js parsed), the first load (a new browser, plotly.js not in its cache) and the following ones, once desk
  serve has read each panel once after starting (its warm-up: the modules the reads import);
- **update**: from the end of each step of a night and morning run while the page is open (the step's ``ended`` time
  in the store) to the page having read and drawn every panel again.

    python -m desk.dashboard.bench [--home DIR] [--loads 5]

Without ``--home`` it makes a scratch home with a small book (the bundled history, the graphs run over three
sessions) and deletes it after. Targets (issue 21): page load ≤ 1 s, an update ≤ 2 s after a step ends.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

BOOK = (date(2022, 12, 19), date(2022, 12, 20), date(2022, 12, 21))
STEP_NIGHT = date(2022, 12, 22)


def _epoch_ms(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp() * 1000


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run(home: Path | None, loads: int) -> dict[str, Any]:
    from tests.dashboard_kit import build_book, chromium, clean_env, desk_serve, get, open_page, reads, wait_for

    scratch = None
    if home is None:
        scratch = Path(tempfile.mkdtemp(prefix="desk-dashboard-bench-"))
        home = scratch / "home"
        _say(f"building a scratch book in {home} (bundled history, {len(BOOK)} sessions)…")
        build_book(home, BOOK)
    driver = None
    try:
        with desk_serve(home, clean_env(home)) as served:
            started = time.monotonic()
            wait_for(lambda: get(served.url + "api/session")[1].get("warm"), 120, 0.1)
            _say(f"desk serve read each panel once in {time.monotonic() - started:.1f} s after printing its address")
            driver = chromium()
            load_ms, charts_ms = [], []
            for i in range(loads):
                driver.get("about:blank")
                open_page(driver, served.url)
                wait_for(lambda: driver.execute_script("return window.deskPage.chartsAt"), 30)
                load_ms.append(driver.execute_script("return window.deskPage.history[0][1] - performance.timeOrigin"))
                charts_ms.append(driver.execute_script("return window.deskPage.chartsAt - performance.timeOrigin"))
                _say(f"load {i + 1}: every panel's data drawn {load_ms[-1]:.0f} ms, the charts {charts_ms[-1]:.0f} ms")
            from desk.actor import Actor
            from desk.config import load_settings
            from desk.core.core import Core
            from memory.store import open_store

            settings = load_settings(home=home)
            before = reads(driver)
            _say(f"running the night and morning of {STEP_NIGHT} with the page open…")
            result = Core(settings).execute("run", {"phase": "all", "date": STEP_NIGHT}, Actor(who="bench", via="cli"))
            run_ids = [x.run_id for x in (result.night, result.morning) if x is not None]  # type: ignore[attr-defined]  # a RunResult
            store = open_store(settings)
            try:
                ends = sorted(_epoch_ms(s.ended) for r in run_ids for s in store.steps(r) if s.ended)
            finally:
                store.close()
            wait_for(lambda: reads(driver) > before, 30)
            last = ends[-1] if ends else 0.0  # wait for the re-read the last step's end set off, not a fixed pause
            wait_for(lambda: any(began >= last and drawn is not None
                                 for began, drawn in driver.execute_script("return window.deskPage.history")), 30)
            refreshed = driver.execute_script("return window.deskPage.history")
            lags = []  # to the first read of every panel that began after the step ended, drawn
            for end in ends:
                after = [drawn for began, drawn in refreshed if began >= end]
                if after:
                    lags.append(after[0] - end)
            return {
                "page_load_first_ms": round(load_ms[0], 1),
                "page_load_median_ms": round(statistics.median(load_ms[1:] or load_ms), 1),
                "page_load_max_ms": round(max(load_ms), 1),
                "charts_first_ms": round(charts_ms[0], 1),
                "charts_median_ms": round(statistics.median(charts_ms[1:] or charts_ms), 1),
                "steps": len(ends), "steps_followed": len(lags),
                "update_median_ms": round(statistics.median(lags), 1) if lags else None,
                "update_max_ms": round(max(lags), 1) if lags else None,
                "page_reads_during_run": len([b for b, _ in refreshed if ends and b >= ends[0]]),
            }
    finally:
        if driver is not None:
            driver.quit()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, default=None, help="a home with a book (default: a scratch one)")
    parser.add_argument("--loads", type=int, default=5, help="page loads to measure")
    args = parser.parse_args()
    print(json.dumps(run(args.home, max(1, args.loads)), indent=2))


if __name__ == "__main__":
    main()
