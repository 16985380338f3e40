"""Wiring: open the organs for one DESK_HOME and run the graphs. No trading logic lives here."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from brokers.paper import PaperBroker, StorePriceSource
from desk.config import Settings
from desk.errors import DeskError
from graph.context import DeskContext
from graph.morning import build_morning
from graph.night import build_night
from graph.providers.factory import make_provider
from graph.reporting import Fanout, Reporter, StoreReporter
from memory.checkpoint import open_checkpointer
from memory.store import Store
from models.registry import ModelRegistry
from tools.agents import make_agent_tools, mean_reversion_model
from tools.breakers import consecutive_errors
from tools.calendar import next_session
from tools.data.bundled import BundledProvider
from tools.data.loader import load_into_store
from tools.market import MarketView

Progress = Callable[[str], None]


class PaperBrokers:
    """One paper broker per desk, its clock moved to the session asked for."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings, self.store = settings, store
        self._broker: PaperBroker | None = None

    def __call__(self, session: date) -> PaperBroker:
        b = self.settings.broker
        if self._broker is None:
            self._broker = PaperBroker(self.settings.broker_path, StorePriceSource(self.store), session,
                                       initial_cash=b.initial_cash, slippage_bps=b.slippage_bps,
                                       commission_bps=b.commission_bps, min_commission=b.min_commission)
        self._broker.set_session(session)
        return self._broker


@dataclass
class Desk:
    settings: Settings
    store: Store
    ctx: DeskContext
    progress: Progress
    checkpointing: bool = True
    _graphs: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ graphs
    def _graph(self, kind: str):
        if kind not in self._graphs:
            saver = open_checkpointer(self.settings.checkpoint_path) if self.checkpointing else None
            self._graphs[kind] = (build_night if kind == "night" else build_morning)(saver)
        return self._graphs[kind]

    def broker(self, session: date) -> PaperBroker:
        return self.ctx.broker_for(session)

    # ------------------------------------------------------------------ dates
    def sessions(self) -> pd.DatetimeIndex:
        return self.ctx.market.sessions

    def resolve_date(self, day: date | None) -> date:
        sessions = self.sessions()
        if not len(sessions):
            raise DeskError("the store holds no market data; run `desk data load`")
        first, last = sessions[0].date(), sessions[-1].date()
        if day is None:
            return last
        if not first <= day <= last:
            raise DeskError(f"no data for {day}: the store holds {first} .. {last}")
        if pd.Timestamp(day) not in sessions:
            raise DeskError(f"{day} is not a trading session in the data; try {next_session(day, sessions)}")
        return day

    def morning_session(self, night: date) -> date:
        return next_session(night, self.sessions())

    def ensure_models(self, day: date) -> None:
        m = self.settings.models
        self.ctx.market.ensure()
        mean_reversion_model(self.ctx.market, self.ctx.registry, day, m.retrain_months, m.train_years, m.horizon_days)

    # ------------------------------------------------------------------ runs
    def _invoke(self, kind: str, state: dict, as_of: date, durability: str) -> dict:
        """Run one graph. Each run is its own checkpointer thread; the last run for this date, if it stopped
        mid-graph (an exception or a killed process), is resumed from its checkpoint instead of starting over."""
        graph = self._graph(kind)
        resume = False
        last = self.store.last_run(kind, as_of) if self.checkpointing else None
        if last is not None and last["status"] in ("error", "running"):
            snap = graph.get_state({"configurable": {"thread_id": last["run_id"]}})
            resume = bool(snap.next)
        if resume:
            run_id = last["run_id"]
            self.progress(f"resuming {kind} run {run_id} at {', '.join(snap.next)}")
        else:
            run_id = f"{kind}-{as_of.isoformat()}-{uuid.uuid4().hex[:6]}"
            state = {**state, "run_id": run_id}
        config = {"configurable": {"thread_id": run_id}}
        self.store.start_run(run_id, kind, kind, as_of)
        self.ctx.reporter.run_started(run_id, kind, as_of.isoformat())
        try:
            kwargs = {"durability": durability} if self.checkpointing else {}
            out = graph.invoke(None if resume else state, config, context=self.ctx, **kwargs)
        except Exception as exc:
            self.store.finish_run(run_id, "error", {"error": f"{type(exc).__name__}: {exc}"})
            self.ctx.reporter.run_finished(run_id, "error", f"{type(exc).__name__}: {exc}")
            r = self.settings.risk
            tripped = consecutive_errors((x["status"] for x in self.store.runs(limit=r.max_consecutive_errors)),
                                         r.max_consecutive_errors)
            if tripped:
                self.store.trip_breaker("errors", as_of, r.breaker_sessions, f"{tripped}; latest: {exc}")
            raise
        self.store.finish_run(run_id, "ok", {"phase": kind})
        self.ctx.reporter.run_finished(run_id, "ok", "")
        return out

    def night(self, day: date, durability: str = "sync") -> dict:
        return self._invoke("night", {"as_of": day}, day, durability)

    def morning(self, night_day: date, durability: str = "sync") -> dict:
        session = self.morning_session(night_day)
        return self._invoke("morning", {"night_date": night_day, "session": session}, night_day, durability)


def bootstrap_data(store: Store, settings: Settings, progress: Progress) -> None:
    """First run: load the bundled history into an empty store. A loaded (or truncated) store is left as it is."""
    if store.symbols():
        return
    if settings.data.source != "bundled":
        raise DeskError(f"the store is empty; run `desk data load --source {settings.data.source}` first")
    progress("first run: loading bundled market history into the store")
    report = load_into_store(store, BundledProvider(), progress=progress, max_jump=settings.data.max_daily_jump)
    progress(f"loaded {sum(report.written.values()):,} bars for {len(report.written)} symbols"
             + (f"; rejected {report.rejected}" if report.rejected else ""))


def open_desk(settings: Settings, reporters: list[Reporter], progress: Progress, *, bootstrap: bool = True,
              checkpointing: bool = True, market: MarketView | None = None, store: Store | None = None,
              models_dir=None) -> Desk:
    store = store or Store(settings.store_path)
    if bootstrap:
        bootstrap_data(store, settings, progress)
    if market is None:
        market = MarketView(store, tuple(settings.data.universe), settings.data.benchmark,
                            cache_dir=settings.home / "cache")
    registry = ModelRegistry(models_dir or settings.models_dir)
    m = settings.models
    ctx = DeskContext(
        settings=settings, store=store, market=market, registry=registry, provider=make_provider(settings.llm.provider),
        reporter=Fanout([StoreReporter(store), *reporters]), broker_for=PaperBrokers(settings, store),
        tools=make_agent_tools(market, registry, m.retrain_months, m.train_years, m.horizon_days))
    return Desk(settings=settings, store=store, ctx=ctx, progress=progress, checkpointing=checkpointing)
