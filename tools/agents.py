"""The agents as LangChain tools with typed argument schemas.

Each tool reads the cached feature panel for one date and returns one Proposal per symbol. Every threshold is fixed
a priori from a textbook reading of its indicator or a stated convention (the comment beside it says which); none was
chosen by looking at data, and none by looking at the hold-out from 2019 on.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

import numpy as np
from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

from models.api import SymbolsArgs
from models.mean_reversion import FEATURES as MR_FEATURES
from models.registry import ModelRegistry
from tools.features import EMA_FEATURES, EMA_SPANS
from tools.market import MarketView
from tools.model_tools import ModelReady, ModelTools
from vocab.contracts import Proposal
from vocab.terms import Action, AgentStyle

TREND_VERSION = "trend-rules-v1"
EMA_VERSION = "ema-rules-v1"

# Trend / momentum (tools.features: trend_strength is the 63-session slope of log close over its standard error).
TREND_T_ENTRY = 2.0       # a slope t-statistic above 2: the conventional 5% significance level of a trend
TREND_T_EXIT = -1.0       # a slope one standard error below zero: the trend has more likely turned than not
SMA200_EXIT_BAND = -0.03  # close 3% under the SMA200: the usual envelope around a 200-day filter (Faber 2007's
#                           timing model uses the 10-month ~ 200-session average) so a touch is not a whipsaw
TREND_T_FULL = 8.0        # strength = t / 8: a scaling convention mapping t in (2, 8] onto (0.25, 1]
RS_CONFIDENCE_SLOPE = 2.0  # confidence 0.5 + 2 × relative strength: +25% over the benchmark in 63 sessions is full
# EMA crossover: 12/26 sessions are Appel's MACD convention, 50/200 the "golden cross" trend convention (the
# defaults of settings.agents; `desk tune` may adopt others, found on folds before 2019).
EMA_STRENGTH_BASE, EMA_STRENGTH_SLOPE, EMA_FRESH_BONUS = 0.4, 20.0, 0.3  # a 3% EMA gap is full strength; a fresh
EMA_CONFIDENCE_FRESH, EMA_CONFIDENCE_HELD = 0.7, 0.55                   # cross earns a bonus (scaling conventions)
EXIT_CONFIDENCE = 0.6     # a rule exit is a moderate-confidence opinion (convention; exits are never blocked)
# Mean reversion: act at one standard deviation outside the 20-session Bollinger mean (Bollinger's 20-day band, at
# 1σ rather than his 2σ so the model sees enough cases), and only with a five-point edge over a coin flip.
MR_P_BUY, MR_P_SELL, MR_BAND_Z = 0.55, 0.45, 1.0
# The direction model beside the trend rules: it confirms at a five-point edge over a coin flip, disagrees at five
# points under, and a disagreement halves the trend long's confidence (conventions, not fitted).
DIRECTION_CONFIRMS, DIRECTION_DISAGREES, DIRECTION_DISSENT_FACTOR = 0.55, 0.45, 0.5
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


def _target(close: float, drawdown_252d: float | None) -> float | None:
    """The agents' price target for a long: the prior 252-session high (close / (1 + drawdown)), when the close is
    below it — recovering the prior high is the setup's reward; at the high there is no stated target."""
    if drawdown_252d is None or not math.isfinite(drawdown_252d) or drawdown_252d >= 0 or drawdown_252d <= -1:
        return None
    return close / (1.0 + drawdown_252d)


def _hold(sym: str, day: date, agent: str, style: AgentStyle, version: str, why: str,
          inputs: dict[str, float]) -> Proposal:
    return Proposal(symbol=sym, as_of=day, action=Action.HOLD, strength=0, confidence=0, horizon_days=5,
                    agent=agent, style=style, model_version=version, inputs=inputs, rationale=why)


def _inputs(row: dict[str, float], names: tuple[str, ...]) -> dict[str, float]:
    return {n: round(row[n], 6) for n in names if n in row}


Rows = dict[str, dict[str, float]]  # symbol -> feature name -> value (NaN features absent)


def trend_momentum(rows: Rows, day: date, direction: Mapping[str, float | None] | None = None,
                   direction_version: str | None = None) -> list[Proposal]:
    """Long established uptrends with relative strength; close longs whose trend has broken.

    With a usable direction model (``direction``: symbol -> P(close higher in 21 sessions)), each long says whether
    the model confirms it, is neutral, or disagrees — and a disagreeing model halves its confidence: the momentum
    rules drive the proposal, the model only weighs on it."""
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
            why = (f"uptrend t={x['trend_strength']:.1f}, 63d {x['ret_63d']:+.1%}, {x['dist_sma200']:+.1%} above "
                   f"SMA200")
            version = TREND_VERSION
            p_up = None if direction is None else direction.get(sym)
            if p_up is not None:
                x["p_up_21d"] = round(p_up, 6)
                version = f"{TREND_VERSION}+{direction_version}"
                if p_up >= DIRECTION_CONFIRMS:
                    why += f"; driven by the momentum rules, confirmed by the direction model (P(up 21d)={p_up:.2f})"
                elif p_up < DIRECTION_DISAGREES:
                    confidence *= DIRECTION_DISSENT_FACTOR
                    why += (f"; driven by the momentum rules against the direction model (P(up 21d)={p_up:.2f}): "
                            f"confidence x{DIRECTION_DISSENT_FACTOR:g}")
                else:
                    why += f"; driven by the momentum rules, the direction model neutral (P(up 21d)={p_up:.2f})"
            out.append(Proposal(
                symbol=sym, as_of=day, action=Action.BUY_LONG, strength=strength, confidence=confidence,
                horizon_days=21, stop=_stop(x["close"], x["vol_21d"]),
                target=_target(x["close"], r.get("drawdown_252d")), agent="trend", style=AgentStyle.TREND,
                model_version=version, inputs=x, rationale=why))

        elif x["trend_strength"] < TREND_T_EXIT or x["dist_sma200"] < SMA200_EXIT_BAND:
            out.append(Proposal(
                symbol=sym, as_of=day, action=Action.CLOSE_LONG,
                strength=min(1.0, abs(x["trend_strength"]) / TREND_T_FULL), confidence=EXIT_CONFIDENCE,
                horizon_days=21, agent="trend", style=AgentStyle.TREND, model_version=TREND_VERSION, inputs=x,
                rationale=f"trend broken: t={x['trend_strength']:.1f}, {x['dist_sma200']:+.1%} vs SMA200"))
        else:
            out.append(_hold(sym, day, "trend", AgentStyle.TREND, TREND_VERSION, "no clear trend", x))
    return out


def ema_crossover(rows: Rows, day: date, spans: tuple[int, int, int, int] = EMA_SPANS) -> list[Proposal]:
    """EMA fast/slow crossovers (12/26 by default), confirmed by the EMA trend (50/200); ``rows`` carry the EMA
    features for ``spans`` (``AgentToolkit`` swaps them in when the configured spans are not the panel's)."""
    fast, slow, trend_fast, trend_slow = spans
    version = EMA_VERSION if spans == EMA_SPANS else f"{EMA_VERSION}@{fast}-{slow}-{trend_fast}-{trend_slow}"
    out = []
    names = ("close", "ema_cross", "ema_cross_prev", "ema_trend", "vol_21d")
    for sym, r in rows.items():
        x = _inputs(r, names)
        if len(x) < len(names):
            out.append(_hold(sym, day, "ema", AgentStyle.TREND, version, "not enough history for EMAs", x))
            continue
        fresh_up = x["ema_cross"] > 0 >= x["ema_cross_prev"]
        if x["ema_cross"] > 0 and x["ema_trend"] > 0:
            strength = min(1.0, EMA_STRENGTH_BASE + abs(x["ema_cross"]) * EMA_STRENGTH_SLOPE
                           + (EMA_FRESH_BONUS if fresh_up else 0))
            out.append(Proposal(
                symbol=sym, as_of=day, action=Action.BUY_LONG, strength=strength,
                confidence=EMA_CONFIDENCE_FRESH if fresh_up else EMA_CONFIDENCE_HELD, horizon_days=10,
                stop=_stop(x["close"], x["vol_21d"]), target=_target(x["close"], r.get("drawdown_252d")),
                agent="ema", style=AgentStyle.TREND,
                model_version=version, inputs=x,
                rationale=("fresh " if fresh_up else "") + f"EMA{fast}>EMA{slow} ({x['ema_cross']:+.2%}) in an "
                          f"EMA{trend_fast}>{trend_slow} trend"))
        elif x["ema_cross"] < 0 and x["ema_trend"] < 0:
            out.append(Proposal(
                symbol=sym, as_of=day, action=Action.CLOSE_LONG,
                strength=min(1.0, abs(x["ema_cross"]) * EMA_STRENGTH_SLOPE), confidence=EXIT_CONFIDENCE,
                horizon_days=10, agent="ema", style=AgentStyle.TREND, model_version=version, inputs=x,
                rationale=f"EMA{fast}<EMA{slow} ({x['ema_cross']:+.2%}) in an EMA{trend_fast}<{trend_slow} trend"))
        else:
            out.append(_hold(sym, day, "ema", AgentStyle.TREND, version, "EMAs not aligned", x))
    return out


def mean_reversion(rows: Rows, day: date, p_up: Mapping[str, float | None], version: str) -> list[Proposal]:
    """The walk-forward LightGBM's P(up over 5 sessions) (``p_up``), acted on only at band extremes."""
    out = []
    for sym, r in rows.items():
        x = _inputs(r, (*MR_FEATURES, "close"))
        p = p_up.get(sym)
        if p is None or len(x) < len(MR_FEATURES) + 1:
            out.append(_hold(sym, day, "mean_reversion", AgentStyle.MEAN_REVERSION, version, "features incomplete", x))
            continue
        x["p_up"] = round(p, 6)
        if p > MR_P_BUY and x["bb_z_20"] < -MR_BAND_Z:
            out.append(Proposal(
                symbol=sym, as_of=day, action=Action.BUY_LONG, strength=min(1.0, (p - 0.5) * 5),
                confidence=min(1.0, abs(p - 0.5) * 4 + 0.3), horizon_days=5, stop=_stop(x["close"], x["vol_21d"]),
                target=_target(x["close"], r.get("drawdown_252d")), agent="mean_reversion",
                style=AgentStyle.MEAN_REVERSION, model_version=version, inputs=x,
                rationale=f"oversold (band z {x['bb_z_20']:+.2f}, RSI {x['rsi_14']:.0f}); P(up 5d)={p:.2f}"))
        elif p < MR_P_SELL and x["bb_z_20"] > MR_BAND_Z:
            out.append(Proposal(
                symbol=sym, as_of=day, action=Action.CLOSE_LONG, strength=min(1.0, (0.5 - p) * 5),
                confidence=min(1.0, abs(p - 0.5) * 4 + 0.3), horizon_days=5, agent="mean_reversion",
                style=AgentStyle.MEAN_REVERSION, model_version=version, inputs=x,
                rationale=f"overbought (band z {x['bb_z_20']:+.2f}); P(up 5d)={p:.2f}"))
        else:
            out.append(_hold(sym, day, "mean_reversion", AgentStyle.MEAN_REVERSION, version,
                             f"no band extreme; P(up 5d)={p:.2f}", x))
    return out


def out_of_decisions(rows: Rows, day: date, agent: str, style: AgentStyle, why: str) -> list[Proposal]:
    """An agent whose model is not usable on ``day`` holds every symbol and says why (it never guesses)."""
    return [_hold(sym, day, agent, style, "none", why, {}) for sym in rows]


class AgentToolkit:
    """The agent tools over one market view, and the model tools they call (``models``)."""

    def __init__(self, market: MarketView, registry: ModelRegistry, retrain_months: int, train_years: int,
                 horizon: int, train_in_run: tuple[str, ...] = ("mean_reversion",),
                 models: ModelTools | None = None, ema_spans: tuple[int, int, int, int] = EMA_SPANS) -> None:
        self.market, self.ema_spans = market, tuple(ema_spans)
        self.models = models or ModelTools(market, registry, retrain_months, train_in_run,
                                           recipes={"mean_reversion": {"train_years": train_years, "horizon": horizon}})
        specs: list[tuple[str, Callable, str]] = [
            ("trend_momentum", self._trend,
             "Trend/momentum agent: long established uptrends, close broken ones; weighs the direction model."),
            ("ema_crossover", self._ema, "EMA crossover agent: fast/slow EMA crosses (12/26 unless tuned) confirmed "
                                         "by the EMA trend (50/200 unless tuned)."),
            ("mean_reversion_lgbm", self._mr,
             "Mean-reversion agent: walk-forward LightGBM P(up) at Bollinger extremes."),
        ]
        self.tools: tuple[BaseTool, ...] = tuple(
            StructuredTool.from_function(func=f, name=n, description=d, args_schema=AgentArgs) for n, f, d in specs)

    @classmethod
    def from_config(cls, config: Any, market: MarketView, registry: ModelRegistry, **kwargs: Any) -> AgentToolkit:
        """The toolkit a desk configuration describes (its model recipes and the agents' lookbacks)."""
        m = config.models
        kwargs.setdefault("train_in_run", tuple(m.train_in_run))
        return cls(market, registry, m.retrain_months, m.train_years, m.horizon_days,
                   ema_spans=config.agents.ema_spans, **kwargs)

    def prepare(self, day: date) -> list[ModelReady]:
        """Train what this run trains for itself (walk-forward, gated); say which models are usable on ``day``."""
        return self.models.prepare(day)

    def check(self, day: date) -> None:
        """Read every saved model a run would use on ``day``: a damaged file is refused before the run starts."""
        self.models.check(day)

    def _rows(self, day: date, symbols: list[str]) -> Rows:
        dicts = self.market.feature_dicts(day)
        return {s: dicts[s] for s in symbols if s in dicts}

    def _scores(self, name: str, day: date, symbols: list[str]) -> tuple[dict[str, float | None], str] | None:
        if not symbols or not self.models.availability(name, day).usable:
            return None
        fn = self.models.direction if name == "direction" else self.models.mean_reversion
        result = fn(SymbolsArgs(as_of=day, symbols=symbols))
        return {s.symbol: s.p_up for s in result.scores}, result.model_version

    def _trend(self, as_of: date, symbols: list[str]) -> list[Proposal]:
        rows = self._rows(as_of, symbols)
        scored = self._scores("direction", as_of, list(rows))
        return trend_momentum(rows, as_of, *(scored or (None, None)))

    def _ema(self, as_of: date, symbols: list[str]) -> list[Proposal]:
        rows = self._rows(as_of, symbols)
        if self.ema_spans != EMA_SPANS:   # other lookbacks than the panel's: their EMA features in its place
            ema = self.market.ema_rows(as_of, self.ema_spans)
            rows = {s: {**{k: v for k, v in r.items() if k not in EMA_FEATURES}, **ema.get(s, {})}
                    for s, r in rows.items()}
        return ema_crossover(rows, as_of, self.ema_spans)

    def _mr(self, as_of: date, symbols: list[str]) -> list[Proposal]:
        rows = self._rows(as_of, symbols)
        scored = self._scores("mean_reversion", as_of, list(rows))
        if scored is None:
            why = self.models.availability("mean_reversion", as_of).reason
            return out_of_decisions(rows, as_of, "mean_reversion", AgentStyle.MEAN_REVERSION,
                                    f"out of tonight's decisions: {why}")
        return mean_reversion(rows, as_of, *scored)


def agent_support(proposals: list[Proposal], symbol: str) -> float | None:
    """Share of agents not asking to close a long in ``symbol`` (None when no agent spoke on it)."""
    votes = [p for p in proposals if p.symbol == symbol]
    if not votes:
        return None
    return float(np.mean([0.0 if p.action == Action.CLOSE_LONG else 1.0 for p in votes]))
