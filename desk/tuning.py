"""`desk tune`: search the decision engine's parameters (evals.tune) on walk-forward folds before 2019, record every
trial in the store (a later eval's deflated Sharpe counts them), and adopt the best only if it beats the incumbent
on the validation years. An adopted set is written to ``$DESK_HOME/tuned.toml`` (read below ``desk.toml``; see
desk.config) and audited. Typed result, transport apart."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from desk.config import Settings
from desk.errors import DeskError
from desk.actor import Actor
from desk.core.args import TuneArgs
from desk.core.context import CommandContext
from desk.results import Result
from memory.store import open_store

IN_SAMPLE_FOLDS = ((date(2011, 1, 1), date(2011, 12, 31)), (date(2012, 1, 1), date(2012, 12, 31)),
                   (date(2013, 1, 1), date(2013, 12, 31)), (date(2014, 1, 1), date(2014, 12, 31)))
VALIDATION = ((date(2015, 1, 1), date(2016, 12, 31)), (date(2017, 1, 1), date(2018, 12, 31)))
TUNED_FILE = "tuned.toml"


class TrialInfo(Result):
    number: int
    params: dict[str, Any]
    sharpe: float
    calmar: float
    win_rate: float
    consistency: float
    seconds: float


class TuneResult(Result):
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
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            raise DeskError("--ray needs Ray: pip install 'desk[ray]' (or leave --ray out for a local process pool)")
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


def _toml(config: Any, params: dict[str, Any]) -> str:
    """The adopted parameters as ``tuned.toml`` text, read from the configuration they were laid over."""
    from evals.tune import SPACE, apply

    tuned = apply(config, params)
    sections: dict[str, list[str]] = {}
    for name in params:
        section, key, *_ = SPACE[name]
        value = getattr(getattr(tuned, section), key)
        text = ("{ " + ", ".join(f"{k} = {v!r}" for k, v in value.items()) + " }") if isinstance(value, dict) \
            else repr(value)
        sections.setdefault(section, []).append(f"{key} = {text}")
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
    store = open_store(settings)
    try:
        if not store.symbols():
            raise DeskError("the store holds no market data yet: run `desk data load` (or `desk run`) first")
        o = engine.run_search(config, store, cv, val, trials=trials, workers=workers, ray_address=address, seed=seed)
        if o.adopted and adopt_file:
            (settings.home / TUNED_FILE).write_text(f"# adopted by desk tune: {o.reason}\n" + _toml(config, o.best.params))
            store.audit(str(actor), "tune_adopt", TUNED_FILE, o.reason, None)
        n = store.trial_count("tune")
    finally:
        store.close()
    info = lambda t: TrialInfo(number=t.number, params=t.params, seconds=t.metrics["seconds"],
                               **{k: round(t.metrics[k], 6) for k in engine.OBJECTIVES})
    return TuneResult(executor=o.executor, workers=workers, trials=[info(t) for t in o.trials], seconds=o.seconds,
                      seconds_per_trial=round(o.seconds / len(o.trials), 2), best=info(o.best), incumbent=o.incumbent,
                      best_validation_sharpe=round(o.best_validation["sharpe"], 6),
                      incumbent_validation_sharpe=round(o.incumbent_validation["sharpe"], 6), adopted=o.adopted,
                      reason=o.reason, recorded_trials=n)


def tune_command(ctx: CommandContext, args: TuneArgs) -> TuneResult:
    return tune(ctx.settings, trials=args.trials, workers=args.workers, ray=args.ray, folds=args.folds,
                validation=args.validation, seed=args.seed, actor=ctx.actor)
