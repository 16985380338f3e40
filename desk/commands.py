"""The command core, apart from transport: one function per user action, each returning a typed result
(``desk.results``) or raising DeskError. The CLI (and later Slack) only parse and format. Mutating commands take
an ``Actor`` and write it to the audit log."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from desk.app import open_desk
from desk.config import Settings
from desk.errors import DeskError
from desk.live import run_mode
from desk.results import (
    Actor,
    AskResult,
    BreakerInfo,
    DataLoadResult,
    FillInfo,
    HaltResult,
    NotEntered,
    OrderInfo,
    PositionInfo,
    RunInfo,
    StatusResult,
    WhyResult,
)
from desk.summary import RunResult, morning_data, night_data
from evals.replay import ReplayResult
from evals.replay import replay as replay_history
from evals.replay import replay_nights
from graph.config import LIVE_SOURCES
from graph.reporting import Fanout, Reporter, StoreReporter, run_task
from graph.runner import NightFrozen
from memory.locks import desk_lock
from memory.store import Store, open_store
from tools.calendar import next_session
from tools.data.base import DataSourceError, DataValidationError, MarketDataProvider, SourceUnserved
from tools.data.loader import load_into_store
from tools.exits import stop_level
from tools.market import MarketView

Progress = Callable[[str], None]
PHASES = ("night", "morning", "all")
SOURCES = ("bundled", "yfinance", "csv", "alpaca")


# ---------------------------------------------------------------------- running the desk
def run(settings: Settings, *, day: date | None, phase: str, actor: Actor, reporters: Sequence[Reporter] = (),
        progress: Progress = lambda msg: None, now: datetime | None = None) -> RunResult:
    """The night graph for ``day`` (default: the latest date with data) and/or the morning after it.

    A live night (``day`` is today, or no ``day`` on a live data source) measures its data against the exchange
    calendar's last closed session as of ``now``; any other night is history, measured against its own date
    (``desk.live``). A night whose morning started is frozen: this resumes the morning, it never re-plans."""
    if phase not in PHASES:
        raise DeskError(f"unknown phase {phase!r}: use night, morning or all")
    store = open_store(settings)
    doing = "running the night and morning graphs" if phase == "all" else f"running the {phase} graph"
    mode = run_mode(settings, day, now, stored_source=benchmark_source(store, settings))
    with desk_lock(settings, "book", doing):
        with open_for_run(store, settings, day=day, phase=phase, reporters=reporters, progress=progress,
                          actor=actor, live=mode.live) as (desk, day):
            store.audit(str(actor), "run", f"{phase} {day.isoformat()}", None)
            if said := mode.say(day):
                progress(said)
            night = None
            if phase in ("night", "all"):
                try:
                    night = night_data(desk.night(day, reference=mode.reference))
                except NightFrozen as frozen:
                    if phase == "night":
                        raise
                    progress(f"{frozen}; resuming its morning")
            morning = morning_data(desk.morning(day)) if phase in ("morning", "all") else None
    return RunResult(night=night, morning=morning)


@contextmanager
def open_for_run(store: Store, settings: Settings, *, day: date | None, phase: str, actor: Actor,
                 reporters: Sequence[Reporter] = (), progress: Progress = lambda msg: None, live: bool = False):
    """The desk ready to run ``phase`` for ``day`` (resolved: None is the latest session; a live day past the data
    is the latest session too, whose age the night measures) as (runner, day); the broker is closed on leaving (one
    browser per run for a web broker). Enter it holding the book's lock."""
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


def benchmark_source(store: Store, settings: Settings) -> str | None:
    """The source the store's benchmark was last loaded from (None: not loaded yet)."""
    return next((s.source for s in store.symbols() if s.symbol == settings.data.benchmark), None)


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


def replay(settings: Settings, start: date, end: date, *, actor: Actor,
           progress: Progress = lambda msg: None) -> ReplayResult:
    """Both graphs day by day over history against a fresh paper broker, in a store of the replay's own."""
    if end < start:
        raise DeskError(f"--to {end} is before --from {start}")
    store = open_store(settings)
    if not store.symbols():  # the first run: the book's lock only to load the bundled data
        with desk_lock(settings, "book", "loading the bundled data"):
            bootstrap(store, settings, actor, ())
    check_universe(store, settings)
    # a replay never waits for an operator: approval is for the live morning
    unattended = settings.model_copy(update={"execution": settings.execution.model_copy(
        update={"require_approval": False})})
    check_llm_record(store, settings, replay_nights(settings, start, end))  # refused before its lock file is made
    with desk_lock(settings, f"replay-{start}_{end}", f"replaying {start} .. {end}"):
        return replay_history(unattended, start, end, progress, check_record=lambda nights: check_llm_record(
            store, settings, nights))


def resolve_date(sessions: pd.DatetimeIndex, day: date | None, live: bool = False) -> date:
    """``day`` if it is a session in the data, else a one-line error; None means the latest session, and so does a
    live ``day`` past the data (the night's freshness gate measures how far behind it is)."""
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


# ---------------------------------------------------------------------- data
def provider_for(source: str, path: Path | None, symbol: str | None,
                 settings: Settings | None = None) -> MarketDataProvider:
    if source == "alpaca":
        from brokers.alpaca.config import AlpacaKeys, AlpacaOptions
        from tools.data.alpaca_provider import AlpacaDataProvider

        broker = settings.broker if settings is not None else None
        return AlpacaDataProvider(AlpacaKeys.from_env(), broker.url if broker else None,
                                  broker.alpaca if broker else AlpacaOptions(),
                                  max_jump=settings.data.max_daily_jump if settings else 0.75)
    if source == "bundled":
        from tools.data.bundled import BundledProvider

        return BundledProvider()
    if source == "yfinance":
        from tools.data.yfinance_provider import YFinanceProvider

        return YFinanceProvider()
    if source == "csv":
        from tools.data.csv_provider import CsvProvider

        if path is None:
            raise DeskError("--source csv needs a PATH: desk data load --source csv FILE.csv")
        return CsvProvider(path, symbol=symbol)
    raise DeskError(f"unknown source {source!r}: use {', '.join(SOURCES)}")


def data_load(settings: Settings, *, source: str, path: Path | None, until: date | None, symbol: str | None,
              actor: Actor, reporters: Sequence[Reporter] = (), progress: Progress = lambda msg: None) -> DataLoadResult:
    """Validate and load market data (nothing partial is written); recorded and reported as a run of its own.
    Waits for no one: while a run holds the book, a load is refused (the bars must not move under a run)."""
    provider = provider_for(source, path, symbol, settings)
    store = open_store(settings)
    with desk_lock(settings, "book", f"loading {source} data"):
        return _load(store, settings, provider, source, until, actor, reporters, progress)


def _load(store: Store, settings: Settings, provider: MarketDataProvider, source: str, until: date | None,
          actor: Actor, reporters: Sequence[Reporter], progress: Progress) -> DataLoadResult:
    live = source in LIVE_SOURCES  # a live load must serve every symbol the desk trades, or it loads nothing
    symbols = [*settings.data.universe, settings.data.benchmark] if live else None
    box: dict[str, object] = {}

    def load() -> str:
        report = load_into_store(store, provider, symbols=symbols, until=until, strict=source == "csv",
                                 complete=live, progress=progress, max_jump=settings.data.max_daily_jump)
        box["report"] = report
        return report.summary()

    run_task(store, Fanout([StoreReporter(store), *reporters]), "data_load", date.today(), "load", load,
             refusals=(DeskError, DataValidationError, DataSourceError), failures=(SourceUnserved,))
    report = box["report"]
    store.audit(str(actor), "data_load", source, report.summary())
    return DataLoadResult(source=report.source, written=report.written, rejected=report.rejected,
                          note=report.note, until=until)


def bootstrap(store: Store, settings: Settings, actor: Actor, reporters: Sequence[Reporter]) -> None:
    """First run: load the bundled history into an empty store, as a reported step. A loaded store is left alone.
    Call it holding the book's lock."""
    if store.symbols():
        return
    if settings.data.source != "bundled":
        raise DeskError(f"the store is empty; run `desk data load --source {settings.data.source}` first")
    try:
        _load(store, settings, provider_for("bundled", None, None), "bundled", None, actor, reporters,
              lambda msg: None)
    except BaseException:  # a full disk, a kill: no half-made store is left for the next run to find
        store.discard_if_blank()
        raise


# ---------------------------------------------------------------------- questions
def ask(settings: Settings, question: str, *, progress: Progress = lambda msg: None) -> AskResult:
    """A free question answered by the chat agent from the record; one line when no LLM provider is configured."""
    from graph.chat import ask as ask_agent
    from graph.chat import read_tools
    from graph.config import secret_values
    from graph.providers.factory import chat_ready
    from graph.providers.llm.errors import LLMFailure
    from graph.providers.llm.exchange import Exchanger
    from graph.redact import Redactor, env_secrets

    if not question.strip():
        raise DeskError('desk ask needs a question: desk ask "why did we buy XOM on 2018-06-29?"')
    chat_ready(settings)
    store = open_store(settings)
    market = MarketView(store, tuple(settings.data.universe), settings.data.benchmark, cache_dir=settings.cache_dir)
    sessions = market.sessions
    if not len(sessions):
        raise DeskError("the store holds no market data; run `desk data load` (or `desk run`) first")
    latest = store.latest_night(finished=True)
    exchanger = Exchanger(settings.llm, store, redact=Redactor([*secret_values(settings), *env_secrets()]))
    from models.registry import ModelRegistry
    from tools.agents import AgentToolkit

    toolkit = AgentToolkit.from_config(settings, market, ModelRegistry(settings.models_dir, promotion=settings.models.promotion))
    role = settings.llm.role("chat")
    progress(f"asking {role.provider} {role.model}")
    try:
        out = ask_agent(question, exchanger=exchanger, tools=read_tools(store, toolkit),
                        as_of=latest or sessions[-1].date(),
                        data_from=sessions[0].date(), data_until=sessions[-1].date())
    except LLMFailure as failure:
        raise DeskError(f"the chat model gave no answer: {failure.reason}") from None
    return AskResult(question=question, answer=out.answer, tools_used=list(out.tools_used), turns=out.turns,
                     provider=role.provider, model=role.model)


def llm_today(store: Store) -> tuple[int, float]:
    """LLM calls sent and dollars spent today (UTC)."""
    from graph.providers.llm.budget import day_start

    return store.llm_spend(since=day_start())


def status(store: Store, settings: Settings | None = None, now: datetime | None = None) -> StatusResult:
    """The desk's state; with ``settings``, what needs an operator as of ``now`` (``desk.alerts``) and the data's age
    in sessions."""
    found = None
    if settings is not None:
        from desk.alerts import alerts
        from memory.store import now_utc

        found = alerts(store, settings, now or datetime.fromisoformat(now_utc()))
    state = store.desk_state()
    last = store.latest_snapshot()
    calls, usd = llm_today(store)
    symbols = store.symbols()
    return StatusResult(
        halted=bool(state.halted), halt_reason=state.reason, halted_since=state.since,
        data_until=store.get_meta("data_until") or (None if found is None or found.freshness.last_bar is None
                                                     else found.freshness.last_bar.isoformat()),
        breakers=[BreakerInfo(**b.model_dump(mode="json")) for b in store.breakers()],
        symbols=len(symbols), stale=[s.symbol for s in symbols if s.stale],
        positions={s: PositionInfo(quantity=round(p.quantity, 4), avg_price=round(p.avg_price, 4),
                                   stop=round(stop_level(p.initial_stop, p.peak, p.trail_pct), 4))
                   for s, p in store.positions().items()},
        equity=None if last is None else round(float(last.equity), 2),
        cash=None if last is None else round(float(last.cash), 2),
        as_of=None if last is None else last.date.isoformat(),
        last_runs=[RunInfo(run_id=r.run_id, kind=r.kind, as_of=r.as_of.isoformat(), status=r.status)
                   for r in store.runs(limit=4)],
        llm_calls_today=calls, llm_usd_today=round(usd, 6),
        alerts=[] if found is None else [r for r in found.reasons if not r.startswith("desk halted")],
        data_age_sessions=None if found is None else found.freshness.age_sessions,
        data_reference=None if found is None else found.freshness.reference.isoformat(),
    )


def why(store: Store, target: str) -> WhyResult:
    """Explain an intent (by id) or the latest decision on a symbol: the full reason chain."""
    row = store.intent(target)
    if row is None:
        sym = target.upper()
        rows = [r for r in store.intents() if r.symbol == sym]
        denied = store.latest_denied_pick(sym)
        if not rows and denied:
            last = denied.denials[-1]
            raise DeskError(f"no intents for {sym}: on {denied.as_of} it was a selected pick (score "
                            f"{denied.score:.0f}) and was not bought: {last.rule}: {last.reason}")
        if not rows and any(s.symbol == sym for s in store.symbols()):
            raise DeskError(f"no intents for {sym} yet; run `desk run` first or see `desk status`")
        if not rows:
            known = sorted({r.symbol for r in store.intents()} | {s.symbol for s in store.symbols()})
            hint = difflib.get_close_matches(sym, known, n=1)
            more = f"; did you mean {hint[0]}?" if hint else "; try `desk status` or an intent id"
            raise DeskError(f"no intent or symbol {target!r} in the store{more}")
        row = max(rows, key=lambda r: (r.as_of, r.intent_id))
    intent = row.intent
    later = store.latest_denied_pick(intent.symbol)
    not_entered = (NotEntered(as_of=later.as_of, score=later.score, denials=later.denials)
                   if later and later.as_of > intent.as_of else None)
    orders = [o for o in store.orders() if o.intent_id == intent.intent_id]
    ids = {o.client_order_id for o in orders}
    fills = [f for f in store.fills() if f.client_order_id in ids]
    return WhyResult(
        intent_id=intent.intent_id, as_of=intent.as_of, symbol=intent.symbol, side=intent.side, kind=intent.kind,
        quantity=intent.quantity, status=row.status, status_reason=row.status_reason, reasons=intent.reasons,
        models=[f"{p.agent}: {p.action} by {p.model_version}"
                for p in store.proposals_for(intent.as_of, intent.symbol)],
        sizing=intent.sizing, tier=intent.tier, gates=intent.gates, track=intent.track, verdicts=intent.verdicts,
        denials=intent.denials,
        orders=[OrderInfo(**o.model_dump(mode="json", include={"client_order_id", "status", "session", "quantity"}))
                for o in orders],
        fills=[FillInfo(**f.model_dump(mode="json", include={"quantity", "price", "commission", "session",
                                                              "price_source"})) for f in fills],
        not_entered=not_entered)


# ---------------------------------------------------------------------- overrides
def halt(store: Store, reason: str, actor: Actor) -> HaltResult:
    if not reason.strip():
        raise DeskError("a halt needs a reason: desk halt --reason TEXT")
    store.set_halted(True, reason.strip(), str(actor))
    return HaltResult(halted=True, reason=reason.strip())


def resume(store: Store, actor: Actor) -> HaltResult:
    """Lift an operator's halt and clear any circuit breaker early (both audited)."""
    halted, breakers = store.desk_state().halted, store.breakers()
    if not halted and not breakers:
        raise DeskError("the desk is not halted and no circuit breaker is set")
    if halted:
        store.set_halted(False, None, str(actor))
    cleared = store.clear_breakers(str(actor), "operator resume")
    return HaltResult(halted=False, breakers_cleared=cleared)


def parse_date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DeskError(f"not a date: {text!r} (use YYYY-MM-DD)") from None
