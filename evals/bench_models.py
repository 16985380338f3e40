"""Model benchmarks (issue 9): ``python -m evals.bench_models [--quick] [--wf-from 2011-01-01] [--json]``.

On a fresh temporary DESK_HOME loaded with the bundled history; the model inputs are cut at 2018-12-31 before
any model or metric sees them (features are causal, so this equals a store truncated there):
  1. full retrain of every model for decisions on 2018-12-31 (models.train.train_all; the real recipes), timed
     per model, with each model's in-sample and purged-validation metric beside its naive baselines and the
     registry's promotion decision;
  2. inference latency per model for a whole-universe call (20 symbols; regime is one market-wide call) through
     the typed API (models.api.ModelService), p50 / p99 over many decision dates after one warm-up call;
  3. (unless --quick) walk-forward out-of-sample: yearly folds from --wf-from to 2018, each trained up to its
     purge gap before the year and scored on that year's decisions beside the baselines, summarised per era
     (in-sample to 2014, validation 2015-2018).
Latency is wall time per call, and CPU time of the calling thread beside it: on a shared machine the gap between
the two is time spent waiting for a core, not work the model does; the 1-minute load average is reported too.
The latency step needs a model to serve for every name, including models the registry rejected, so it promotes
copies in a separate throw-away registry - for timing only; the promotion record of step 1 is the one reported.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

NAMES = ("regime", "health", "direction", "mean_reversion")
LAST_PRE_HOLDOUT = date(2018, 12, 31)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _inputs(home: Path):
    from graph.config import DeskConfig
    from memory.store import open_store
    from models.inputs import ModelInputs
    from tools.data.bundled import BundledProvider
    from tools.data.loader import load_into_store
    from tools.market import MarketView

    config = DeskConfig(home=home)
    home.mkdir(parents=True, exist_ok=True)
    store = open_store(config)
    if not store.symbols():
        load_into_store(store, BundledProvider(), progress=_log, max_jump=config.data.max_daily_jump)
    view = MarketView(store, tuple(config.data.universe), config.data.benchmark, cache_dir=config.cache_dir)
    view.ensure()
    inputs = ModelInputs.from_view(view).until(LAST_PRE_HOLDOUT)
    store.close()
    return inputs


def _progress(event) -> None:
    if event.step == event.total:
        fold = f" fold {event.fold}/{event.folds}" if event.fold else ""
        _log(f"  {event.model}{fold}: {event.stage} done ({event.total} steps)")


def full_retrain(inputs, root: Path) -> list[dict[str, Any]]:
    from models.registry import ModelRegistry
    from models.train import train_one
    from models.catalog import entry
    from models.walkforward import cutoff_for

    registry, rows = ModelRegistry(root), []
    for name in NAMES:
        recipe = entry(name).recipe()
        cutoff = cutoff_for(LAST_PRE_HOLDOUT, inputs.sessions, 3, int(recipe["horizon"]))
        started = time.perf_counter()
        outcome = train_one(registry, inputs, name, cutoff, None, _progress)
        rows.append({**outcome.to_dict(), "wall_seconds": round(time.perf_counter() - started, 2)})
        _log(f"{name}: {outcome.status} in {rows[-1]['wall_seconds']}s - {outcome.reason}")
    return rows


def latency(inputs, root: Path, calls: int = 400) -> dict[str, dict[str, float]]:
    from models.api import AsOfArgs, ModelService, SymbolsArgs
    from models.registry import ModelRegistry
    from models.promotion import Evidence
    from models.metrics import Evaluation

    timing = ModelRegistry(Path(tempfile.mkdtemp(prefix="latency-")))
    source = ModelRegistry(root)
    for row in source.list():
        model = source.load(row["name"], row["version"])
        timing.register(model)
        forced = Evaluation(row["metrics"]["metric"], 1.0, {"timing_only": 0.0}, 1, 1, None, None)
        timing.decide(row["name"], row["version"], Evidence(row["metrics"]["metric"], forced))
    service = ModelService(timing, inputs)
    sessions = [d for d in inputs.sessions[inputs.sessions >= "2018-06-01"]            # every model usable on them
                if all(service.availability(n, d.date()).usable for n in NAMES)]
    load_before = os.getloadavg()[0]
    rng = np.random.default_rng(0)
    days = [sessions[i].date() for i in rng.integers(0, len(sessions), size=calls)]
    symbols = list(inputs.symbols)
    calls_for = {"regime": lambda d: service.regime(AsOfArgs(as_of=d)),
                 "health": lambda d: service.health(SymbolsArgs(as_of=d, symbols=symbols)),
                 "direction": lambda d: service.direction(SymbolsArgs(as_of=d, symbols=symbols)),
                 "mean_reversion": lambda d: service.mean_reversion(SymbolsArgs(as_of=d, symbols=symbols))}
    out = {}
    for name, call in calls_for.items():
        call(days[0])                                   # warm-up: loads the model, builds the memoised arrays
        wall, cpu = [], []
        for day in days:
            t0, c0 = time.perf_counter(), time.thread_time()
            call(day)
            cpu.append((time.thread_time() - c0) * 1000)
            wall.append((time.perf_counter() - t0) * 1000)
        pct = lambda xs, q: round(float(np.percentile(xs, q)), 3)
        out[name] = {"p50_ms": pct(wall, 50), "p99_ms": pct(wall, 99), "cpu_p50_ms": pct(cpu, 50),
                     "cpu_p99_ms": pct(cpu, 99), "calls": len(wall), "symbols": 1 if name == "regime" else len(symbols)}
        _log(f"{name}: p50 {out[name]['p50_ms']} ms, p99 {out[name]['p99_ms']} ms "
             f"(CPU time p99 {out[name]['cpu_p99_ms']} ms)")
    shutil.rmtree(timing.root, ignore_errors=True)
    out["load_average_1min"] = {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)}
    return out


def walk_forward_all(inputs, root: Path, start: date) -> dict[str, Any]:
    from models.registry import ModelRegistry
    from models.train import summarise, walk_forward

    report = {}
    for name in NAMES:
        started = time.perf_counter()
        results = walk_forward(inputs, name, start, LAST_PRE_HOLDOUT, ModelRegistry(root / "wf"), progress=_progress)
        report[name] = {
            "seconds": round(time.perf_counter() - started, 1),
            "summary": summarise(results),
            "folds": [{"year": r.fold.test_start.year, "era": r.era, "cutoff": r.fold.cutoff.isoformat(),
                       "test": r.test.get("value"), "baselines": r.test.get("baselines"),
                       "beats_baseline": r.test.get("beats_baseline"), "validation": r.validation.get("value"),
                       "status": r.status} for r in results],
        }
        _log(f"{name}: walk-forward {report[name]['summary']}")
    return report


def _print(report: dict[str, Any]) -> None:
    print(f"cpu_count {report['cpu_count']}; full retrain {report['full_retrain_seconds']} s")
    print("full retrain for decisions on 2018-12-31: the metric on the training rows (fit) and on the purged")
    print("validation tail (val), beside the best naive baseline on the same tail rows")
    print(f"{'model':<15}{'train s':>9}{'metric':>19}{'fit':>9}{'val':>9}{'best baseline':>24}{'status':>10}")
    for row in report["full_retrain"]:
        v, i = row["validation"], row["in_sample"]
        name, value = max(((k, b) for k, b in v["baselines"].items() if b is not None), key=lambda kv: kv[1])
        print(f"{row['name']:<15}{row['wall_seconds']:>9}{v['metric']:>19}{i['value']:>9.4f}{v['value']:>9.4f}"
              f"{name + ' ' + format(value, '.4f'):>24}{row['status']:>10}")
    print("inference (whole-universe call):")
    for name, lat in report["latency"].items():
        if name == "load_average_1min":
            print(f"  (1-minute load average {lat['before']} before, {lat['after']} after, on {report['cpu_count']} cores)")
            continue
        print(f"  {name:<15} p50 {lat['p50_ms']:.3f} ms   p99 {lat['p99_ms']:.3f} ms   CPU-time p99 "
              f"{lat['cpu_p99_ms']:.3f} ms   ({lat['calls']} calls)")
    for name, wf in report.get("walk_forward", {}).items():
        print(f"walk-forward {name} ({wf['seconds']} s; yearly test folds, era = the test year's period):")
        for era, s in wf["summary"].items():
            print(f"  {era:<11} {s['folds']} folds  mean {s['metric']} {s['mean']:.4f} vs best baseline "
                  f"{s['mean_best_baseline']:.4f}; {s['folds_beating_baseline']} folds beat it; {s['promoted']} promoted")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="skip the walk-forward folds")
    parser.add_argument("--wf-from", default="2011-01-01", help="first walk-forward test year (default 2011)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        _log("loading the bundled history (cut at 2018-12-31)")
        inputs = _inputs(home)
        started = time.perf_counter()
        retrain = full_retrain(inputs, home / "models")
        report: dict[str, Any] = {"cpu_count": os.cpu_count(), "full_retrain": retrain,
                                  "full_retrain_seconds": round(time.perf_counter() - started, 1)}
        report["latency"] = latency(inputs, home / "models")
        if not args.quick:
            report["walk_forward"] = walk_forward_all(inputs, home, date.fromisoformat(args.wf_from))
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        _print(report)


if __name__ == "__main__":
    main()
