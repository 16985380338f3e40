"""The agents as LangChain tools with typed argument schemas.

Each tool reads the cached feature panel for one date and returns one Proposal per symbol. Every threshold is fixed
a priori from a textbook reading of its indicator or a stated convention (the comment beside it says which); none was
chosen by looking at data, and none by looking at the hold-out from 2019 on.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

from models.mean_reversion import FEATURES as MR_FEATURES
from models.mean_reversion import TrainedModel, recipe, train, version_for
from models.registry import ModelRegistry
from models.walkforward import cutoff_for, retrain_block
from tools.contracts import Action, AgentStyle, Proposal
from tools.market import MarketView

TREND_VERSION = "trend-rules-v1"
EMA_VERSION = "ema-rules-v1"

# Trend / momentum (tools.features: trend_strength is the 63-session slope of log close over its standard error).
TREND_T_ENTRY = 2.0       # a slope t-statistic above 2: the conventional 5% significance level of a trend
TREND_T_EXIT = -1.0       # a slope one standard error below zero: the trend has more likely turned than not
SMA200_EXIT_BAND = -0.03  # close 3% under the SMA200: the usual envelope around a 200-day filter (Faber 2007's
#                           timing model uses the 10-month ~ 200-session average) so a touch is not a whipsaw
TREND_T_FULL = 8.0        # strength = t / 8: a scaling convention mapping t in (2, 8] onto (0.25, 1]
RS_CONFIDENCE_SLOPE = 2.0  # confidence 0.5 + 2 × relative strength: +25% over the benchmark in 63 sessions is full
# EMA crossover: 12/26 sessions are Appel's MACD convention, 50/200 the "golden cross" trend convention.
EMA_STRENGTH_BASE, EMA_STRENGTH_SLOPE, EMA_FRESH_BONUS = 0.4, 20.0, 0.3  # a 3% EMA gap is full strength; a fresh
EMA_CONFIDENCE_FRESH, EMA_CONFIDENCE_HELD = 0.7, 0.55                   # cross earns a bonus (scaling conventions)
EXIT_CONFIDENCE = 0.6     # a rule exit is a moderate-confidence opinion (convention; exits are never blocked)
# Mean reversion: act at one standard deviation outside the 20-session Bollinger mean (Bollinger's 20-day band, at
# 1σ rather than his 2σ so the model sees enough cases), and only with a five-point edge over a coin flip.
MR_P_BUY, MR_P_SELL, MR_BAND_Z = 0.55, 0.45, 1.0
# strength (P − 0.5) × 5 is full at P = 0.70, confidence 0.3 + 4·|P − 0.5| at 0.675 (scaling conventions).
# Protective stop: 2.5 ten-session sigmas below the close (about a 1% two-week tail for a normal move), kept between
# 4% (inside daily noise for a large cap) and 15% (beyond which the trailing stop governs) — a sizing convention.
STOP_SIGMAS, STOP_HORIZON, STOP_MIN, STOP_MAX, STOP_DEFAULT_VOL = 2.5, 10, 0.04, 0.15, 0.3


class AgentArgs(BaseModel):
    """Arguments every agent tool takes."""

    as_of: date = Field(description="decision date; the tool reads data up to this date only")
    symbols: list[str] = Field(description="symbols to assess")


def _stop(close: float, vol: float) -> float:
    """A protective stop STOP_SIGMAS ten-session sigmas below the close, between STOP_MIN and STOP_MAX away."""
    sigma = (vol if math.isfinite(vol) else STOP_DEFAULT_VOL) * math.sqrt(STOP_HORIZON / 252)
    return close * (1 - min(STOP_MAX, max(STOP_MIN, STOP_SIGMAS * sigma)))


def _hold(sym: str, day: date, agent: str, style: AgentStyle, version: str, why: str,
          inputs: dict[str, float]) -> Proposal:
    return Proposal(symbol=sym, as_of=day, action=Action.HOLD, strength=0, confidence=0, horizon_days=5,
                    agent=agent, style=style, model_version=version, inputs=inputs, rationale=why)


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
            out.append(_hold(sym, day, "trend", AgentStyle.TREND, TREND_VERSION,
                             "not enough history for trend features", x))
            continue
        if x["trend_strength"] > TREND_T_ENTRY and x["ret_126d"] > 0 and x["ret_63d"] > 0 and x["dist_sma200"] > 0:
            strength = min(1.0, x["trend_strength"] / TREND_T_FULL)
            confidence = min(1.0, 0.5 + max(0.0, x["rs_63d"]) * RS_CONFIDENCE_SLOPE)
            out.append(Proposal(
                symbol=sym, as_of=day, action=Action.BUY_LONG, strength=strength, confidence=confidence,
                horizon_days=21, stop=_stop(x["close"], x["vol_21d"]), agent="trend", style=AgentStyle.TREND,
                model_version=TREND_VERSION, inputs=x, rationale=f"uptrend t={x['trend_strength']:.1f}, 63d {x['ret_63d']:+.1%}, "
                                    f"{x['dist_sma200']:+.1%} above SMA200"))
        elif x["trend_strength"] < TREND_T_EXIT or x["dist_sma200"] < SMA200_EXIT_BAND:
            out.append(Proposal(
                symbol=sym, as_of=day, action=Action.CLOSE_LONG,
                strength=min(1.0, abs(x["trend_strength"]) / TREND_T_FULL), confidence=EXIT_CONFIDENCE,
                horizon_days=21, agent="trend", style=AgentStyle.TREND, model_version=TREND_VERSION, inputs=x,
                rationale=f"trend broken: t={x['trend_strength']:.1f}, {x['dist_sma200']:+.1%} vs SMA200"))
        else:
            out.append(_hold(sym, day, "trend", AgentStyle.TREND, TREND_VERSION, "no clear trend", x))
    return out


def ema_crossover(rows: Rows, day: date) -> list[Proposal]:
    """EMA12/26 crossovers, confirmed by the EMA50/200 trend."""
    out = []
    names = ("close", "ema_cross", "ema_cross_prev", "ema_trend", "vol_21d")
    for sym, r in rows.items():
        x = _inputs(r, names)
        if len(x) < len(names):
            out.append(_hold(sym, day, "ema", AgentStyle.TREND, EMA_VERSION, "not enough history for EMAs", x))
            continue
        fresh_up = x["ema_cross"] > 0 >= x["ema_cross_prev"]
        if x["ema_cross"] > 0 and x["ema_trend"] > 0:
            strength = min(1.0, EMA_STRENGTH_BASE + abs(x["ema_cross"]) * EMA_STRENGTH_SLOPE
                           + (EMA_FRESH_BONUS if fresh_up else 0))
            out.append(Proposal(
                symbol=sym, as_of=day, action=Action.BUY_LONG, strength=strength,
                confidence=EMA_CONFIDENCE_FRESH if fresh_up else EMA_CONFIDENCE_HELD, horizon_days=10,
                stop=_stop(x["close"], x["vol_21d"]), agent="ema", style=AgentStyle.TREND,
                model_version=EMA_VERSION, inputs=x,
                rationale=("fresh " if fresh_up else "") + f"EMA12>EMA26 ({x['ema_cross']:+.2%}) in an EMA50>200 trend"))
        elif x["ema_cross"] < 0 and x["ema_trend"] < 0:
            out.append(Proposal(
                symbol=sym, as_of=day, action=Action.CLOSE_LONG,
                strength=min(1.0, abs(x["ema_cross"]) * EMA_STRENGTH_SLOPE), confidence=EXIT_CONFIDENCE,
                horizon_days=10, agent="ema", style=AgentStyle.TREND, model_version=EMA_VERSION, inputs=x,
                rationale=f"EMA12<EMA26 ({x['ema_cross']:+.2%}) in an EMA50<200 trend"))
        else:
            out.append(_hold(sym, day, "ema", AgentStyle.TREND, EMA_VERSION, "EMAs not aligned", x))
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
            out.append(_hold(sym, day, "mean_reversion", AgentStyle.MEAN_REVERSION, model.version,
                             "features incomplete", x))
            continue
        p = float(probs[sym])
        x["p_up"] = round(p, 6)
        if p > MR_P_BUY and x["bb_z_20"] < -MR_BAND_Z:
            out.append(Proposal(
                symbol=sym, as_of=day, action=Action.BUY_LONG, strength=min(1.0, (p - 0.5) * 5),
                confidence=min(1.0, abs(p - 0.5) * 4 + 0.3), horizon_days=5, stop=_stop(x["close"], x["vol_21d"]),
                agent="mean_reversion", style=AgentStyle.MEAN_REVERSION, model_version=model.version, inputs=x,
                rationale=f"oversold (band z {x['bb_z_20']:+.2f}, RSI {x['rsi_14']:.0f}); P(up 5d)={p:.2f}"))
        elif p < MR_P_SELL and x["bb_z_20"] > MR_BAND_Z:
            out.append(Proposal(
                symbol=sym, as_of=day, action=Action.CLOSE_LONG, strength=min(1.0, (0.5 - p) * 5),
                confidence=min(1.0, abs(p - 0.5) * 4 + 0.3), horizon_days=5, agent="mean_reversion",
                style=AgentStyle.MEAN_REVERSION, model_version=model.version, inputs=x,
                rationale=f"overbought (band z {x['bb_z_20']:+.2f}); P(up 5d)={p:.2f}"))
        else:
            out.append(_hold(sym, day, "mean_reversion", AgentStyle.MEAN_REVERSION, model.version,
                             f"no band extreme; P(up 5d)={p:.2f}", x))
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


@dataclass(frozen=True)
class ModelReady:
    """A walk-forward model an agent needs on a date: loaded from the registry or trained now."""

    name: str
    version: str
    cutoff: date
    trained: bool
    seconds: float


class AgentToolkit:
    """The agent tools bound to one market view and model registry, and the models they need on a date."""

    def __init__(self, market: MarketView, registry: ModelRegistry, retrain_months: int, train_years: int,
                 horizon: int) -> None:
        self.market, self.registry = market, registry
        self.retrain_months, self.train_years, self.horizon = retrain_months, train_years, horizon
        self._models: dict[tuple[int, int], TrainedModel] = {}  # one model per retrain block (its cutoff is shared)
        specs: list[tuple[str, Callable, str]] = [
            ("trend_momentum", self._trend, "Trend/momentum agent: long established uptrends, close broken ones."),
            ("ema_crossover", self._ema, "EMA crossover agent: EMA12/26 crosses confirmed by EMA50/200."),
            ("mean_reversion_lgbm", self._mr,
             "Mean-reversion agent: walk-forward LightGBM P(up) at Bollinger extremes."),
        ]
        self.tools: tuple[BaseTool, ...] = tuple(
            StructuredTool.from_function(func=f, name=n, description=d, args_schema=AgentArgs) for n, f, d in specs)

    def prepare(self, day: date) -> list[ModelReady]:
        """Make sure every model the agents use on ``day`` is trained (or loaded); say which and how."""
        block = retrain_block(day, self.retrain_months)
        t0 = time.perf_counter()
        known = block in self._models
        if not known:
            cutoff = self._cutoff(day)
            known = self.registry.has("mean_reversion", cutoff, version_for(cutoff, recipe(self.train_years,
                                                                                              self.horizon)))
        model = self._model(day)
        return [ModelReady(name="mean_reversion", version=model.version, cutoff=model.cutoff, trained=not known,
                           seconds=time.perf_counter() - t0)]

    def check(self, day: date) -> None:
        """Read every saved model the agents would use on ``day`` (training nothing), so a damaged model file is
        found before a run starts; raises models.registry.ModelFileError naming it."""
        self.registry.saved("mean_reversion", self._cutoff(day))

    def _cutoff(self, day: date) -> date:
        sessions = self.market.sessions[self.market.sessions <= pd.Timestamp(day)]
        return cutoff_for(day, sessions, retrain_months=self.retrain_months, horizon_days=self.horizon)

    def _model(self, day: date) -> TrainedModel:
        block = retrain_block(day, self.retrain_months)
        if block not in self._models:
            self._models[block] = mean_reversion_model(self.market, self.registry, day, self.retrain_months,
                                                       self.train_years, self.horizon)
        return self._models[block]

    def _rows(self, day: date, symbols: list[str]) -> Rows:
        dicts = self.market.feature_dicts(day)
        return {s: dicts[s] for s in symbols if s in dicts}

    def _trend(self, as_of: date, symbols: list[str]) -> list[Proposal]:
        return trend_momentum(self._rows(as_of, symbols), as_of)

    def _ema(self, as_of: date, symbols: list[str]) -> list[Proposal]:
        return ema_crossover(self._rows(as_of, symbols), as_of)

    def _mr(self, as_of: date, symbols: list[str]) -> list[Proposal]:
        return mean_reversion(self._rows(as_of, symbols), as_of, self._model(as_of))


def agent_support(proposals: list[Proposal], symbol: str) -> float | None:
    """Share of agents not asking to close a long in ``symbol`` (None when no agent spoke on it)."""
    votes = [p for p in proposals if p.symbol == symbol]
    if not votes:
        return None
    return float(np.mean([0.0 if p.action == Action.CLOSE_LONG else 1.0 for p in votes]))
