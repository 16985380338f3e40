"""The agents as LangChain tools with typed argument schemas.

Each tool reads the cached feature panel for one date and returns one Proposal per symbol. Thresholds are fixed a
priori from the usual textbook readings of each indicator (none was chosen by looking at data from 2019 on).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date

import numpy as np
import pandas as pd
from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

from models.mean_reversion import FEATURES as MR_FEATURES
from models.mean_reversion import TrainedModel, recipe, train, version_for
from models.registry import ModelRegistry
from models.walkforward import cutoff_for, retrain_block
from tools.contracts import Action, Proposal
from tools.market import MarketView

TREND_VERSION = "trend-rules-v1"
EMA_VERSION = "ema-rules-v1"


class AgentArgs(BaseModel):
    """Arguments every agent tool takes."""

    as_of: date = Field(description="decision date; the tool reads data up to this date only")
    symbols: list[str] = Field(description="symbols to assess")


def _stop(close: float, vol: float) -> float:
    """A protective stop 2.5 ten-day sigmas below the close, between 4% and 15% away."""
    sigma10 = (vol if math.isfinite(vol) else 0.3) * math.sqrt(10 / 252)
    return close * (1 - min(0.15, max(0.04, 2.5 * sigma10)))


def _hold(sym: str, day: date, agent: str, version: str, why: str, inputs: dict[str, float]) -> Proposal:
    return Proposal(symbol=sym, as_of=day, action=Action.HOLD, strength=0, confidence=0, horizon_days=5,
                    agent=agent, model_version=version, inputs=inputs, rationale=why)


def _inputs(row: dict[str, float], names: tuple[str, ...]) -> dict[str, float]:
    return {n: round(row[n], 6) for n in names if n in row}


Rows = dict[str, dict[str, float]]  # symbol -> feature name -> value (NaN features absent)


def trend_momentum(rows: Rows, day: date) -> list[Proposal]:
    """Long established uptrends with relative strength; close longs whose trend has broken."""
    out = []
    names = ("close", "ret_63d", "ret_126d", "trend_strength", "dist_sma200", "rs_63d", "vol_21d")
    for sym, r in rows.items():
        x = _inputs(r, names)
        if len(x) < len(names):
            out.append(_hold(sym, day, "trend", TREND_VERSION, "not enough history for trend features", x))
            continue
        if x["trend_strength"] > 2 and x["ret_126d"] > 0 and x["ret_63d"] > 0 and x["dist_sma200"] > 0:
            strength = min(1.0, x["trend_strength"] / 8)
            confidence = min(1.0, 0.5 + max(0.0, x["rs_63d"]) * 2)
            out.append(Proposal(
                symbol=sym, as_of=day, action=Action.BUY_LONG, strength=strength, confidence=confidence,
                horizon_days=21, stop=_stop(x["close"], x["vol_21d"]), agent="trend", model_version=TREND_VERSION,
                inputs=x, rationale=f"uptrend t={x['trend_strength']:.1f}, 63d {x['ret_63d']:+.1%}, "
                                    f"{x['dist_sma200']:+.1%} above SMA200"))
        elif x["trend_strength"] < -1 or x["dist_sma200"] < -0.03:
            out.append(Proposal(
                symbol=sym, as_of=day, action=Action.CLOSE_LONG, strength=min(1.0, abs(x["trend_strength"]) / 8),
                confidence=0.6, horizon_days=21, agent="trend", model_version=TREND_VERSION, inputs=x,
                rationale=f"trend broken: t={x['trend_strength']:.1f}, {x['dist_sma200']:+.1%} vs SMA200"))
        else:
            out.append(_hold(sym, day, "trend", TREND_VERSION, "no clear trend", x))
    return out


def ema_crossover(rows: Rows, day: date) -> list[Proposal]:
    """EMA12/26 crossovers, confirmed by the EMA50/200 trend."""
    out = []
    names = ("close", "ema_cross", "ema_cross_prev", "ema_trend", "vol_21d")
    for sym, r in rows.items():
        x = _inputs(r, names)
        if len(x) < len(names):
            out.append(_hold(sym, day, "ema", EMA_VERSION, "not enough history for EMAs", x))
            continue
        fresh_up = x["ema_cross"] > 0 >= x["ema_cross_prev"]
        if x["ema_cross"] > 0 and x["ema_trend"] > 0:
            strength = min(1.0, 0.4 + abs(x["ema_cross"]) * 20 + (0.3 if fresh_up else 0))
            out.append(Proposal(
                symbol=sym, as_of=day, action=Action.BUY_LONG, strength=strength,
                confidence=0.7 if fresh_up else 0.55, horizon_days=10, stop=_stop(x["close"], x["vol_21d"]),
                agent="ema", model_version=EMA_VERSION, inputs=x,
                rationale=("fresh " if fresh_up else "") + f"EMA12>EMA26 ({x['ema_cross']:+.2%}) in an EMA50>200 trend"))
        elif x["ema_cross"] < 0 and x["ema_trend"] < 0:
            out.append(Proposal(
                symbol=sym, as_of=day, action=Action.CLOSE_LONG, strength=min(1.0, abs(x["ema_cross"]) * 20),
                confidence=0.6, horizon_days=10, agent="ema", model_version=EMA_VERSION, inputs=x,
                rationale=f"EMA12<EMA26 ({x['ema_cross']:+.2%}) in an EMA50<200 trend"))
        else:
            out.append(_hold(sym, day, "ema", EMA_VERSION, "EMAs not aligned", x))
    return out


def mean_reversion(rows: Rows, day: date, model: TrainedModel) -> list[Proposal]:
    """LightGBM probability of an up move over the horizon, acted on only at band extremes."""
    usable = [s for s, r in rows.items() if all(f in r for f in MR_FEATURES)]
    X = pd.DataFrame([[rows[s][f] for f in MR_FEATURES] for s in usable], columns=list(MR_FEATURES))
    probs = dict(zip(usable, model.predict_proba(X), strict=True)) if usable else {}
    out = []
    for sym, r in rows.items():
        x = _inputs(r, (*MR_FEATURES, "close"))
        if sym not in probs:
            out.append(_hold(sym, day, "mean_reversion", model.version, "features incomplete", x))
            continue
        p = float(probs[sym])
        x["p_up"] = round(p, 6)
        if p > 0.55 and x["bb_z_20"] < -1.0:
            out.append(Proposal(
                symbol=sym, as_of=day, action=Action.BUY_LONG, strength=min(1.0, (p - 0.5) * 5),
                confidence=min(1.0, abs(p - 0.5) * 4 + 0.3), horizon_days=5, stop=_stop(x["close"], x["vol_21d"]),
                agent="mean_reversion", model_version=model.version, inputs=x,
                rationale=f"oversold (band z {x['bb_z_20']:+.2f}, RSI {x['rsi_14']:.0f}); P(up 5d)={p:.2f}"))
        elif p < 0.45 and x["bb_z_20"] > 1.0:
            out.append(Proposal(
                symbol=sym, as_of=day, action=Action.CLOSE_LONG, strength=min(1.0, (0.5 - p) * 5),
                confidence=min(1.0, abs(p - 0.5) * 4 + 0.3), horizon_days=5, agent="mean_reversion",
                model_version=model.version, inputs=x,
                rationale=f"overbought (band z {x['bb_z_20']:+.2f}); P(up 5d)={p:.2f}"))
        else:
            out.append(_hold(sym, day, "mean_reversion", model.version, f"no band extreme; P(up 5d)={p:.2f}", x))
    return out


def mean_reversion_model(market: MarketView, registry: ModelRegistry, day: date, retrain_months: int,
                         train_years: int, horizon: int) -> TrainedModel:
    """The walk-forward model for ``day``: trained on data ending a purge gap before its retrain anchor."""
    sessions = market.sessions[market.sessions <= pd.Timestamp(day)]
    cutoff = cutoff_for(day, sessions, retrain_months=retrain_months, horizon_days=horizon)
    return registry.get_or_train(
        "mean_reversion", cutoff,
        lambda: train(market.panel, market.close[list(market.tradable)], cutoff, train_years=train_years,
                      horizon=horizon),
        version=version_for(cutoff, recipe(train_years, horizon)))


def make_agent_tools(market: MarketView, registry: ModelRegistry, retrain_months: int, train_years: int,
                     horizon: int) -> list[BaseTool]:
    """Build the agent tools bound to one market view and model registry."""

    models: dict[tuple[int, int], TrainedModel] = {}  # one model per retrain block (its cutoff is shared)

    def rows(day: date, symbols: list[str]) -> Rows:
        dicts = market.feature_dicts(day)
        return {s: dicts[s] for s in symbols if s in dicts}

    def _trend(as_of: date, symbols: list[str]) -> list[Proposal]:
        return trend_momentum(rows(as_of, symbols), as_of)

    def _ema(as_of: date, symbols: list[str]) -> list[Proposal]:
        return ema_crossover(rows(as_of, symbols), as_of)

    def _mr(as_of: date, symbols: list[str]) -> list[Proposal]:
        block = retrain_block(as_of, retrain_months)
        if block not in models:
            models[block] = mean_reversion_model(market, registry, as_of, retrain_months, train_years, horizon)
        return mean_reversion(rows(as_of, symbols), as_of, models[block])

    specs: list[tuple[str, Callable, str]] = [
        ("trend_momentum", _trend, "Trend/momentum agent: long established uptrends, close broken ones."),
        ("ema_crossover", _ema, "EMA crossover agent: EMA12/26 crosses confirmed by EMA50/200."),
        ("mean_reversion_lgbm", _mr, "Mean-reversion agent: walk-forward LightGBM P(up) at Bollinger extremes."),
    ]
    return [StructuredTool.from_function(func=f, name=n, description=d, args_schema=AgentArgs) for n, f, d in specs]


def agent_support(proposals: list[Proposal], symbol: str) -> float | None:
    """Share of agents not asking to close a long in ``symbol`` (None when no agent spoke on it)."""
    votes = [p for p in proposals if p.symbol == symbol]
    if not votes:
        return None
    return float(np.mean([0.0 if p.action == Action.CLOSE_LONG else 1.0 for p in votes]))
