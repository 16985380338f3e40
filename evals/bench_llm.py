"""LLM overlay benchmarks (issue 8): ``python -m evals.bench_llm [--from D1 --to D2]``.

On a fresh temporary DESK_HOME, each a whole ``desk replay`` in a new process over the same range:
  1. the rules provider (no LLM) — the reference speed;
  2. the real ``openai`` client (through langchain) against a scripted OpenAI-compatible server on 127.0.0.1 that
     answers at once, ``llm.replay = auto`` — this records every exchange; the overlay layer's own overhead per night
     is its extra wall time over the rules replay, beside the part of it the recorded call latencies account for;
  3. the same provider with ``llm.replay = only`` and no key — served from the record, no call made.
Prints calls and dollars per night and per replayed year (the rules provider's are zero), and the speed of 3 as a
fraction of 1 (target ≥ 80 %). The server is the tests' loopback kit: no network is used.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from memory.store import Store
from tests.llm_kit import ScriptedLLM


def _replay(home: Path, start: str, end: str, env: dict[str, str], *extra: str) -> tuple[float, dict]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_", "DESK_"))}
    full.update({"DESK_HOME": str(home), **env})
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "desk.cli", "replay", "--from", start, "--to", end, "--json", *extra],
                          env=full, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"desk replay {' '.join(extra)} failed: {proc.stderr.strip()[-500:]}")
    return wall, json.loads(proc.stdout)


def _recorded_latency_ms(home: Path) -> tuple[float, int]:
    """The recorded calls' latency (the desk's home store keeps the LLM record, replays included)."""
    store = Store(home / "desk.sqlite")
    try:
        ok = [c for c in store.llm_calls() if c.status == "ok"]
    finally:
        store.close()
    return float(sum(c.latency_ms for c in ok)), len(ok)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--from", dest="start", default="2017-01-01")
    parser.add_argument("--to", dest="end", default="2018-12-31")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, ScriptedLLM() as server:
        home = Path(tmp) / "home"
        _replay(home, args.start, args.end, {})  # warm: bundled data, features and walk-forward models cached
        rules_wall, rules = _replay(home, args.start, args.end, {})
        llm_env = {**server.env("openai"), "DESK_LLM__PROVIDER": "openai",
                   "DESK_LLM__MAX_USD_PER_DAY": "1000", "DESK_LLM__MAX_USD_PER_RUN": "10"}
        auto_wall, auto = _replay(home, args.start, args.end, llm_env, "--llm-replay", "auto")
        latency_ms, ok_calls = _recorded_latency_ms(home)
        asked = len(server.requests)
        served_env = {k: v for k, v in llm_env.items() if k != "OPENAI_API_KEY"}
        only_wall, only = _replay(home, args.start, args.end, served_env, "--llm-replay", "only")
        assert len(server.requests) == asked, "a replay from the record asked the server"
    nights = rules["nights"]
    years = nights / 252
    extra_ms = (auto["seconds"] - rules["seconds"]) / nights * 1000  # the graphs' loop only, setup apart
    print(json.dumps({
        "range": [args.start, args.end], "nights": nights,
        "rules_days_per_second": rules["days_per_second"],
        "llm_auto_days_per_second": auto["days_per_second"],
        "llm_only_days_per_second": only["days_per_second"],
        "llm_only_speed_vs_rules": round(only["days_per_second"] / rules["days_per_second"], 3),
        "llm_calls": auto["llm_calls"], "llm_ok_calls": ok_calls,
        "llm_calls_per_night": round(auto["llm_calls"] / nights, 2),
        "llm_calls_per_year": round(auto["llm_calls"] / years, 1),
        "llm_usd": round(auto["llm_usd"], 4), "llm_usd_per_night": round(auto["llm_usd"] / nights, 5),
        "llm_usd_per_year": round(auto["llm_usd"] / years, 2),
        "llm_only_calls": only["llm_calls"], "llm_only_usd": only["llm_usd"],
        "llm_extra_ms_per_night": round(extra_ms, 1),
        "recorded_call_latency_ms_per_night": round(latency_ms / nights, 1),
        "overhead_beyond_call_latency_ms_per_night": round(extra_ms - latency_ms / nights, 1),
        "wall_seconds": {"rules": round(rules_wall, 1), "llm_auto": round(auto_wall, 1), "llm_only": round(only_wall, 1)},
        "cpu_count": os.cpu_count(),
    }, indent=2))


if __name__ == "__main__":
    main()
