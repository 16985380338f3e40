"""One eval case: a pure function of (configuration, date range, ablation) → result, so sweeps can run it anywhere.

``run_case(config, case)`` takes and returns plain JSON-able dicts (a process pool or a Ray worker pickles them):
it replays the case through the real graphs against a fresh paper broker, in a replay store of its own named by the
case's hash (cases over one range run side by side), and reads back what the decisions did. Everything it reads is
in the desk's home (the market data and the model registry, shared; the LLM record with ``llm.replay``), so a
worker needs the same home on its file system. It records nothing in the desk's store: the caller records the trial.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from evals.ablation import Ablation
from evals.attribution import AgentFigures, Costs, OverlayEffect, agent_figures, costs, overlay_effect
from evals.benchmarks_passive import equal_weight, exposure_matched
from evals.flat import FlatStretch, flat_stretches
from evals.metrics import IN_SAMPLE_END, VALIDATION_END, performance, split_periods
from evals.permutation import PermutationCheck, check
from evals.replay import ReplayResult, replay
from evals.stats import SharpeStats, sharpe_interval
from graph.config import DeskConfig
from memory.store import Store, open_store
from tools.market import MarketView

BASES = {
    "sp500_buy_hold": "price index (S&P 500 closes, dividends not reinvested), bought at the first close and held",
    "equal_weight": "dividend- and split-adjusted closes of the tradable universe, equal weights rebalanced at each "
                    "month-end close, no costs",
    "exposure_matched": "the equal-weight universe held each day at the desk's own invested fraction of the day "
                        "before (the rest in cash at 0%), no costs",
}
RISK_FREE = "ratios use a risk-free rate of 0 (cash earns nothing in the paper broker and in the benchmarks)"


class EvalCase(BaseModel):
    """A date range, what is taken out of the desk, and the settings it runs with (laid over the desk's)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    name: str | None = None
    start: date = Field(alias="from")
    end: date = Field(alias="to")
    ablate: tuple[str, ...] = ()
    settings: dict[str, dict[str, Any]] = Field(default_factory=dict, description="section -> key -> value")

    @property
    def ablation(self) -> Ablation:
        return Ablation.parse(self.ablate)

    @property
    def label(self) -> str:
        return self.name or self.ablation.label

    def identity(self) -> dict[str, Any]:
        """What makes two cases the same trial: range, ablation and settings (not the name)."""
        return {"from": self.start.isoformat(), "to": self.end.isoformat(), "ablate": self.ablation.specs,
                "settings": self.settings}

    @property
    def key(self) -> str:
        return hashlib.sha256(json.dumps(self.identity(), sort_keys=True, default=str).encode()).hexdigest()[:12]


class Series(BaseModel):
    """The daily series a report draws (ISO dates; curves in the account's currency)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dates: list[str]
    desk: list[float]
    sp500_buy_hold: list[float]
    equal_weight: list[float]
    exposure_matched: list[float]
    invested: list[float]
    regime: list[str | None]
    llm_usd: list[float]
    flat_cause: list[str | None] = Field(default_factory=list, description="the night's reason for an empty book")


class Decomposition(BaseModel):
    """The desk's CAGR as exposure level + exposure timing + stock selection (the three add up)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    average_invested: float
    exposure_level: float = Field(description="CAGR of the equal-weight universe at the desk's average exposure")
    timing: float = Field(description="exposure-matched CAGR minus exposure_level: what moving exposure earned")
    selection: float = Field(description="desk CAGR minus exposure-matched CAGR: what choosing stocks earned")


class CaseResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    case: EvalCase
    label: str
    key: str
    replay: ReplayResult
    sharpe_ci: dict[str, tuple[float, float]] = Field(description="period ('all', 'in_sample', 'validation', "
                                                                  "'holdout') -> 95% bootstrap interval")
    sharpe: dict[str, SharpeStats] = Field(default_factory=dict, description="filled by the caller, who knows "
                                                                             "the trials")
    decomposition: Decomposition
    agents: dict[str, AgentFigures]
    overlay: list[OverlayEffect]
    costs: Costs
    bases: dict[str, str] = Field(default_factory=lambda: dict(BASES))
    risk_free: str = RISK_FREE
    series: Series
    permutation: dict[str, PermutationCheck] = Field(
        default_factory=dict, description="period ('all', 'in_sample', 'validation', 'holdout') -> the desk's "
                                          "selection against random books at its own exposure and turnover")
    flat_stretches: list[FlatStretch] = Field(default_factory=list, description="sessions in a row with nothing "
                                                                                "invested, and the rule behind them")

    def returns(self, period: str = "all") -> np.ndarray:
        s = pd.Series(self.series.desk, index=pd.DatetimeIndex(self.series.dates))
        curve = s if period == "all" else _period_curve(s, period)
        return curve.pct_change().dropna().to_numpy()


def _period_curve(curve: pd.Series, period: str) -> pd.Series:
    """The part of ``curve`` one period of ``split_periods`` covers (with its opening point)."""
    m = split_periods(curve)[period]
    return curve.loc[:pd.Timestamp(m.end)].iloc[-(m.days + 1):]


def configured(config: DeskConfig, case: EvalCase) -> DeskConfig:
    """The desk's configuration with the case's settings laid over it, section by section (validated)."""
    data = config.model_dump()
    for section, values in case.settings.items():
        if section not in data or not isinstance(data[section], dict):
            raise ValueError(f"unknown settings section {section!r} in case {case.label}")
        data[section] = {**data[section], **values}
    return DeskConfig.model_validate(data)


TICK_EVERY = 25  # nights between two ticks of a case's progress


def run_case(config: dict[str, Any], case: dict[str, Any],
             tick: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Replay one case; its CaseResult as a JSON-able dict. Pure in its arguments (the home's data aside).
    ``tick(nights done, nights)`` hears how far the replay is (it changes nothing)."""
    ec = EvalCase.model_validate(case)
    base = DeskConfig.model_validate(config)
    cfg = configured(base, ec)
    regimes: dict[str, str] = {}
    causes: dict[str, str | None] = {}
    total = len(_nights(cfg, ec)) if tick else 0

    def observe(day: date, state: dict) -> None:
        regimes[day.isoformat()] = str(state.get("regime"))
        causes[day.isoformat()] = state.get("flat_cause")
        if tick and len(regimes) % TICK_EVERY == 0:
            tick(len(regimes), total)

    result = replay(cfg, ec.start, ec.end, lambda msg: None, ablation=ec.ablation, name=f"eval-{ec.key}",
                    observe=observe)
    store = Store(result.location)
    try:
        return _read(cfg, ec, result, store, regimes, causes).model_dump(mode="json", by_alias=True)
    finally:
        store.close()


def _read(cfg: DeskConfig, ec: EvalCase, result: ReplayResult, store: Store, regimes: dict[str, str],
          causes: dict[str, str | None] | None = None) -> CaseResult:
    market = MarketView(store, tuple(cfg.data.universe), cfg.data.benchmark)
    capital = cfg.broker.initial_cash
    snaps = store.snapshots()
    equity = pd.concat([pd.Series([capital], index=[pd.Timestamp(ec.start)]), snaps["equity"]]).sort_index()
    equity = equity[~equity.index.duplicated(keep="last")]
    a, b = equity.index[0].date(), equity.index[-1].date()
    close = market.close
    ew = equal_weight(close[list(market.tradable)], a, b, capital)
    gross = snaps["gross"].reindex(ew.index).ffill().fillna(0.0)
    matched = exposure_matched(ew, snaps["gross"], capital)
    avg = float(gross.clip(0, 1).mean())
    level = exposure_matched(ew, pd.Series(avg, index=ew.index), capital)
    bench = (close[cfg.data.benchmark].dropna().loc[pd.Timestamp(a):pd.Timestamp(b)])
    bench = capital * bench / bench.iloc[0]
    cagr = {n: performance(c).cagr for n, c in (("desk", equity), ("matched", matched), ("level", level))}
    decomposition = Decomposition(average_invested=avg, exposure_level=cagr["level"],
                                  timing=cagr["matched"] - cagr["level"], selection=cagr["desk"] - cagr["matched"])
    ci = {"all": sharpe_interval(equity.pct_change().dropna().to_numpy())}
    for period in result.periods:
        ci[period] = sharpe_interval(_period_curve(equity, period).pct_change().dropna().to_numpy())
    idx = equity.index
    spend = _night_spend(cfg, store)
    series = Series(
        dates=[d.date().isoformat() for d in idx], desk=_list(equity),
        sp500_buy_hold=_list(bench.reindex(idx).ffill().fillna(capital)),  # a start before the first session: capital
        equal_weight=_list(ew.reindex(idx).ffill().fillna(capital)),
        exposure_matched=_list(matched.reindex(idx).ffill().fillna(capital)),
        invested=_list(gross.reindex(idx).ffill().fillna(0.0)),
        regime=[regimes.get(d.date().isoformat()) for d in idx],
        llm_usd=[round(spend.get(d.date().isoformat(), 0.0), 6) for d in idx],
        flat_cause=[(causes or {}).get(d.date().isoformat()) for d in idx])
    return CaseResult(
        case=ec, label=ec.label, key=ec.key, replay=result, sharpe_ci=ci, decomposition=decomposition,
        agents=agent_figures(store, close, b, capital), overlay=overlay_effect(store, close),
        costs=costs(store, cfg.broker.slippage_bps, float(equity.mean()), len(equity) - 1), series=series,
        permutation=permutation(store, close, a, b),
        flat_stretches=flat_stretches(series.dates, series.invested, series.flat_cause))


def permutation(store: Store, close: pd.DataFrame, a: date, b: date) -> dict[str, PermutationCheck]:
    """The permutation check of the replay's book, whole and per period (``evals.permutation``)."""
    snaps = store.snapshots()
    held = store.holdings()
    if held.empty or snaps.empty:
        return {}
    weights = held.div(snaps["equity"].reindex(held.index), axis=0).fillna(0.0)
    weights = weights[[c for c in weights.columns if c in close.columns]]
    eras = {"all": (a, b), "in_sample": (a, IN_SAMPLE_END),
            "validation": (max(a, date(IN_SAMPLE_END.year + 1, 1, 1)), VALIDATION_END),
            "holdout": (max(a, date(VALIDATION_END.year + 1, 1, 1)), b)}
    return check(weights, close, {k: v for k, v in eras.items() if v[0] <= v[1] and v[0] <= b and v[1] >= a})


def _list(s: pd.Series) -> list[float]:
    return [round(float(x), 4) if np.isfinite(x) else 0.0 for x in s.to_numpy(dtype=float)]


def _night_spend(cfg: DeskConfig, store: Store) -> dict[str, float]:
    """Dollars the LLM calls of each night cost (none with the rules provider)."""
    if not cfg.llm.uses_llm:
        return {}
    record = open_store(cfg)
    try:
        out: dict[str, float] = {}
        for run in store.runs(limit=100_000, kind="night"):
            day = run.as_of.isoformat()
            out[day] = out.get(day, 0.0) + record.llm_spend(run_id=run.run_id)[1]
        return out
    finally:
        record.close()


def prepare_case(config: dict[str, Any], case: dict[str, Any],
                 progress: Callable[[str], None] = lambda msg: None) -> dict[str, str | None]:
    """Train (walk-forward, gated) every model the case's nights need, here, before cases run side by side: the
    registry's promotions then never depend on which of two concurrent cases trained first, so a case gives the
    same result wherever and alongside whatever it runs. Returns, per model, None when it is usable on some retrain
    block of the range, else why it never is. ``progress`` hears how far the training is (every 20 s or so)."""
    import time
    from models.registry import ModelRegistry
    from models.walkforward import retrain_block
    from tools.agents import AgentToolkit

    ec = EvalCase.model_validate(case)
    cfg = ec.ablation.configure(configured(DeskConfig.model_validate(config), ec))
    store = open_store(cfg)
    try:
        market = MarketView(store, tuple(cfg.data.universe), cfg.data.benchmark, cache_dir=cfg.cache_dir)
        registry = ModelRegistry(cfg.models_dir, promotion=cfg.models.promotion)
        m = cfg.models
        tools = ec.ablation.toolkit(cfg, market, registry) or AgentToolkit.from_config(cfg, market, registry)
        usable: dict[str, str | None] = {}
        blocks = list({retrain_block(d, m.retrain_months): d for d in reversed(_nights(cfg, ec, market))}.values())
        t0 = last = time.monotonic()
        for i, d in enumerate(blocks, 1):
            if time.monotonic() - last >= 20:
                last = time.monotonic()
                progress(f"models: retrain block {i}/{len(blocks)} ({d}), {last - t0:.0f} s so far")
            for r in tools.prepare(d):
                if r.status == "usable":
                    usable[r.name] = None
                elif usable.get(r.name, "") is not None:
                    usable[r.name] = r.reason
        return usable
    finally:
        store.close()


def _nights(cfg: DeskConfig, ec: EvalCase, market: MarketView | None = None) -> list[date]:
    """The case's nights: the sessions with data in its range."""
    if market is None:
        store = open_store(cfg)
        try:
            return _nights(cfg, ec, MarketView(store, tuple(cfg.data.universe), cfg.data.benchmark))
        finally:
            store.close()
    sessions = market.sessions
    return [d.date() for d in sessions[(sessions >= pd.Timestamp(ec.start)) & (sessions <= pd.Timestamp(ec.end))]]
