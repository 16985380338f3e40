"""The command core of `desk eval edge`: the edge ledger (``evals.edge``) over a range, run as a decision eval.

The desk as configured and one ablation per layer it uses are the cases of one decision eval (the models trained
once, before the cases; then side by side in a process pool or on Ray; each case a trial in the store), and the
ledger is read from their curves. It is written beside the eval's ``result.json`` as ``edge.json`` (so
`desk report` draws it with the eval), and with ``save`` as a summary to commit: ``ledger.md`` and ``ledger.json``.

The ledger decides the desk's defaults, so it refuses a range reaching into the hold-out (2019 on) unless
``holdout`` says this is the one final report.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from desk import evals
from desk.actions.setup import bootstrap, check_universe
from desk.actor import Actor
from desk.config import Settings
from desk.errors import DeskError
from desk.core.args import EvalEdgeArgs
from desk.core.context import CommandContext
from evals.case import EvalCase, prepare_case
from evals.edge import LEDGER, RESAMPLES, EdgeLedger, build
from evals.edge_text import ledger_markdown
from evals.layers import BY_NAME, LAYERS, choose, usage
from evals.metrics import VALIDATION_END
from memory.locks import desk_lock
from memory.store import open_store

Progress = Callable[[str], None]
FIRST, LAST = date(2005, 1, 1), date(2018, 12, 31)


def check_range(start: date, end: date, holdout: bool) -> None:
    """One line for a range the ledger will not run."""
    if end < start:
        raise DeskError(f"--to {end} is before --from {start}")
    if end > VALIDATION_END and not holdout:
        raise DeskError(f"--to {end} reaches into the hold-out (2019 on): the ledger decides the defaults, so it "
                        f"ends by {VALIDATION_END}; pass --holdout only for the one final report")
    if holdout and end <= VALIDATION_END:
        raise DeskError(f"--holdout with --to {end}: the range does not reach the hold-out (2019 on); drop --holdout")


def edge(settings: Settings, start: date = FIRST, end: date = LAST, *, layers: Sequence[str] | None = None,
         workers: int | None = None, ray: str | None = None, holdout: bool = False, save: Path | None = None,
         resamples: int = RESAMPLES, pool: bool | None = None, actor: Actor,
         progress: Progress = lambda msg: None) -> EdgeLedger:
    """Run the ledger: the desk beside the ablation of each chosen layer it uses, folds by year."""
    check_range(start, end, holdout)
    chosen = choose(layers)
    if resamples < 100:
        raise DeskError(f"--resamples {resamples}: use at least 100 bootstrap resamples")
    if save is not None and save.exists() and not save.is_dir():
        raise DeskError(f"--save {save} is a file: name a folder (e.g. evals/edge/)")
    t0 = time.perf_counter()
    store = open_store(settings)
    try:
        with desk_lock(settings, "book", "loading the bundled data"):
            bootstrap(store, settings, actor, ())
        check_universe(store, settings)
    finally:
        store.close()
    desk_case = EvalCase(start=start, end=end)
    progress("training the models the desk needs over the range (walk-forward, once, before the cases)")
    with desk_lock(settings, "eval", "training the models for the edge ledger"):
        usable = prepare_case(settings.model_dump(mode="json"), desk_case.model_dump(mode="json", by_alias=True),
                              progress)
    used = usage(settings, usable)
    weighed = [layer for layer in chosen if used[layer.name][0]]
    idle = [layer.name for layer in chosen if not used[layer.name][0]]
    progress(f"{len(weighed)} layer(s) to weigh: {', '.join(layer.name for layer in weighed) or 'none'}"
             + (f"; not in use: {', '.join(idle)}" if idle else ""))
    cases = [desk_case, *(EvalCase(start=start, end=end, ablate=(layer.name,)) for layer in weighed)]
    result = evals.decisions(settings, cases, workers=workers, ray=ray, pool=pool, actor=actor, progress=progress)
    progress(f"cases done, kept as decision eval {result.eval_id} (`desk eval edge --eval {result.eval_id}` reads "
             f"the ledger from them again, nothing replayed)")
    by_spec = {tuple(c.case.ablate): c for c in result.cases}
    ledger = build(result.eval_id, by_spec[()], {layer.name: by_spec[(layer.name,)] for layer in weighed},
                   [(layer.name, layer.what, *used[layer.name]) for layer in chosen], start=start, end=end,
                   holdout=holdout, resamples=resamples, seconds=time.perf_counter() - t0)
    return _keep(ledger, Path(result.path).parent, save)


def again(settings: Settings, eval_id: str, *, resamples: int = RESAMPLES, save: Path | None = None,
          progress: Progress = lambda msg: None) -> EdgeLedger:
    """The ledger read again from a finished ledger's cases (a decision eval of the desk and single-layer
    ablations over one range): nothing is replayed. The layers not weighed are those the desk does not use now."""
    if resamples < 100:
        raise DeskError(f"--resamples {resamples}: use at least 100 bootstrap resamples")
    result = evals.load_eval(settings, eval_id)
    by_spec = {tuple(c.case.ablate): c for c in result.cases}
    desk = by_spec.get(())
    spans = {(c.case.start, c.case.end) for c in result.cases}
    if desk is None or len(spans) > 1 or any(len(k) > 1 or (k and k[0] not in BY_NAME) for k in by_spec):
        raise DeskError(f"decision eval {eval_id} is not an edge ledger's (the desk and one layer's ablation per "
                        f"case, over one range): run `desk eval edge`")
    start, end = desk.case.start, desk.case.end
    progress(f"reading the ledger again from eval {eval_id} ({len(result.cases)} cases, {start} .. {end})")
    with desk_lock(settings, "eval", "reading the models for the edge ledger"):
        usable = prepare_case(settings.model_dump(mode="json"), desk.case.model_dump(mode="json", by_alias=True),
                              progress)
    used = usage(settings, usable)
    weighed = {k[0]: c for k, c in by_spec.items() if k}
    layers = [(layer.name, layer.what, *((True, used[layer.name][1]) if layer.name in weighed
                                          else used[layer.name]))
              for layer in LAYERS if layer.name in weighed or not used[layer.name][0]]
    ledger = build(eval_id, desk, weighed, layers, start=start, end=end, holdout=end > VALIDATION_END,
                   resamples=resamples)
    return _keep(ledger, Path(result.path).parent, save)


def _keep(ledger: EdgeLedger, folder: Path, save: Path | None) -> EdgeLedger:
    _write(folder / LEDGER, ledger.model_dump_json(indent=1))
    if save is not None:
        write_summary(ledger, save)
    return ledger


def write_summary(ledger: EdgeLedger, folder: Path) -> tuple[Path, Path]:
    """``ledger.md`` and ``ledger.json`` in ``folder``: what to commit when a ledger decided the defaults."""
    folder.mkdir(parents=True, exist_ok=True)
    md, js = folder / "ledger.md", folder / "ledger.json"
    _write(md, ledger_markdown(ledger))
    _write(js, ledger.model_dump_json(indent=1))
    return md, js


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def edge_command(ctx: CommandContext, args: EvalEdgeArgs) -> EdgeLedger:
    """`eval edge` for the command core."""
    if args.again is not None:
        given = [flag for flag, v in (("--from", args.start), ("--to", args.end), ("--layers", args.layers),
                                      ("--workers", args.workers), ("--ray", args.ray)) if v is not None] + \
            (["--holdout"] if args.holdout else [])
        if given:
            raise DeskError(f"--eval reads a finished ledger again: {', '.join(given)} do not apply")
        return again(ctx.settings, args.again, resamples=args.resamples, save=args.save, progress=ctx.progress)
    if args.layers is not None and not args.layers:
        raise DeskError("--layers names no layer: give them comma-separated, e.g. --layers overlay,trust")
    return edge(ctx.settings, args.start or FIRST, args.end or LAST, layers=args.layers, workers=args.workers,
                ray=args.ray, holdout=args.holdout, save=args.save, resamples=args.resamples, actor=ctx.actor,
                progress=ctx.progress)
