"""The command core of the offline evals: `desk eval decisions` and `desk report`.

A decision eval runs its cases (the desk as configured, then one case per ablation, or a sweep file's cases),
records each as a trial in the store, deflates each Sharpe by every trial recorded so far, and writes the whole
result as JSON under ``$DESK_HOME/evals/<eval id>/`` — what `desk report` draws. Hold-out nights (2019 on) may be
run through, and are reported apart: nothing may be chosen by looking at them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from desk.actions.setup import bootstrap, check_llm_record, check_universe
from desk.actor import Actor
from desk.config import Settings
from desk.errors import DeskError
from desk.core.args import EvalDecisionsArgs, ReportArgs
from desk.core.context import CommandContext
from desk.results import Result
from evals.case import CaseResult, EvalCase, configured, prepare_case
from evals.metrics import VALIDATION_END
from evals.stats import sharpe_stats
from evals.sweep import load_sweep, run_cases
from memory.locks import desk_lock
from memory.store import open_store
from tools.market import MarketView

TRIAL_KIND = "decision_eval"
Progress = Callable[[str], None]


class DecisionEval(Result):
    """Every case of one eval, side by side."""

    eval_id: str
    created: str
    path: str
    touches_holdout: bool = Field(description="some night is from 2019 on: its figures are reported, never tuned on")
    trials: int = Field(description="distinct configurations in the store's trials after this eval")
    cases: list[CaseResult]


def evals_dir(settings: Settings) -> Path:
    return settings.home / "evals"


def cases_for(start: date | None, end: date | None, ablate: Sequence[str], sweep: Path | None) -> list[EvalCase]:
    """The desk as configured and one case per ``--ablate`` (a comma joins several into one case), or a sweep's."""
    if sweep is not None:
        if ablate:
            raise DeskError("--ablate and --sweep do not mix: list the ablations in the sweep file's cases")
        return load_sweep(sweep, start and start.isoformat(), end and end.isoformat())
    if start is None or end is None:
        raise DeskError("a decision eval needs a range: desk eval decisions --from YYYY-MM-DD --to YYYY-MM-DD")
    if end < start:
        raise DeskError(f"--to {end} is before --from {start}")
    out = [EvalCase(start=start, end=end)]
    for spec in ablate:
        case = EvalCase(start=start, end=end, ablate=tuple(s for s in spec.split(",") if s.strip()))
        case.ablation  # noqa: B018 - reading it refuses a bad ablation here, before anything runs
        out.append(case)
    return out


def decisions(settings: Settings, cases: Sequence[EvalCase], *, workers: int | None = None, ray: str | None = None,
              pool: bool | None = None, actor: Actor, progress: Progress = lambda msg: None) -> DecisionEval:
    """Run the cases (one here, several in a process pool unless ``pool`` is False, or on Ray), record them."""
    unique = list({c.key: c for c in cases}.values())
    for c in unique:  # a setting the desk does not have is refused before anything runs
        try:
            configured(settings, c)
        except ValidationError as exc:
            e = exc.errors()[0]
            raise DeskError(f"eval case {c.label}: setting '{'.'.join(str(p) for p in e['loc'])}': {e['msg']}") \
                from None
        except ValueError as exc:
            raise DeskError(str(exc)) from None
    store = open_store(settings)
    with desk_lock(settings, "book", "loading the bundled data"):
        bootstrap(store, settings, actor, ())
    check_universe(store, settings)
    market = MarketView(store, tuple(settings.data.universe), settings.data.benchmark, cache_dir=settings.cache_dir)
    sessions = market.sessions
    for c in unique:
        nights = [d.date() for d in sessions[(sessions >= str(c.start)) & (sessions <= str(c.end))]]
        if not nights:
            held = f"the store holds {sessions[0].date()} .. {sessions[-1].date()}" if len(sessions) else "no data"
            raise DeskError(f"no trading sessions with data between {c.start} and {c.end} ({held})")
        check_llm_record(store, settings, nights)
    market.ensure()  # the feature cache is built once here, not by every worker at once
    n = len(unique)
    parallel = ray is not None or (n > 1 if pool is None else pool)
    workers = workers or min(n, os.cpu_count() or 1)
    where = f"on Ray ({ray})" if ray else (f"in a pool of {workers} process(es)" if parallel else "here")
    progress(f"evaluating {n} case(s) {where}: {', '.join(c.label for c in unique)}")
    config = settings.model_dump(mode="json")
    eval_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + f"-{unique[0].key[:6]}"
    with desk_lock(settings, "eval", f"running decision eval {eval_id}"):
        if parallel:
            progress("training the models the cases need, one case after another")
            for c in unique:
                prepare_case(config, c.model_dump(mode="json", by_alias=True), progress)
        raw = run_cases(config, unique, workers=workers, ray=ray, pool=parallel, progress=progress)
        results = [CaseResult.model_validate(r) for r in raw]
        for r in results:
            store.record_trial(TRIAL_KIND, _trial_config(settings, r.case), r.case.start, r.case.end,
                               {"label": r.label, "eval_id": eval_id, "sharpe": r.replay.desk.sharpe,
                                "cagr": r.replay.desk.cagr, "max_drawdown": r.replay.desk.max_drawdown})
        trials = store.trial_count(TRIAL_KIND)
        sharpes = [t.metrics.get("sharpe", float("nan")) for t in store.trials(TRIAL_KIND)]
        results = [_deflated(r, trials, sharpes) for r in results]
        folder = evals_dir(settings) / eval_id
        folder.mkdir(parents=True, exist_ok=True)
        out = DecisionEval(eval_id=eval_id, created=datetime.now(UTC).isoformat(timespec="seconds"),
                           path=str(folder / "result.json"),
                           touches_holdout=any(c.end > VALIDATION_END for c in unique), trials=trials, cases=results)
        _write(folder / "result.json", out.model_dump_json(by_alias=True))
    return out


def _trial_config(settings: Settings, case: EvalCase) -> dict[str, Any]:
    """What the trial was: the case and every setting a decision reads (paths and secrets left out)."""
    cfg = configured(settings, case).model_dump(mode="json", exclude={"home"})
    cfg["broker"] = {k: v for k, v in cfg["broker"].items() if k not in ("chromium", "chromedriver", "url", "headed")}
    return {"case": case.identity(), "settings": cfg}


def _deflated(result: CaseResult, trials: int, sharpes: list[float]) -> CaseResult:
    stats = {period: sharpe_stats(result.returns(period), trials=trials, trial_sharpes=sharpes,
                                  interval=result.sharpe_ci.get(period))
             for period in ("all", *result.replay.periods)}
    return result.model_copy(update={"sharpe": stats})


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def load_eval(settings: Settings, which: str) -> DecisionEval:
    """A stored eval by id, or ``latest``; a one-line error naming what exists otherwise."""
    root = evals_dir(settings)
    done = sorted(p.parent.name for p in root.glob("*/result.json")) if root.is_dir() else []
    if not done:
        raise DeskError("no decision eval yet: run `desk eval decisions --from D1 --to D2` first")
    name = done[-1] if which == "latest" else which
    if name not in done:
        import difflib

        hint = difflib.get_close_matches(name, done, n=1)
        more = f"; did you mean {hint[0]}?" if hint else f"; the latest is {done[-1]}"
        raise DeskError(f"no decision eval {which!r} in {root}{more}")
    try:
        return DecisionEval.model_validate(json.loads((root / name / "result.json").read_text(encoding="utf-8")))
    except (ValueError, OSError) as exc:
        raise DeskError(f"decision eval {name} cannot be read ({type(exc).__name__}): run it again") from None


def decisions_command(ctx: CommandContext, args: EvalDecisionsArgs) -> DecisionEval:
    """`eval decisions` for the command core."""
    from desk.actions.setup import with_section

    cases = cases_for(args.start, args.end, args.ablate, args.sweep)
    settings = with_section(ctx.settings, "llm", {"replay": args.llm_replay} if args.llm_replay else {})
    return decisions(settings, cases, workers=args.workers, ray=args.ray, actor=ctx.actor, progress=ctx.progress)


def report_command(ctx: CommandContext, args: ReportArgs):
    """`report` for the command core: the eval's HTML report and its figures, written beside it."""
    from evals.report import write_report

    return write_report(load_eval(ctx.settings, args.run))
