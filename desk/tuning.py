"""`desk tune`: search the decision engine's parameters (evals.tune) on walk-forward folds before 2019, record every
trial in the store (a later eval's deflated Sharpe counts them), and adopt the best only if it beats the incumbent
on the validation years. An adopted set is written to ``$DESK_HOME/tuned.toml`` (read below ``desk.toml``; see
desk.config) and audited. Typed result, transport apart."""

from __future__ import annotations

import re
import time
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict

from desk.config import Settings
from desk.errors import DeskError
from desk.results import Actor
from memory.store import Store

IN_SAMPLE_FOLDS = ((date(2011, 1, 1), date(2011, 12, 31)), (date(2012, 1, 1), date(2012, 12, 31)),
                   (date(2013, 1, 1), date(2013, 12, 31)), (date(2014, 1, 1), date(2014, 12, 31)))
VALIDATION = ((date(2015, 1, 1), date(2016, 12, 31)), (date(2017, 1, 1), date(2018, 12, 31)))
TUNED_FILE = "tuned.toml"


class TrialInfo(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    number: int
    params: dict[str, Any]
    sharpe: float
    calmar: float
    win_rate: float
    consistency: float
    seconds: float


class TuneResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    executor: str
    workers: int
    trials: list[TrialInfo]
    seconds: float
    seconds_per_trial: float
    best: TrialInfo
    incumbent: dict[str, Any]
    best_validation_sharpe: float
    incumbent_validation_sharpe: float
    adopted: bool
    reason: str
    recorded_trials: int


def parse_ray(address: str | None) -> str | None:
    if address is None:
        return None
    if address == "local" or re.fullmatch(r"[A-Za-z0-9_.-]+:\d{1,5}", address):
        return address
    raise DeskError(f"--ray takes local or HOST:PORT (the Ray head's address), not {address!r}")


def parse_spans(text: str | None, default: tuple[tuple[date, date], ...], what: str) -> list[tuple[date, date]]:
    """``2011,2012`` (calendar years) or ``2011-01-03:2011-06-30,...`` (date ranges)."""
    if not text:
        return list(default)
    out = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        try:
            if ":" in part:
                a, b = part.split(":", 1)
                out.append((date.fromisoformat(a), date.fromisoformat(b)))
            else:
                out.append((date(int(part), 1, 1), date(int(part), 12, 31)))
        except ValueError:
            raise DeskError(f"{what} {part!r} is not a year (2012) or a range (2012-01-03:2012-06-29)") from None
    return out


def _toml(params: dict[str, Any]) -> str:
    from evals.tune import SPACE

    sections: dict[str, list[str]] = {}
    for name, value in params.items():
        section, key, *_ = SPACE[name]
        if name == "kelly_scale":
            continue
        sections.setdefault(section, []).append(f"{key} = {value!r}")
    return "".join(f"[{s}]\n" + "\n".join(lines) + "\n\n" for s, lines in sections.items())


def tune(settings: Settings, *, trials: int, workers: int, ray: str | None, folds: str | None,
         validation: str | None, seed: int, actor: Actor, adopt_file: bool = True) -> TuneResult:
    from evals import tune as engine
    from graph.config import DeskConfig

    if trials < 1:
        raise DeskError("--trials must be at least 1")
    if workers < 1:
        raise DeskError("--workers must be at least 1")
    address = parse_ray(ray)
    cv, val = parse_spans(folds, IN_SAMPLE_FOLDS, "fold"), parse_spans(validation, VALIDATION, "validation span")
    try:
        engine.check_spans(cv, "fold")
        engine.check_spans(val, "validation span")
    except engine.HoldoutError as exc:
        raise DeskError(str(exc)) from None
    config = DeskConfig.model_validate_json(settings.model_dump_json(include=set(DeskConfig.model_fields)))
    store = Store(settings.store_path)
    if not store.symbols():
        store.close()
        raise DeskError("the store holds no market data yet: run `desk data load` (or `desk run`) first")

    def record(params: dict[str, Any], metrics: dict[str, Any]) -> None:
        store.record_trial("tune", params, cv[0][0], cv[-1][1], metrics)

    run = engine.executor(workers, address)
    t0 = time.perf_counter()
    try:
        done, study = engine.search(config, cv, trials, run, seed, record, workers)
        elapsed = time.perf_counter() - t0
        best = engine.best_of(study, done)
        mine = engine.incumbent(config)
        spans = [(a.isoformat(), b.isoformat()) for a, b in val]
        cls = f"{DeskConfig.__module__}.DeskConfig"
        cand, inc = run.map(engine.run_trial, [(config.model_dump_json(), cls, best.params, spans, "val-best"),
                                               (config.model_dump_json(), cls, mine, spans, "val-incumbent")])
    finally:
        run.close()
    for params, m in ((best.params, cand), (mine, inc)):
        store.record_trial("tune-validation", params, val[0][0], val[-1][1], m)
    adopted, reason = engine.adopt(cand["sharpe"], inc["sharpe"])
    if adopted and adopt_file:
        (settings.home / TUNED_FILE).write_text(f"# adopted by desk tune: {reason}\n" + _toml(best.params))
        store.audit(str(actor), "tune_adopt", TUNED_FILE, reason, None)
    n = store.trial_count("tune")
    store.close()
    info = lambda t: TrialInfo(number=t.number, params=t.params, seconds=t.metrics["seconds"],  # noqa: E731
                               **{k: round(t.metrics[k], 6) for k in engine.OBJECTIVES})
    return TuneResult(executor=run.name, workers=workers, trials=[info(t) for t in done], seconds=round(elapsed, 2),
                      seconds_per_trial=round(elapsed / len(done), 2), best=info(best), incumbent=mine,
                      best_validation_sharpe=round(cand["sharpe"], 6), incumbent_validation_sharpe=round(inc["sharpe"], 6),
                      adopted=adopted, reason=reason, recorded_trials=n)
