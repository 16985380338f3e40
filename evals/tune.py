"""Parameter search for the decision engine (TraderBot and TradeNova search theirs): optuna, multi-objective
(Sharpe, Calmar, daily win rate, consistency across folds), walk-forward cross-validation on data before 2019 only.

One trial is a pure function, ``run_trial(config_json, params, folds, label)``: the desk's configuration with the
trial's parameters laid over it, replayed (the real night and morning graphs) on each fold in its own replay store,
scored per fold and averaged. The same function runs in a local process pool or as Ray tasks, so the executor is
configuration, not code. Locally optuna proposes (ask) and hears back (tell) in batches of ``workers``; with
``--ray`` the same optuna sampler drives a Ray Tune ``Tuner`` (``OptunaSearch``) over the same trial function.

Adoption: the Pareto front's best-Sharpe trial is replayed on the validation years beside the incumbent (the
configuration as it stands); it is adopted only if it beats the incumbent's mean Sharpe there. No fold, search or
adoption reads a session from 2019 on (the hold-out): a fold that would is refused before anything runs.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

HOLDOUT_START = date(2019, 1, 1)
OBJECTIVES = ("sharpe", "calmar", "win_rate", "consistency")

# name -> (section, key, low, high, kind). Ranges are the plausible span around each a-priori default, not fitted.
SPACE: dict[str, tuple[str, str, float, float, str]] = {
    "base_threshold": ("picks", "base_threshold", 100.0, 250.0, "float"),
    "target_vol": ("picks", "target_vol", 0.15, 0.40, "float"),
    "kelly_scale": ("sizing", "kelly_fractions", 0.5, 1.5, "float"),   # scales every state's share (capped at 1)
    "max_positions": ("risk", "max_positions", 4, 12, "int"),
    "drift_margin": ("trust", "drift_margin", 0.05, 0.25, "float"),
    # the EMA agent's lookbacks around the MACD 12/26 and golden-cross 50/200 conventions; the ranges do not
    # overlap, so every draw keeps fast < slow
    "ema_fast": ("agents", "ema_fast", 5, 20, "int"),
    "ema_slow": ("agents", "ema_slow", 21, 60, "int"),
    "ema_trend_fast": ("agents", "ema_trend_fast", 30, 100, "int"),
    "ema_trend_slow": ("agents", "ema_trend_slow", 120, 300, "int"),
}


class HoldoutError(ValueError):
    """A fold or a validation span that would read the hold-out."""


def check_spans(spans: Sequence[tuple[date, date]], what: str) -> None:
    for start, end in spans:
        if end >= HOLDOUT_START or start >= HOLDOUT_START:
            raise HoldoutError(f"{what} {start}..{end} reaches into the hold-out (2019 on): tuning never looks at it")
        if end < start:
            raise HoldoutError(f"{what} {start}..{end} ends before it starts")


def apply(config: Any, params: dict[str, Any]) -> Any:
    """``config`` (a DeskConfig) with the trial's parameters laid over it, validated."""
    data = json.loads(config.model_dump_json())
    for name, value in params.items():
        section, key, *_ = SPACE[name]
        if name == "kelly_scale":
            data[section][key] = {s: min(1.0, f * value) for s, f in data[section][key].items()}
        else:
            data[section][key] = value
    return type(config).model_validate(data)


def incumbent(config: Any) -> dict[str, Any]:
    """The current configuration's value of every searched parameter (kelly_scale is 1 by definition)."""
    out: dict[str, Any] = {}
    for name, (section, key, *_rest) in SPACE.items():
        out[name] = 1.0 if name == "kelly_scale" else getattr(getattr(config, section), key)
    return out


def _fold_metrics(result: Any) -> dict[str, float]:
    from memory.store import Store

    store = Store(result.location)
    try:
        equity = store.snapshots()["equity"]
    finally:
        store.close()
    daily = equity.pct_change().dropna()
    finite = lambda x: float(x) if x is not None and math.isfinite(x) else 0.0
    return {"sharpe": finite(result.desk.sharpe), "calmar": finite(result.desk.calmar),
            "win_rate": float((daily > 0).mean()) if len(daily) else 0.0,
            "total_return": finite(result.desk.total_return)}


def run_trial(config_json: str, config_cls: str, params: dict[str, Any], folds: list[tuple[str, str]],
              label: str) -> dict[str, Any]:
    """Replay the configuration with ``params`` on each fold; per-fold and mean metrics. A pure function of its
    arguments (and the store it reads), so a process pool and Ray run the very same thing."""
    import importlib

    from evals.replay import replay

    module, _, cls = config_cls.rpartition(".")
    base = getattr(importlib.import_module(module), cls).model_validate_json(config_json)
    config = apply(base, params)
    spans = [(date.fromisoformat(a), date.fromisoformat(b)) for a, b in folds]
    check_spans(spans, "fold")
    t0 = time.perf_counter()
    per_fold = []
    for start, end in spans:
        result = replay(config, start, end, progress=lambda msg: None, name=f"{start}_{end}-{label}")
        per_fold.append({"start": start.isoformat(), "end": end.isoformat(), **_fold_metrics(result)})
    mean = {k: sum(f[k] for f in per_fold) / len(per_fold) for k in ("sharpe", "calmar", "win_rate")}
    mean["consistency"] = sum(f["total_return"] > 0 for f in per_fold) / len(per_fold)
    return {**mean, "folds": per_fold, "seconds": round(time.perf_counter() - t0, 3)}


# ---------------------------------------------------------------------- executors
class Executor:
    """Runs trials: ``map(fn, argument tuples)`` in order."""

    name = "serial"

    def map(self, fn: Callable[..., Any], args: list[tuple]) -> list[Any]:
        return [fn(*a) for a in args]

    def close(self) -> None:
        pass


class ProcessPool(Executor):
    def __init__(self, workers: int) -> None:
        import multiprocessing

        self.name = f"process pool ({workers} workers)"
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))

    def map(self, fn, args):
        futures = [self.pool.submit(fn, *a) for a in args]
        return [f.result() for f in futures]

    def close(self) -> None:
        self.pool.shutdown()


class RayTasks(Executor):
    """The same trial function as Ray tasks: ``local`` starts a Ray instance on this machine, HOST:PORT joins one."""

    def __init__(self, address: str, workers: int) -> None:
        import ray

        os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")   # Ray Tune prints no progress tables over the desk's output
        root = str(Path(__file__).resolve().parents[1])
        env = {"env_vars": {"PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}}
        if address == "local":
            ray.init(num_cpus=workers, include_dashboard=False, runtime_env=env, log_to_driver=False)
        else:
            ray.init(address=address, runtime_env=env, log_to_driver=False)
        self.ray, self.name = ray, f"ray {address} ({workers} workers; search on Ray Tune)"
        self._remote = {}

    def map(self, fn, args):
        if fn not in self._remote:
            self._remote[fn] = self.ray.remote(num_cpus=1)(fn)
        return self.ray.get([self._remote[fn].remote(*a) for a in args])

    def close(self) -> None:
        self.ray.shutdown()


def executor(workers: int, ray_address: str | None) -> Executor:
    if ray_address:
        return RayTasks(ray_address, workers)
    return ProcessPool(workers) if workers > 1 else Executor()


# ---------------------------------------------------------------------- the search
@dataclass(frozen=True)
class Trial:
    number: int
    params: dict[str, Any]
    metrics: dict[str, Any]


def suggest(trial: Any) -> dict[str, Any]:
    out = {}
    for name, (_, _, low, high, kind) in SPACE.items():
        out[name] = trial.suggest_int(name, int(low), int(high)) if kind == "int" else \
            trial.suggest_float(name, float(low), float(high))
    return out


def search(config: Any, folds: list[tuple[date, date]], trials: int, run: Executor, seed: int,
           record: Callable[[dict[str, Any], dict[str, Any]], None], workers: int) -> tuple[list[Trial], Any]:
    """``trials`` optuna trials (multi-objective TPE, seeded) in batches of ``workers``; each is recorded."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    check_spans(folds, "fold")
    study = optuna.create_study(directions=["maximize"] * len(OBJECTIVES),
                                sampler=optuna.samplers.TPESampler(seed=seed))
    cfg_json, cls = config.model_dump_json(), f"{type(config).__module__}.{type(config).__qualname__}"
    spans = [(a.isoformat(), b.isoformat()) for a, b in folds]
    done: list[Trial] = []
    while len(done) < trials:
        batch = [study.ask() for _ in range(min(workers, trials - len(done)))]
        params = [suggest(t) for t in batch]
        results = run.map(run_trial, [(cfg_json, cls, p, spans, f"t{t.number}") for t, p in zip(batch, params,
                                                                                                   strict=True)])
        for t, p, m in zip(batch, params, results, strict=True):
            study.tell(t, [m[o] for o in OBJECTIVES])
            record(p, m)
            done.append(Trial(t.number, p, m))
    return done, study


def search_on_ray_tune(config: Any, folds: list[tuple[date, date]], trials: int, seed: int,
                       record: Callable[[dict[str, Any], dict[str, Any]], None], workers: int,
                       storage: Path) -> tuple[list[Trial], Any]:
    """The same search through Ray Tune: a ``Tuner`` over the same trial function, with optuna's multi-objective
    TPE (seeded, define-by-run with the same ``suggest``) as its search algorithm, ``workers`` trials at a time.
    Ray must be initialised (``RayTasks``). Returns the trials in Ray's order and an optuna study holding their
    values, so the Pareto front is optuna's either way."""
    import optuna
    from ray import tune
    from ray.tune.search.optuna import OptunaSearch

    check_spans(folds, "fold")
    cfg_json, cls = config.model_dump_json(), f"{type(config).__module__}.{type(config).__qualname__}"
    spans = [(a.isoformat(), b.isoformat()) for a, b in folds]

    def trainable(params: dict[str, Any]) -> None:
        m = run_trial(cfg_json, cls, {k: params[k] for k in SPACE}, spans, f"ray-{tune.get_context().get_trial_id()}")
        tune.report({**{k: m[k] for k in (*OBJECTIVES, "seconds")}, "folds": json.dumps(m["folds"])})

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    algo = OptunaSearch(space=_define_by_run, metric=list(OBJECTIVES), mode=["max"] * len(OBJECTIVES),
                        sampler=optuna.samplers.TPESampler(seed=seed))
    tuner = tune.Tuner(tune.with_resources(trainable, {"cpu": 1}),
                       tune_config=tune.TuneConfig(search_alg=algo, num_samples=trials, max_concurrent_trials=workers),
                       run_config=tune.RunConfig(name=f"tune-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}",
                                                 storage_path=str(storage.resolve()), verbose=0))
    grid = tuner.fit()
    results = sorted((grid[i] for i in range(len(grid))), key=lambda r: str(r.metrics.get("trial_id", "")))
    failed = [r.error for r in results if r.error is not None]
    if failed:
        raise RuntimeError(f"{len(failed)} of {trials} Ray Tune trials failed; the first: {failed[0]}")
    study = optuna.create_study(directions=["maximize"] * len(OBJECTIVES))
    done: list[Trial] = []
    for n, r in enumerate(results):
        params = {k: r.config[k] for k in SPACE}
        metrics = {**{k: r.metrics[k] for k in (*OBJECTIVES, "seconds")}, "folds": json.loads(r.metrics["folds"])}
        study.add_trial(optuna.trial.create_trial(params=params, distributions=_distributions(),
                                                  values=[metrics[o] for o in OBJECTIVES]))
        record(params, metrics)
        done.append(Trial(n, params, metrics))
    return done, study


def _define_by_run(trial: Any) -> None:
    """OptunaSearch's define-by-run space: the very ``suggest`` the local search uses (module level: Ray Tune pickles
    its searcher)."""
    suggest(trial)


def _distributions() -> dict[str, Any]:
    from optuna.distributions import FloatDistribution, IntDistribution

    return {name: IntDistribution(int(low), int(high)) if kind == "int" else FloatDistribution(low, high)
            for name, (_, _, low, high, kind) in SPACE.items()}


def best_of(study: Any, done: list[Trial]) -> Trial:
    """The Pareto front's trial with the best mean Sharpe (then the lowest number)."""
    front = {t.number for t in study.best_trials}
    return max((t for t in done if t.number in front), key=lambda t: (t.metrics["sharpe"], -t.number))


def adopt(candidate: float, incumbent_value: float) -> tuple[bool, str]:
    """Adopt only if the candidate's validation Sharpe beats the incumbent's (a tie keeps the incumbent)."""
    if candidate > incumbent_value:
        return True, f"adopted: validation Sharpe {candidate:.3f} beats the incumbent's {incumbent_value:.3f}"
    return False, f"refused: validation Sharpe {candidate:.3f} does not beat the incumbent's {incumbent_value:.3f}"


@dataclass(frozen=True)
class Outcome:
    """A whole search: its trials, the best, both validation runs and the adoption decision."""

    executor: str
    trials: list[Trial]
    seconds: float
    best: Trial
    incumbent: dict[str, Any]
    best_validation: dict[str, Any]
    incumbent_validation: dict[str, Any]
    adopted: bool
    reason: str


def run_search(config: Any, store: Any, cv: list[tuple[date, date]], validation: list[tuple[date, date]], *,
               trials: int, workers: int, ray_address: str | None, seed: int) -> Outcome:
    """Search on ``cv``, record every trial in ``store`` (kind ``tune``), replay the best and the incumbent on
    ``validation`` (recorded as ``tune-validation``) and decide adoption. Never reads the hold-out."""
    check_spans(cv, "fold")
    check_spans(validation, "validation span")

    def record(params: dict[str, Any], metrics: dict[str, Any]) -> None:
        store.record_trial("tune", params, cv[0][0], cv[-1][1], metrics)

    run = executor(workers, ray_address)
    t0 = time.perf_counter()
    try:
        if isinstance(run, RayTasks):
            done, study = search_on_ray_tune(config, cv, trials, seed, record, workers, config.home / "ray_tune")
        else:
            done, study = search(config, cv, trials, run, seed, record, workers)
        elapsed = time.perf_counter() - t0
        best, mine = best_of(study, done), incumbent(config)
        spans = [(a.isoformat(), b.isoformat()) for a, b in validation]
        cls = f"{type(config).__module__}.{type(config).__qualname__}"
        cand, inc = run.map(run_trial, [(config.model_dump_json(), cls, best.params, spans, "val-best"),
                                        (config.model_dump_json(), cls, mine, spans, "val-incumbent")])
    finally:
        run.close()
    for params, m in ((best.params, cand), (mine, inc)):
        store.record_trial("tune-validation", params, validation[0][0], validation[-1][1], m)
    adopted, reason = adopt(cand["sharpe"], inc["sharpe"])
    return Outcome(run.name, done, round(elapsed, 2), best, mine, cand, inc, adopted, reason)
