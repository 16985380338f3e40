"""Replay: the night and morning graphs stepped day by day over history against a fresh paper broker.

Checkpointing: replay compiles both graphs WITHOUT a checkpointer, on purpose, and commits its store once per day. A replay day is a short run whose
inputs all live in the store and whose orders are idempotent by client_order_id, so a per-step checkpoint would
buy nothing a re-run does not already give, at ~4× the cost per invoke. Each replay writes to its own store under
``$DESK_HOME/replays/`` and never touches the live desk's book; trained models and the market cache are shared.
"""

from __future__ import annotations

import gc
import shutil
import time
from collections.abc import Callable
from datetime import date

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from evals.ablation import Ablation
from evals.benchmarks_passive import buy_and_hold, equal_weight, exposure_matched
from evals.metrics import Metrics, performance, split_periods
from evals.tracks import TrackLine, moonshot_line
from graph.config import DeskConfig
from graph.context import assemble
from graph.errors import DeskError
from graph.providers.base import OverlayProvider
from graph.providers.factory import provider_for
from graph.runner import Runner
from memory.store import Store, drop_store, open_store, replay_url
from models.registry import ModelRegistry
from models.walkforward import retrain_block
from tools.market import MarketView


class ReplayResult(BaseModel):
    """A replay's figures: the desk beside S&P 500 buy-and-hold and the equal-weight universe, whole and by period."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    start: str = Field(alias="from")
    end: str = Field(alias="to")
    nights: int
    seconds: float
    setup_seconds: float
    days_per_second: float | None
    desk: Metrics
    sp500_buy_hold: Metrics
    equal_weight: Metrics
    exposure_matched: Metrics = Field(description="the equal-weight universe held at the desk's daily invested "
                                                  "fraction: the desk's excess over it is stock selection")
    periods: dict[str, Metrics]
    benchmark_periods: dict[str, dict[str, Metrics]]
    short_periods: dict[str, int]
    store: str = Field(description="the replay's own store as a line names it (no password)")
    location: str = Field("", exclude=True, description="where to open it again (in this process only)")
    moonshot: TrackLine = Field(description="the moonshot track on its own line (its P&L is inside the desk's)")
    main_pnl: float = Field(description="the desk's P&L less the moonshot track's")
    llm_calls: int = Field(0, description="LLM calls sent (an answer served from the record is not a call)")
    llm_usd: float = Field(0.0, description="what those calls cost")


def _fresh_store(config: DeskConfig, start: date, end: date, name: str | None = None) -> tuple[DeskConfig, Store]:
    """The replay's own home under ``replays/`` and its own store: a SQLite file there, or on a PostgreSQL desk a
    schema of the desk's database named after the replay (both started afresh), holding a copy of the market."""
    folder = name or f"{start}_{end}"
    home = config.home / "replays" / folder
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    update: dict = {"home": home}
    if config.store.url:
        url = replay_url(config.store.url, folder)
        drop_store(url)
        update["store"] = config.store.model_copy(update={"url": url})
    rconfig = config.model_copy(update=update)
    store = open_store(rconfig)
    store.copy_market_from(config.store_location)
    return rconfig, store


def replay_nights(config: DeskConfig, start: date, end: date) -> list[date]:
    """The sessions with data from ``start`` to ``end``; a one-line DeskError when there are none."""
    main = open_store(config)
    try:
        sessions = MarketView(main, tuple(config.data.universe), config.data.benchmark).sessions
    finally:
        main.close()
    nights = [d.date() for d in sessions[(sessions >= pd.Timestamp(start)) & (sessions <= pd.Timestamp(end))]]
    if not nights:
        held = f"the store holds {sessions[0].date()} .. {sessions[-1].date()}" if len(sessions) else "the store is empty"
        raise DeskError(f"no trading sessions with data between {start} and {end} ({held})")
    return nights


def replay(config: DeskConfig, start: date, end: date, progress: Callable[[str], None],
           check_record: Callable[[list[date]], None] = lambda nights: None, *,
           ablation: Ablation | None = None, name: str | None = None,
           observe: Callable[[date, dict], None] = lambda day, state: None,
           wrap: Callable[[OverlayProvider], OverlayProvider] = lambda provider: provider) -> ReplayResult:
    """Replay the nights from ``start`` to ``end`` over the data in ``config``'s store (loaded by the caller).

    With an LLM provider, its exchanges are read from and written to the LLM record of ``config``'s (the live
    desk's) store, so a replay with ``llm.replay = only`` runs from what an earlier run or replay recorded, and one
    with ``auto`` records what it had to ask for the next. ``check_record`` refuses missing nights first.
    ``ablation`` takes parts out of the desk (``evals.ablation``); ``name`` names the replay's own store folder
    under ``replays/`` (default ``FROM_TO``), so cases over one range can run side by side; ``observe`` sees each
    night's final state (an eval reads the night's regime from it); ``wrap`` wraps the provider (a case builder
    records what each role was shown)."""
    if end < start:
        raise DeskError(f"--to {end} is before --from {start}")
    ablation = ablation or Ablation()
    config = ablation.configure(config)  # a switched layer is off by its own setting
    nights = replay_nights(config, start, end)  # refused before anything is written
    check_record(nights)
    rconfig, store = _fresh_store(config, start, end, name)
    market = MarketView(store, tuple(config.data.universe), config.data.benchmark, cache_dir=config.cache_dir)
    record = open_store(config) if config.llm.uses_llm else None
    provider = provider_for(rconfig, store=store, market=market, record=record)
    registry = ModelRegistry(config.models_dir, promotion=config.models.promotion)
    desk = Runner(assemble(rconfig, store=store, market=market, registry=registry,
                           provider=wrap(ablation.provider(provider)), tools=ablation.toolkit(config, market, registry)),
                  progress=progress, **({"builders": b} if (b := ablation.builders()) else {}))
    progress(f"replaying {len(nights)} nights {nights[0]} .. {nights[-1]}: preparing features and models")
    t_setup = time.perf_counter()
    market.ensure()
    blocks = {retrain_block(d, config.models.retrain_months): d for d in reversed(nights)}
    for d in blocks.values():  # one walk-forward model per retrain block
        desk.ctx.tools.prepare(d)
    desk.ctx.tools.models.inputs  # noqa: B018 - built once here: every night infers from one build of the inputs
    setup_s = time.perf_counter() - t_setup
    gc.collect()
    gc.freeze()  # the long-lived setup objects (frames, models, graphs) need no re-scanning by the cycle collector
    t0 = time.perf_counter()
    for i, d in enumerate(nights, 1):
        with store.transaction():  # one commit per replayed day: the replay store is an evaluation artefact
            observe(d, desk.night(d))
            desk.morning(d)
        if i % 100 == 0:
            progress(f"{i}/{len(nights)} nights, {i / (time.perf_counter() - t0):.0f} days/s")
    seconds = time.perf_counter() - t0
    gc.unfreeze()
    result = summarize(store, market, config, nights, seconds, setup_s)
    if record is None:
        return result
    runs = [r.run_id for r in store.runs(limit=10 * len(nights) + 10)]
    calls, usd = 0, 0.0
    for run_id in runs:
        n, paid = record.llm_spend(run_id=run_id)
        calls, usd = calls + n, usd + paid
    record.close()
    return result.model_copy(update={"llm_calls": calls, "llm_usd": round(usd, 6)})


def summarize(store: Store, market: MarketView, config: DeskConfig, nights: list[date], seconds: float,
              setup_s: float) -> ReplayResult:
    snaps = store.snapshots()
    equity = pd.concat([pd.Series([config.broker.initial_cash], index=[pd.Timestamp(nights[0])]),
                        snaps["equity"]]).sort_index()
    equity = equity[~equity.index.duplicated(keep="last")]
    fills = store.fills()
    notional = float(sum(f.quantity * f.price for f in fills))
    desk_m = performance(equity, trades=len(fills), traded_notional=notional)
    a, b = equity.index[0].date(), equity.index[-1].date()
    close = market.close
    bench_curve = buy_and_hold(close[config.data.benchmark].dropna(), a, b, config.broker.initial_cash)
    ew_curve = equal_weight(close[list(market.tradable)], a, b, config.broker.initial_cash)
    matched_curve = exposure_matched(ew_curve, snaps["gross"], config.broker.initial_cash)
    bench, ew, matched = performance(bench_curve), performance(ew_curve), performance(matched_curve)
    last = close.loc[:pd.Timestamp(b)].ffill().iloc[-1].to_dict() if len(close) else {}
    shots = moonshot_line(store.moonshots(), store.orders(), fills, last, config.broker.initial_cash)
    return ReplayResult(
        start=nights[0].isoformat(), end=nights[-1].isoformat(), nights=len(nights),
        seconds=round(seconds, 2), setup_seconds=round(setup_s, 2),
        days_per_second=round(len(nights) / seconds, 1) if seconds else None,
        desk=desk_m, sp500_buy_hold=bench, equal_weight=ew, exposure_matched=matched, periods=_periods(equity),
        benchmark_periods={name: _periods(curve) for name, curve in
                           (("sp500_buy_hold", bench_curve), ("equal_weight", ew_curve),
                            ("exposure_matched", matched_curve))},
        short_periods={k: v.days for k, v in split_periods(equity).items() if v.days < MIN_PERIOD_DAYS},
        moonshot=shots, main_pnl=round(float(equity.iloc[-1]) - config.broker.initial_cash - shots.pnl, 2),
        store=store.where, location=str(store.location))


MIN_PERIOD_DAYS = 21  # a slice shorter than a trading month is not annualised (a 1-day "CAGR" means nothing)


def _periods(curve: pd.Series) -> dict[str, Metrics]:
    return {k: v for k, v in split_periods(curve).items() if v.days >= MIN_PERIOD_DAYS}
