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
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table

from desk.app import bootstrap_data, open_desk
from desk.config import Settings
from desk.errors import DeskError
from evals.benchmarks_passive import buy_and_hold, equal_weight
from evals.metrics import performance, split_periods
from memory.store import Store
from models.walkforward import retrain_block
from tools.market import MarketView


def _fresh_store(settings: Settings, start: date, end: date) -> tuple[Settings, Store]:
    home = settings.home / "replays" / f"{start}_{end}"
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    rsettings = settings.model_copy(update={"home": home})
    store = Store(rsettings.store_path)
    main = settings.store_path
    with store.transaction():
        store.db.execute("ATTACH DATABASE ? AS main_store", [str(main)])
        store.db.execute("INSERT INTO bars SELECT * FROM main_store.bars")
        store.db.execute("INSERT INTO symbols SELECT * FROM main_store.symbols")
    store.db.execute("DETACH DATABASE main_store")
    return rsettings, store


def replay(settings: Settings, start: date, end: date, progress: Callable[[str], None]) -> dict[str, Any]:
    if end < start:
        raise DeskError(f"--to {end} is before --from {start}")
    main = Store(settings.store_path)
    bootstrap_data(main, settings, progress)
    main.close()
    rsettings, store = _fresh_store(settings, start, end)
    market = MarketView(store, tuple(settings.data.universe), settings.data.benchmark,
                        cache_dir=settings.home / "cache")
    desk = open_desk(rsettings, [], progress, bootstrap=False, checkpointing=False, market=market, store=store,
                     models_dir=settings.models_dir)
    sessions = market.sessions
    nights = [d.date() for d in sessions[(sessions >= pd.Timestamp(start)) & (sessions <= pd.Timestamp(end))]]
    if not nights:
        raise DeskError(f"no trading sessions with data between {start} and {end} "
                        f"(the store holds {sessions[0].date()} .. {sessions[-1].date()})")
    progress(f"replaying {len(nights)} nights {nights[0]} .. {nights[-1]}: preparing features and models")
    t_setup = time.perf_counter()
    market.ensure()
    blocks = {retrain_block(d, settings.models.retrain_months): d for d in reversed(nights)}
    for d in blocks.values():  # one walk-forward model per retrain block
        desk.ensure_models(d)
    setup_s = time.perf_counter() - t_setup
    gc.collect()
    gc.freeze()  # the long-lived setup objects (frames, models, graphs) need no re-scanning by the cycle collector
    t0 = time.perf_counter()
    for i, d in enumerate(nights, 1):
        with store.transaction():  # one commit per replayed day: the replay store is an evaluation artefact
            desk.night(d)
            desk.morning(d)
        if i % 100 == 0:
            progress(f"{i}/{len(nights)} nights, {i / (time.perf_counter() - t0):.0f} days/s")
    seconds = time.perf_counter() - t0
    gc.unfreeze()
    return summarize(store, market, settings, nights, seconds, setup_s)


def summarize(store: Store, market: MarketView, settings: Settings, nights: list[date], seconds: float,
              setup_s: float) -> dict[str, Any]:
    snaps = store.snapshots()
    equity = pd.concat([pd.Series([settings.broker.initial_cash], index=[pd.Timestamp(nights[0])]),
                        snaps["equity"]]).sort_index()
    equity = equity[~equity.index.duplicated(keep="last")]
    fills = store.fills()
    notional = float(sum(f["quantity"] * f["price"] for f in fills))
    desk_m = performance(equity, trades=len(fills), traded_notional=notional)
    a, b = equity.index[0].date(), equity.index[-1].date()
    close = market.close
    bench_curve = buy_and_hold(close[settings.data.benchmark].dropna(), a, b, settings.broker.initial_cash)
    ew_curve = equal_weight(close[list(market.tradable)], a, b, settings.broker.initial_cash)
    bench, ew = performance(bench_curve), performance(ew_curve)
    return {
        "from": nights[0].isoformat(), "to": nights[-1].isoformat(), "nights": len(nights),
        "seconds": round(seconds, 2), "setup_seconds": round(setup_s, 2),
        "days_per_second": round(len(nights) / seconds, 1) if seconds else None,
        "desk": desk_m.model_dump(mode="json"), "sp500_buy_hold": bench.model_dump(mode="json"),
        "equal_weight": ew.model_dump(mode="json"),
        "periods": _periods(equity),
        "benchmark_periods": {name: _periods(curve) for name, curve in
                              (("sp500_buy_hold", bench_curve), ("equal_weight", ew_curve))},
        "short_periods": {k: v.days for k, v in split_periods(equity).items() if v.days < MIN_PERIOD_DAYS},
        "store": str(store.path),
    }


MIN_PERIOD_DAYS = 21  # a slice shorter than a trading month is not annualised (a 1-day "CAGR" means nothing)


def _periods(curve: pd.Series) -> dict[str, dict]:
    return {k: v.model_dump(mode="json") for k, v in split_periods(curve).items() if v.days >= MIN_PERIOD_DAYS}


def print_replay(console: Console, r: dict[str, Any]) -> None:
    console.rule(f"[bold]Replay {r['from']} .. {r['to']}[/] ({r['nights']} nights, {r['days_per_second']} days/s)")
    t = Table("", "CAGR", "vol", "Sharpe", "Sortino", "max DD", "trades", "turnover")
    for name, key in (("desk", "desk"), ("S&P 500 buy & hold", "sp500_buy_hold"), ("equal-weight universe", "equal_weight")):
        m = r[key]
        t.add_row(name, f"{m['cagr']:+.2%}", f"{m['volatility']:.2%}", f"{m['sharpe']:.2f}", f"{m['sortino']:.2f}",
                  f"{m['max_drawdown']:.2%}", str(m["trades"] if m["trades"] is not None else "-"),
                  f"{m['turnover']:.2f}" if m["turnover"] is not None else "-")
    console.print(t)
    p = Table("period", "", "CAGR", "Sharpe", "max DD", title="In-sample / validation / hold-out (2019+)")
    for period, m in r["periods"].items():
        rows = [("desk", m)] + [(name, r["benchmark_periods"][key].get(period)) for name, key in
                                (("S&P 500", "sp500_buy_hold"), ("equal-weight", "equal_weight"))]
        for name, x in rows:
            if x is not None:
                p.add_row(f"{period} {x['start']}..{x['end']}" if name == "desk" else "", name, f"{x['cagr']:+.2%}",
                          f"{x['sharpe']:.2f}", f"{x['max_drawdown']:.2%}")
    console.print(p)
    for period, days in r["short_periods"].items():
        console.print(f"  {period}: only {days} trading day(s) in range — not annualised", highlight=False)
    console.print(f"[dim]store: {r['store']}[/]")
