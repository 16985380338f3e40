"""Sizing and trust benchmarks (issue 13): ``python -m evals.bench_sizing [--from 2017-01-01 --to 2018-12-31]``.

On a fresh temporary DESK_HOME with the bundled data, all before 2019 (the hold-out is never read):
  - the same replay span side by side: fixed sizing vs Kelly vs the four-tier cascade vs the RL sizer alone;
    equal agent weights vs Thompson; with and without the moonshot track (its own P&L line);
  - the RL sizer walked forward (one fold per year of the span): its out-of-sample Sharpe beside Kelly's and the
    fixed size's on the same rows, and whether the registry promoted it;
  - `desk tune` wall time per trial: serial, 2 workers in a local process pool, 2 workers on local Ray.
Figures are printed as JSON. Each variant's replay goes to its own store under the temporary home.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

VARIANTS: dict[str, dict[str, dict[str, Any]]] = {
    "fixed": {"sizing": {"mode": "fixed"}},
    "kelly": {"sizing": {"mode": "kelly"}},
    "cascade": {},
    "rl_alone": {"sizing": {"mode": "rl"}},
    "cascade_equal_weights": {"trust": {"mode": "equal"}},
    "cascade_no_moonshot": {"moonshot": {"enabled": False}},
}


def _home(tmp: Path):
    """A fresh home with the bundled data loaded by the desk's own command (evals never import the shell)."""
    import subprocess
    import sys

    from graph.config import DeskConfig

    home = tmp / "home"
    env = {**os.environ, "DESK_HOME": str(home)}
    proc = subprocess.run([sys.executable, "-m", "desk.cli", "data", "load"], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"desk data load failed: {proc.stderr.strip()[-500:]}")
    return DeskConfig(home=home)


def _config(settings, overrides: dict[str, dict[str, Any]]):
    from graph.config import DeskConfig

    data = json.loads(settings.model_dump_json())
    for section, values in overrides.items():
        data[section].update(values)
    return DeskConfig.model_validate(data)


def rl_walk_forward(settings, start: date, end: date, timesteps: int) -> list[dict[str, Any]]:
    from memory.store import open_store
    from models.inputs import ModelInputs
    from models.registry import ModelRegistry
    from models.train import walk_forward
    from tools.market import MarketView

    store = open_store(settings)
    view = MarketView(store, settings.data.universe, settings.data.benchmark, cache_dir=settings.cache_dir)
    view.ensure()
    inputs = ModelInputs.from_view(view)
    t0 = time.perf_counter()
    results = walk_forward(inputs, "rl_sizer", start, end, ModelRegistry(settings.models_dir, promotion=settings.models.promotion), step_months=12,
                           recipe={"timesteps": timesteps})
    store.close()
    return [{"fold": f"{r.fold.test_start}..{r.fold.test_end}", "era": r.era, "version": r.version,
             "status": r.status, "reason": r.reason, "validation": r.validation.get("value"),
             "validation_baselines": r.validation.get("baselines"), "test_sharpe": r.test.get("value"),
             "test_baselines": r.test.get("baselines"), "seconds": r.seconds} for r in results] + \
        [{"total_seconds": round(time.perf_counter() - t0, 1)}]


def tiers(store_path: str) -> dict[str, int]:
    """How many entry intents each sizing tier sized (the moonshot track apart)."""
    from collections import Counter

    from memory.store import Store

    store = Store(store_path)
    try:
        entries = [r.intent for r in store.intents() if r.kind == "entry"]
    finally:
        store.close()
    return dict(Counter("moonshot" if i.track == "moonshot" else str(i.tier) for i in entries))


def replays(settings, start: date, end: date) -> dict[str, Any]:
    from evals.replay import replay

    out = {}
    for name, overrides in VARIANTS.items():
        r = replay(_config(settings, overrides), start, end, progress=lambda msg: None, name=f"{start}_{end}-{name}")
        out[name] = {"sharpe": r.desk.sharpe, "cagr": r.desk.cagr, "max_drawdown": r.desk.max_drawdown,
                     "calmar": r.desk.calmar, "trades": r.desk.trades, "total_return": r.desk.total_return,
                     "moonshot": r.moonshot.model_dump(), "main_pnl": r.main_pnl, "tiers": tiers(r.location),
                     "days_per_second": r.days_per_second, "setup_seconds": r.setup_seconds,
                     "periods": {k: {"sharpe": v.sharpe, "cagr": v.cagr} for k, v in r.periods.items()}}
    return out


def tune_timing(config, trials: int) -> dict[str, Any]:
    from evals.tune import run_search
    from memory.store import open_store

    folds = [(date(2014, 3, 3), date(2014, 3, 14))]
    validation = [(date(2015, 3, 2), date(2015, 3, 13))]
    out = {}
    store = open_store(config)
    for name, workers, ray in (("serial", 1, None), ("local_pool_2", 2, None), ("ray_local_2", 2, "local")):
        t0 = time.perf_counter()
        o = run_search(config, store, folds, validation, trials=trials, workers=workers, ray_address=ray, seed=13)
        out[name] = {"executor": o.executor, "trials": len(o.trials), "search_seconds": o.seconds,
                     "seconds_per_trial": round(o.seconds / len(o.trials), 2),
                     "wall_seconds_with_validation": round(time.perf_counter() - t0, 1), "adopted": o.adopted,
                     "reason": o.reason}
    store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--from", dest="start", default="2017-01-01")
    parser.add_argument("--to", dest="end", default="2018-12-31")
    parser.add_argument("--rl-timesteps", type=int, default=10_000)
    parser.add_argument("--tune-trials", type=int, default=4)
    parser.add_argument("--skip", default="", help="comma-separated: replays,rl,tune")
    args = parser.parse_args()
    start, end = date.fromisoformat(args.start), date.fromisoformat(args.end)
    if end >= date(2019, 1, 1):
        raise SystemExit("the sizing benchmark stays before 2019: the hold-out is not for choosing a design")
    skip = set(filter(None, args.skip.split(",")))
    with tempfile.TemporaryDirectory() as tmp:
        settings = _home(Path(tmp))
        report: dict[str, Any] = {"span": f"{start}..{end}", "cpu_count": os.cpu_count()}
        if "rl" not in skip:   # first: a promoted RL sizer (if any) then sizes in the cascade and rl_alone replays
            report["rl_sizer_walk_forward"] = rl_walk_forward(settings, start, end, args.rl_timesteps)
        if "replays" not in skip:
            report["replays"] = replays(settings, start, end)
        if "tune" not in skip:
            report["tune"] = tune_timing(settings, args.tune_trials)
    print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
