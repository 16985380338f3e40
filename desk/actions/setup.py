"""What every command that runs the graphs checks and prepares first: the store holds the universe (the bundled
history is loaded into an empty store), the date is a session in the data, the LLM record holds the nights a
``llm.replay = only`` run will ask for, and the desk is opened for the run (its broker closed after)."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING

from desk.actor import Actor
from desk.config import Settings
from graph.errors import DeskError

if TYPE_CHECKING:
    import pandas as pd

    from graph.reporting import Reporter
    from graph.runner import Runner
    from memory.store import Store

Progress = Callable[[str], None]


def quiet(_: str) -> None:
    """No progress shown."""


@contextmanager
def open_for_run(store: Store, settings: Settings, *, day: date | None, phase: str, actor: Actor,
                 reporters: Sequence[Reporter] = (), progress: Progress = quiet,
                 live: bool = False) -> Iterator[tuple[Runner, date]]:
    """The desk ready to run ``phase`` for ``day`` (resolved: None is the latest session; a live day past the data
    is the latest session too, whose age the night measures) as (runner, day); the broker is closed on leaving (one
    browser per run for a web broker). Enter it holding the book's lock."""
    from desk.app import open_desk
    from tools.market import MarketView

    bootstrap(store, settings, actor, reporters)
    check_universe(store, settings)
    market = MarketView(store, tuple(settings.data.universe), settings.data.benchmark, cache_dir=settings.cache_dir)
    day = resolve_date(market.sessions, day, live=live)  # before any file is opened for the run
    if phase in ("night", "all"):
        check_llm_record(store, settings, [day])
    desk = open_desk(settings, store=store, market=market, reporters=reporters, progress=progress)
    try:
        if phase in ("night", "all"):
            desk.ctx.tools.check(day)  # a damaged model file is refused before anything is written
        yield desk, day
    finally:
        close = getattr(desk.ctx.broker, "close", None)
        if close is not None:
            close()


def check_llm_record(store: Store, settings: Settings, nights: Sequence[date]) -> None:
    """With ``llm.replay = only`` every night must be in the LLM record: refused, naming the first miss, before
    anything is written."""
    if settings.llm.replay != "only" or not settings.llm.uses_llm:
        return
    missing = [d for d in nights if not store.llm_recorded_on(d)]
    if missing:
        more = f" and {len(missing) - 1} more night(s)" if len(missing) > 1 else ""
        raise DeskError(f"llm.replay is 'only' but the LLM record holds no exchange for the night of {missing[0]}"
                        f"{more}: record it first with llm.replay = 'auto' (or 'off'), or set llm.replay = 'off'")


def check_universe(store: Store, settings: Settings) -> None:
    """Every symbol the settings trade, and the benchmark, must be in the store: say which are not, and the
    closest known name."""
    known = {s.symbol for s in store.symbols()}
    wanted = [*settings.data.universe, settings.data.benchmark]
    missing = [s for s in wanted if s not in known]
    if missing:
        hints = [h for s in missing for h in difflib.get_close_matches(s, sorted(known), n=1)]
        hint = f" (did you mean {', '.join(hints)}?)" if hints else ""
        raise DeskError(f"data.universe / data.benchmark name symbols the store does not hold: "
                        f"{', '.join(missing)}{hint}; load them (`desk data load`) or change the setting")


def benchmark_source(store: Store, settings: Settings) -> str | None:
    """The source the store's benchmark was last loaded from (None: not loaded yet)."""
    return next((s.source for s in store.symbols() if s.symbol == settings.data.benchmark), None)


def resolve_date(sessions: pd.DatetimeIndex, day: date | None, live: bool = False) -> date:
    """``day`` if it is a session in the data, else a one-line error; None means the latest session, and so does a
    live ``day`` past the data (the night's freshness gate measures how far behind it is)."""
    import pandas as pd

    from tools.calendar import next_session

    if not len(sessions):
        raise DeskError("the store holds no market data; run `desk data load`")
    first, last = sessions[0].date(), sessions[-1].date()
    if day is None or (live and day > last):
        return last
    if not first <= day <= last:
        raise DeskError(f"no data for {day}: the store holds {first} .. {last}")
    if pd.Timestamp(day) not in sessions:
        raise DeskError(f"{day} is not a trading session in the data; try {next_session(day, sessions)}")
    return day


def bootstrap(store: Store, settings: Settings, actor: Actor, reporters: Sequence[Reporter]) -> None:
    """First run: load the bundled history into an empty store, as a reported step. A loaded store is left alone.
    Call it holding the book's lock."""
    from desk.actions.data import load, provider_for

    if store.symbols():
        return
    if settings.data.source != "bundled":
        raise DeskError(f"the store is empty; run `desk data load --source {settings.data.source}` first")
    try:
        loaded = load(store, settings, provider_for("bundled", None, None), "bundled", None, reporters, quiet)
    except BaseException:  # a full disk, a kill: no half-made store is left for the next run to find
        store.discard_if_blank()
        raise
    store.audit(str(actor), "data_load", "bundled", f"first use: {sum(loaded.written.values())} bars")


def with_section(settings: Settings, section: str, values: dict[str, object]) -> Settings:
    """``settings`` with some keys of one section replaced (a command's flags: ``--provider``, ``--llm-replay``),
    checked like the file's; a value that does not fit is one line."""
    from pydantic import ValidationError

    if not values:
        return settings
    current = getattr(settings, section)
    try:
        changed = type(current).model_validate({**current.model_dump(), **values})
    except ValidationError as exc:
        e = exc.errors()[0]
        raise DeskError(f"{section}.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}") from None
    return settings.model_copy(update={section: changed})
