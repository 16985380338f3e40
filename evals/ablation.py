"""Ablations: the same graphs with one part not allowed to decide, so an eval can say what that part is worth.

| spec | the desk without … |
| --- | --- |
| ``overlay`` | the per-proposal overlay: every proposal confirmed at full size (ML only) |
| ``risk`` | the book-level risk reviewer: every entry passes it (the hard rules still have the last word) |
| ``weather`` | the weather: every layer unavailable, no expert signals, no nudge; the regime pinned to the most permissive (``calm_uptrend``) with sizing modifier and throttle 1 — the weather can only restrain, so without it nothing restrains |
| ``agent:NAME`` | one agent (trend, ema, mean_reversion): its tool is not called |
| ``only:NAME`` | every agent but NAME: that agent alone |
| ``model:NAME`` | one model (regime, health, direction, mean_reversion): reported not usable, so it never decides |
| ``candidate:NAME`` | the model's promotion gate: NAME decides with the versions of the case's own recipe (``models`` settings), promoted or not — a candidate model version compared offline, never in a live run |
| ``trust`` | the agents' trust weights: every agent weighs 1 (``trust.mode = equal``), not its Thompson draw |
| ``kelly`` | Kelly sizing, and the RL tiers above it: every entry at the base weight (``sizing.mode = fixed``), the tier below |
| ``rl`` | the RL sizer: Kelly sizes every entry (``sizing.mode = kelly``), the tier below |
| ``budget`` | the book's risk budget: the entries keep their cascade sizes (``sizing.budget = off``) |
| ``tiers`` | the profit tiers: no trims at 1R … 8R (``risk.profit_tiers = []``) |
| ``exits`` | the trailing exits: a holding's stop stays its initial stop (``risk.trailing_exits = false``) |
| ``moonshot`` | the moonshot track (``moonshot.enabled = false``) |

Every ablated decision says so in its reason, so the replay's record tells an ablated run from a real one: the
provider's answers say "ablated", and a switched setting's step says which layer its summary runs without.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from langgraph.runtime import Runtime
from pydantic import BaseModel, ConfigDict

from graph.build import build_graph
from graph.config import DeskConfig
from graph.context import DeskContext
from graph.errors import DeskError
from graph.morning import build_morning
from graph.night import NIGHT_NODES
from graph.providers.base import ENTRY_ACTIONS, BookEntry, BookSummary, OverlayProvider
from graph.state import NightState
from models.api import ModelAvailability
from models.catalog import entry
from models.registry import ModelRegistry
from models.snapshot import RegistrySnapshot
from tools.agents import AgentToolkit
from tools.market import MarketView
from tools.model_tools import MODELS, ModelReady, ModelTools
from vocab.contracts import (WEATHER_LAYERS, BookReview, LayerReading, Proposal, Provenance, Verdict, WeatherSnapshot,
                             WeatherView)
from vocab.terms import Regime

AGENT_TOOLS: Mapping[str, str] = {"trend": "trend_momentum", "ema": "ema_crossover",
                                  "mean_reversion": "mean_reversion_lgbm"}
WHOLE = ("overlay", "risk", "weather")
# The layers an ablation switches off through a setting of the desk's own (the nodes stay in the graph and read it):
# spec -> (the node whose step says so, what it runs without).
SWITCHES: Mapping[str, tuple[str, str]] = {
    "trust": ("trust", "trust ablated: equal agent weights, no Thompson draw"),
    "kelly": ("sizing", "Kelly ablated: the base weight sizes every entry"),
    "rl": ("sizing", "RL sizer ablated: Kelly sizes every entry"),
    "budget": ("sizing", "risk budget ablated: the entries keep their cascade sizes"),
    "tiers": ("exits", "profit tiers ablated: no trims"),
    "exits": ("exits", "trailing exits ablated: stops stay at the initial stop"),
    "moonshot": ("moonshot", "moonshot track ablated"),
}
PERMISSIVE = Regime.CALM_UPTREND


def _none() -> Provenance:
    return Provenance(provider="ablated", model="none", prompt_version="none", latency_ms=0.0)


class Ablation(BaseModel):
    """What one eval case takes out of the desk (nothing: the desk as configured)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    overlay: bool = False
    risk: bool = False
    weather: bool = False
    agents_out: tuple[str, ...] = ()
    agents_only: tuple[str, ...] = ()
    models_out: tuple[str, ...] = ()
    candidates: tuple[str, ...] = ()
    switched: tuple[str, ...] = ()

    @classmethod
    def parse(cls, specs: Sequence[str]) -> Ablation:
        """``["overlay", "model:direction"]`` → an Ablation; a bad spec is a one-line DeskError with a hint."""
        fields: dict[str, Any] = {"agents_out": [], "agents_only": [], "models_out": [], "candidates": [],
                                  "switched": []}
        for raw in specs:
            spec = raw.strip().lower()
            kind, _, name = spec.partition(":")
            if not name and kind in WHOLE:
                fields[kind] = True
            elif not name and kind in SWITCHES:
                fields["switched"].append(kind)
            elif kind in ("agent", "only") and name:
                fields["agents_out" if kind == "agent" else "agents_only"].append(_known(name, AGENT_TOOLS, kind))
            elif kind in ("model", "candidate") and name:
                fields["models_out" if kind == "model" else "candidates"].append(_known(name, MODELS, kind))
            else:
                known = [*WHOLE, *SWITCHES, "agent:", "only:", "model:", "candidate:"]
                hint = difflib.get_close_matches(spec, known, n=1)
                more = f" (did you mean {hint[0]!r}?)" if hint else ""
                raise DeskError(f"unknown ablation {raw!r}{more}: use {', '.join([*WHOLE, *SWITCHES])}, "
                                f"agent:NAME, only:NAME, model:NAME or candidate:NAME")
        out = cls(**{k: tuple(sorted(set(v))) if isinstance(v, list) else v for k, v in fields.items()})
        if not out.agents_kept:
            raise DeskError(f"ablation {', '.join(specs)} leaves no agent to decide: keep at least one of "
                            f"{', '.join(AGENT_TOOLS)}")
        return out

    # ------------------------------------------------------------------ what it is called
    @property
    def label(self) -> str:
        parts = [k for k in WHOLE if getattr(self, k)] + [k for k in SWITCHES if k in self.switched]
        parts += [f"agent:{a}" for a in self.agents_out] + [f"only:{a}" for a in self.agents_only]
        parts += [f"model:{m}" for m in self.models_out] + [f"candidate:{m}" for m in self.candidates]
        return "+".join(parts) or "desk"

    @property
    def specs(self) -> list[str]:
        return [] if self.label == "desk" else self.label.split("+")

    @property
    def agents_kept(self) -> tuple[str, ...]:
        kept = self.agents_only or tuple(AGENT_TOOLS)
        return tuple(a for a in kept if a not in self.agents_out)

    # ------------------------------------------------------------------ the parts a replay assembles
    def configure(self, config: DeskConfig) -> DeskConfig:
        """The desk's configuration with the switched layers off (the same settings an operator would set)."""
        if not self.switched:
            return config
        on = set(self.switched)
        sizing = config.sizing
        if "kelly" in on:
            sizing = sizing.model_copy(update={"mode": "fixed"})
        elif "rl" in on and sizing.mode in ("cascade", "rl"):
            sizing = sizing.model_copy(update={"mode": "kelly"})
        if "budget" in on:
            sizing = sizing.model_copy(update={"budget": "off"})
        risk = config.risk
        if "tiers" in on:
            risk = risk.model_copy(update={"profit_tiers": (), "tier_trails": ()})
        if "exits" in on:
            risk = risk.model_copy(update={"trailing_exits": False})
        return config.model_copy(update={
            "sizing": sizing, "risk": risk,
            "trust": config.trust.model_copy(update={"mode": "equal"}) if "trust" in on else config.trust,
            "moonshot": config.moonshot.model_copy(update={"enabled": False}) if "moonshot" in on
            else config.moonshot})

    def provider(self, provider: OverlayProvider) -> OverlayProvider:
        if not (self.overlay or self.risk or self.weather):
            return provider
        return AblatedProvider(provider, overlay=self.overlay, risk=self.risk, weather=self.weather)

    def toolkit(self, config: DeskConfig, market: MarketView, registry: ModelRegistry) -> AgentToolkit | None:
        if not (self.agents_out or self.agents_only or self.models_out or self.candidates):
            return None
        m = config.models
        train = tuple(n for n in m.train_in_run if n not in self.models_out)
        models = AblatedModels(market, registry, m.retrain_months, train,
                               recipes={"mean_reversion": {"train_years": m.train_years, "horizon": m.horizon_days}},
                               out=self.models_out, candidates=self.candidates)
        return AblatedToolkit.from_config(config, market, registry, train_in_run=train, models=models,
                                          keep=self.agents_kept)

    def builders(self) -> dict[str, Any] | None:
        if not (self.weather or self.switched):
            return None
        notes: dict[str, list[str]] = {}
        for spec in self.switched:
            node, note = SWITCHES[spec]
            notes.setdefault(node, []).append(note)
        nodes = tuple((name, said(weather_ablated if self.weather and name == "weather" else fn, notes.get(name)))
                      for name, fn in NIGHT_NODES)
        return {"night": lambda checkpointer=None: build_graph(NightState, nodes, checkpointer=checkpointer),
                "morning": build_morning}


def said(fn: Any, notes: Sequence[str] | None) -> Any:
    """``fn`` whose step summary begins with what it runs without (``fn`` itself when nothing is switched)."""
    if not notes:
        return fn
    prefix = "; ".join(notes)

    def node(state: NightState, runtime: Runtime[DeskContext]) -> dict:
        out = fn(state, runtime)
        return {**out, "summary": f"{prefix}: {out.get('summary', '')}"}

    node.__name__ = getattr(fn, "__name__", "node")
    return node


def _known(name: str, known: Sequence[str] | Mapping[str, str], kind: str) -> str:
    if name in known:
        return name
    hint = difflib.get_close_matches(name, list(known), n=1)
    more = f" (did you mean {kind}:{hint[0]}?)" if hint else ""
    raise DeskError(f"unknown {'agent' if kind in ('agent', 'only') else 'model'} {name!r} in ablation {kind}:{name}{more}; "
                    f"known: {', '.join(known)}")


class AblatedProvider:
    """The desk's provider with some of its answers replaced by pass-through ones that say they are ablated."""

    def __init__(self, inner: OverlayProvider, *, overlay: bool, risk: bool, weather: bool) -> None:
        self.inner, self.overlay, self.risk, self.without_weather = inner, overlay, risk, weather
        self.name = f"{inner.name}-ablated"
        if not overlay and hasattr(inner, "review_all"):
            self.review_all = inner.review_all  # the batch call stays one call per night

    def weather(self, snapshot: WeatherSnapshot) -> WeatherView:
        if not self.without_weather:
            return self.inner.weather(snapshot)
        return WeatherView(narrative="weather ablated: no reading", regime_nudge=0,
                           reason="weather ablated: no nudge", provenance=_none())

    def review(self, proposal: Proposal, snapshot: WeatherSnapshot, features: Mapping[str, float]) -> Verdict:
        if not self.overlay:
            return self.inner.review(proposal, snapshot, features)
        what = "entry" if proposal.action in ENTRY_ACTIONS else proposal.action.value
        return Verdict(proposal_key=proposal.key, decision="confirm", reason=f"overlay ablated: {what} confirmed "
                       f"as the models proposed it (ML only)", provenance=_none())

    def review_book(self, entries: Sequence[BookEntry], snapshot: WeatherSnapshot, book: BookSummary) -> BookReview:
        if not self.risk:
            return self.inner.review_book(entries, snapshot, book)
        return BookReview(summary="risk reviewer ablated: every entry passes it", provenance=_none())


def weather_ablated(state: NightState, runtime: Runtime[DeskContext]) -> dict:
    """The weather step of a desk without weather: nothing read, nothing restrained."""
    day: date = state["as_of"]
    layers = {n: LayerReading(state=None, score=None, available=False, source="ablated") for n in WEATHER_LAYERS}
    snap = WeatherSnapshot(as_of=day, regime=PERMISSIVE, base_regime=PERMISSIVE, sizing_modifier=1.0,
                           risk_throttle=1.0, layers=layers, experts={},
                           notes=[f"weather ablated: regime pinned to {PERMISSIVE}, nothing restrained"])
    return {"weather": snap, "regime": snap.regime, "summary": f"weather ablated: regime pinned to {PERMISSIVE}"}


class AblatedModels(ModelTools):
    """The model tools with some models never usable: the agents that need them stay out, and say why."""

    def __init__(self, *args: Any, out: Sequence[str], candidates: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.out, self.candidates = frozenset(out), frozenset(candidates)
        self._pin()

    def _pin(self) -> None:
        """For each candidate model, keep only the versions of the configured recipe, each usable whatever its
        promotion said (and saying so); the look-ahead gap still holds."""
        if not self.candidates:
            return
        rows = []
        for row in self._snapshot.rows:
            name = row["name"]
            if name in self.candidates:
                if entry(name).version(date.fromisoformat(row["cutoff"]), self.recipe(name)) != row["version"]:
                    continue
                if row.get("status") != "promoted":
                    row = {**row, "status": "promoted", "reason": f"candidate ({row.get('status', 'undecided')}), "
                                                               f"offline eval only: {row.get('reason', '')}"}
            rows.append(row)
        self._snapshot, self._services = RegistrySnapshot(rows=tuple(rows)), {}

    def prepare(self, day: date) -> list[ModelReady]:
        ready = super().prepare(day)
        self._pin()
        return ready

    def availability(self, name: str, day: date) -> ModelAvailability:
        if name in self.out:
            return ModelAvailability(model=name, as_of=day, usable=False, model_version=None, cutoff=None,
                                     reason=f"ablated: {name} does not decide in this eval")
        return super().availability(name, day)


class AblatedToolkit(AgentToolkit):
    """The agent tools of the kept agents only."""

    def __init__(self, *args: Any, keep: Sequence[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        wanted = {AGENT_TOOLS[a] for a in keep}
        self.tools = tuple(t for t in self.tools if t.name in wanted)
