"""The desk with its models, measured (issue figures): ``python -m evals.bench_desk_models [--from D1 --to D2]``.

On a fresh temporary DESK_HOME, through the real command line:
  - a replay with the default models (the mean reversion trained walk-forward per block),
  - the same replay with every model trained walk-forward per block (regime, health, direction, mean reversion,
    and issue 13's volatility state, GARCH and RL sizer):
    training time (the replay's setup) apart from trading days per second, and which models were promoted,
  - both replays' figures by period beside S&P 500, the equal-weight universe and the equal-weight book held at
    the desk's own invested fraction (timing apart from selection),
  - `desk train` for the latest date, then `desk run` with every promoted model loaded (median of 3).
The default range is 2017–2018: pre-hold-out, so nothing here looks at 2019 on.
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
from pathlib import Path

ALL = '["regime", "health", "direction", "mean_reversion", "vol_state", "garch", "rl_sizer"]'


def _desk(home: Path, *args: str, env: dict[str, str] | None = None) -> tuple[float, str]:
    full = {**os.environ, "DESK_HOME": str(home), **(env or {})}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "desk.cli", *args], env=full, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"desk {' '.join(args)} failed: {proc.stderr.strip()[-800:]}")
    return time.perf_counter() - t0, proc.stdout


def _figures(replay: dict) -> dict:
    keep = ("cagr", "sharpe", "max_drawdown", "volatility")
    out = {name: {k: round(replay[name][k], 4) for k in keep}
           for name in ("desk", "sp500_buy_hold", "equal_weight", "exposure_matched")}
    out["periods"] = {p: {k: round(m[k], 4) for k in keep} for p, m in replay["periods"].items()}
    out["desk_minus_exposure_matched_cagr"] = round(replay["desk"]["cagr"] - replay["exposure_matched"]["cagr"], 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--from", dest="start", default="2017-01-01")
    parser.add_argument("--to", dest="end", default="2018-12-31")
    args = parser.parse_args()
    span = ("replay", "--from", args.start, "--to", args.end, "--json")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        _desk(home, "run", "--json")
        base = json.loads(_desk(home, *span)[1])
        every = json.loads(_desk(home, *span, env={"DESK_MODELS__TRAIN_IN_RUN": ALL})[1])
        models = json.loads(_desk(home, "models", "--json")[1])["models"]
        train_s, trained = _desk(home, "train", "--json")
        runs = [_desk(home, "run", "--json")[0] for _ in range(3)]
    promoted = {}
    for row in models:
        promoted.setdefault(row["name"], {"promoted": 0, "rejected": 0, "candidate": 0})[row["status"]] += 1
    print(json.dumps({
        "range": [args.start, args.end],
        "default_models": {"days_per_second": base["days_per_second"], "setup_seconds": base["setup_seconds"],
                           "figures": _figures(base)},
        "every_model": {"days_per_second": every["days_per_second"], "training_seconds": every["setup_seconds"],
                        "figures": _figures(every)},
        "versions_by_status": promoted,
        "train_latest_seconds": round(train_s, 1),
        "train_latest": [{k: m[k] for k in ("name", "status", "metric", "validation", "best_baseline",
                                              "baseline_value")} for m in json.loads(trained)["models"]],
        "desk_run_with_every_promoted_model_seconds_median": round(statistics.median(runs), 2),
        "desk_run_seconds_all": [round(r, 2) for r in runs],
    }, indent=2))


if __name__ == "__main__":
    main()
