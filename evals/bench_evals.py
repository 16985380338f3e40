"""Benchmarks of the offline evals (issue 12): run with ``python -m evals.bench_evals [--skip-ray]``.

On a fresh temporary DESK_HOME (the bundled data loaded first), each figure is the wall time of a whole `desk`
command in a new process:

  - a decision eval over 2019–2022 with the rules provider (cold: models trained walk-forward as it goes; warm:
    a second run, the models saved) — target ≤ 60 s;
  - a prompt eval of 200 weather cases from the shipped development set, served from the LLM record
    (``--llm-replay only``; the record is made first against a scripted OpenAI-compatible server on 127.0.0.1) —
    target ≤ 10 s;
  - a sweep of 8 eval cases (the desk and seven ablations over the first half of 2018): with 1 and 2 workers in
    the local process pool, and on a local Ray instance with 1 and 2 workers (a warm-up sweep trains the models
    first, so every timed sweep does the same work).
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

SWEEP_CASES = ((), ("overlay",), ("risk",), ("weather",), ("agent:trend",), ("agent:ema",),
               ("only:mean_reversion",), ("model:mean_reversion",))


def _desk(home: Path, *args: str, env: dict[str, str] | None = None) -> tuple[float, str]:
    full = {**os.environ, "DESK_HOME": str(home), **(env or {})}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "desk.cli", *args], env=full, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"desk {' '.join(args)} failed: {proc.stderr.strip()[-800:]}")
    return elapsed, proc.stdout


def decision_eval(home: Path) -> dict:
    span = ("eval", "decisions", "--from", "2019-01-01", "--to", "2022-12-31", "--json")
    cold, out = _desk(home, *span)
    warm, out2 = _desk(home, *span)
    a, b = json.loads(out)["cases"][0]["replay"], json.loads(out2)["cases"][0]["replay"]
    return {"decision_eval_2019_2022_seconds_cold": round(cold, 1), "decision_eval_2019_2022_seconds_warm":
            round(warm, 1), "nights": a["nights"], "replay_setup_seconds_cold": a["setup_seconds"],
            "replay_seconds_cold": a["seconds"], "replay_setup_seconds_warm": b["setup_seconds"],
            "replay_seconds_warm": b["seconds"], "days_per_second_warm": b["days_per_second"]}


def prompt_eval(home: Path, tmp: Path) -> dict:
    from evals.prompt_cases import CASES_DIR, load_cases, write_cases
    from tests.llm_kit import ScriptedLLM

    cases = load_cases(CASES_DIR / "weather-2015-01-02_2018-12-31.jsonl")[:200]
    path = tmp / "weather-200.jsonl"
    write_cases(path, cases)
    args = ("eval", "prompts", "--role", "weather", "--provider", "openai", "--cases", str(path), "--json")
    with ScriptedLLM() as server:
        record, _ = _desk(home, *args, "--llm-replay", "auto", env=server.env("openai"))
    served, out = _desk(home, *args, "--llm-replay", "only",
                        env={"OPENAI_API_KEY": "", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})
    score = json.loads(out)["scores"]["v1"]
    return {"prompt_eval_200_cases_from_record_seconds": round(served, 2),
            "prompt_eval_200_cases_recording_seconds": round(record, 2), "cases": score["cases"],
            "usd_from_record": score["usd"]}


def sweeps(home: Path, tmp: Path, ray: bool) -> dict:
    lines = []
    for spec in SWEEP_CASES:
        lines += ["[[case]]", f'name = "{"+".join(spec) or "desk"}"', f"ablate = {json.dumps(list(spec))}", ""]
    path = tmp / "sweep8.toml"
    path.write_text("\n".join(lines))
    base = ("eval", "decisions", "--sweep", str(path), "--from", "2018-01-02", "--to", "2018-06-29", "--json")
    _desk(home, *base, "--workers", "2")  # warm-up: the models the cases need, trained and saved
    out = {f"sweep_8_cases_pool_{w}_workers_seconds": round(_desk(home, *base, "--workers", str(w))[0], 1)
           for w in (1, 2)}
    if ray:
        out |= {f"sweep_8_cases_local_ray_{w}_workers_seconds":
                round(_desk(home, *base, "--ray", "local", "--workers", str(w))[0], 1) for w in (1, 2)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-ray", action="store_true", help="leave out the sweeps on local Ray")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        home = tmp / "home"
        _desk(home, "data", "load")
        figures = {"cpu_count": os.cpu_count()}
        figures |= decision_eval(home)
        figures |= prompt_eval(home, tmp)
        figures |= sweeps(home, tmp, ray=not args.skip_ray)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
