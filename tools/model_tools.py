"""The trained models as LangChain tools, and the walk-forward training a run does for itself.

Each model's inference (``models.api.ModelService``) is a ``StructuredTool`` with its typed pydantic arguments; a
night's nodes call them and record every call. Only *promoted* versions are ever used (a model that did not beat
its naive baseline out of sample is never promoted), and only one whose training window ends before the decision
date minus its label horizon (models.snapshot): a model that is not usable on a date is reported with the reason,
and the agent that needs it stays out of that night's decisions.

``train_in_run`` names the models a run trains walk-forward for itself when its retrain block has none (by default
the LightGBM mean reversion, a second's work); the deep models are trained by ``desk train`` (or by a replay that
lists them), each decision gated by the registry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
from langchain_core.tools import BaseTool, StructuredTool

from models.api import (AsOfArgs, DirectionResult, GarchResult, HealthResult, ModelAvailability, ModelService,
                        RegimeResult, SizeArgs, SizeResult, SymbolsArgs, VolStateResult)
from models.catalog import CATALOG, entry
from models.inputs import ModelInputs
from models.registry import ModelRegistry
from models.snapshot import calendar
from models.walkforward import cutoff_for, retrain_block
from tools.market import MarketView

MODELS: tuple[str, ...] = tuple(CATALOG)
# Sessions of history an inference on one date reads at most: a 21-session sequence over features scaled by a
# 63-session volatility, with ample room. A run that only infers builds its model inputs over this window (a second
# instead of the whole history's 0.4 s); a replay, which also trains, builds them once over everything.
INFERENCE_WINDOW = 300


@dataclass(frozen=True)
class ModelReady:
    """A model an agent needs on a date: its usable version (or why there is none), and whether it was trained now."""

    name: str
    version: str | None
    cutoff: date | None
    trained: bool
    seconds: float
    status: str
    reason: str


class ModelTools:
    """The models of one market view and registry: their tools, their availability, their in-run training."""

    def __init__(self, market: MarketView, registry: ModelRegistry, retrain_months: int,
                 train_in_run: Sequence[str] = ("mean_reversion",),
                 recipes: dict[str, dict[str, Any]] | None = None) -> None:
        self.market, self.registry, self.retrain_months = market, registry, retrain_months
        self.train_in_run = tuple(train_in_run)
        self.recipes = recipes or {}
        self._inputs: ModelInputs | None = None
        self._window: tuple[date, ModelInputs] | None = None
        self._services: dict[int, ModelService] = {}
        self._snapshot = registry.snapshot()
        self._availability: dict[tuple[str, date], ModelAvailability] = {}  # of self._snapshot
        self._calendar = calendar(market.sessions)
        self._trained: dict[tuple[str, tuple[int, int]], tuple[str, str, float, bool]] = {}
        specs: list[tuple[str, Callable, type, str]] = [
            ("regime_ensemble", self.regime, AsOfArgs,
             "GRU + Transformer regime ensemble: next-21-session regime probabilities and their disagreement"),
            ("asset_health", self.health, SymbolsArgs,
             "Autoencoder asset health per symbol: score 0-1, volatility bucket, behaviour"),
            ("direction_cfc", self.direction, SymbolsArgs,
             "Dense + CfC (AutoNCP) direction network: P(close higher in 21 sessions) per symbol"),
            ("mean_reversion_p_up", self.mean_reversion, SymbolsArgs,
             "Walk-forward LightGBM: P(close higher in 5 sessions) per symbol"),
            ("volatility_state", self.vol_state, AsOfArgs,
             "Gaussian HMM on the index: filtered volatility state (bull, neutral, bear, crisis) and its probabilities"),
            ("garch_volatility", self.garch, SymbolsArgs,
             "GARCH(1,1) per symbol: annualised volatility forecast over the next 21 sessions"),
            ("rl_sizer", self.rl_sizer, SizeArgs,
             "PPO sizing policy: size multiplier in [0, 1] for a trend long (only when promoted over Kelly)"),
        ]
        self.tools: tuple[BaseTool, ...] = tuple(
            StructuredTool.from_function(func=_unpacked(fn, schema), name=name, description=desc, args_schema=schema)
            for name, fn, schema, desc in specs)

    # ------------------------------------------------------------------ inputs and the pinned service
    @property
    def inputs(self) -> ModelInputs:
        """Every session's inputs (what training reads), built once."""
        if self._inputs is None:
            self._inputs = ModelInputs.from_view(self.market)
        return self._inputs

    def _inputs_for(self, day: date) -> ModelInputs:
        """What inference on ``day`` reads: all of it when already built, else the INFERENCE_WINDOW sessions to it."""
        if self._inputs is not None:
            return self._inputs
        if self._window is None or self._window[0] != day:
            m = self.market
            end = pd.Timestamp(day)
            pos = int(m.sessions.searchsorted(end, side="right")) - 1
            start = m.sessions[max(0, pos - INFERENCE_WINDOW)]
            panel = m.panel.loc[start:end]
            self._window = (day, ModelInputs.build(panel, m.close.loc[start:end, list(m.tradable)],
                                                   m.weather.loc[start:end], m.close.loc[start:end, m.benchmark]))
        return self._window[1]

    def _service_for(self, day: date) -> ModelService:
        """One registry snapshot for the run (a retrain promoting meanwhile changes nothing for it)."""
        inputs = self._inputs_for(day)
        if id(inputs) not in self._services:
            self._services = {id(inputs): ModelService(self.registry, inputs, self._snapshot)}
        return self._services[id(inputs)]

    def recipe(self, name: str) -> dict[str, Any]:
        return entry(name).recipe(self.recipes.get(name))

    # ------------------------------------------------------------------ training a run does for itself
    def prepare(self, day: date) -> list[ModelReady]:
        """Train (walk-forward, gated) each ``train_in_run`` model its retrain block lacks; say of every model
        whether it is usable on ``day``."""
        from models.train import train_one

        trained_now = False
        done: dict[str, tuple[str, str, float, bool]] = {}
        for name in self.train_in_run:
            key = (name, retrain_block(day, self.retrain_months))
            if key not in self._trained:
                recipe = self.recipe(name)
                cutoff = cutoff_for(day, self.market.sessions, self.retrain_months, int(recipe["horizon"]))
                row = self._snapshot.row(name, entry(name).version(cutoff, recipe))
                if row is not None and row.get("status") in ("promoted", "rejected"):  # decided: nothing to read
                    self._trained[key] = (row["status"], row.get("reason", ""), 0.0, False)
                else:
                    t0 = time.perf_counter()
                    out = train_one(self.registry, self.inputs, name, cutoff, self.recipes.get(name))
                    self._trained[key] = (out.status, out.reason, time.perf_counter() - t0, not out.reused)
                    trained_now = trained_now or not out.reused
            done[name] = self._trained[key]
        if trained_now:  # see the versions just decided
            self._snapshot, self._services, self._availability = self.registry.snapshot(), {}, {}
        ready = []
        for name in MODELS:
            a = self.availability(name, day)
            status, reason, seconds, trained = done.get(name, ("", "", 0.0, False))
            ready.append(ModelReady(name=name, version=a.model_version, cutoff=a.cutoff, trained=trained,
                                    seconds=seconds, status="usable" if a.usable else "not usable",
                                    reason=a.reason if not trained else f"{status}: {reason}; {a.reason}"))
        return ready

    def check(self, day: date) -> None:
        """Read every model a run would use on ``day`` (training nothing): a damaged file is found before a run."""
        for name in MODELS:
            a = self.availability(name, day)
            if a.model_version is not None:
                self.registry.load(name, a.model_version)

    def availability(self, name: str, day: date) -> ModelAvailability:
        """Whether ``name`` is usable on ``day`` under this run's registry snapshot (asked by several nodes a
        night: answered once per snapshot, model and day)."""
        key = (name, day)
        if key not in self._availability:
            if len(self._availability) > 4096:
                self._availability = {}
            self._availability[key] = self._available(name, day)
        return self._availability[key]

    def _available(self, name: str, day: date) -> ModelAvailability:
        a = self._snapshot.usable(name, day, self._calendar)
        return ModelAvailability(model=name, as_of=day, usable=a.usable, model_version=a.version, cutoff=a.cutoff,
                                 reason=a.reason)

    # ------------------------------------------------------------------ inference (the tools' functions)
    def regime(self, args: AsOfArgs) -> RegimeResult:
        return self._service_for(args.as_of).regime(args)

    def health(self, args: SymbolsArgs) -> HealthResult:
        return self._service_for(args.as_of).health(args)

    def direction(self, args: SymbolsArgs) -> DirectionResult:
        return self._service_for(args.as_of).direction(args)

    def mean_reversion(self, args: SymbolsArgs) -> DirectionResult:
        return self._service_for(args.as_of).mean_reversion(args)

    def vol_state(self, args: AsOfArgs) -> VolStateResult:
        return self._service_for(args.as_of).vol_state(args)

    def garch(self, args: SymbolsArgs) -> GarchResult:
        return self._service_for(args.as_of).garch(args)

    def rl_sizer(self, args: SizeArgs) -> SizeResult:
        return self._service_for(args.as_of).rl_sizer(args)


def _unpacked(fn: Callable[[Any], Any], schema: type) -> Callable[..., Any]:
    """A tool function taking the schema's fields as keyword arguments (what StructuredTool passes)."""

    def call(**kwargs: Any) -> Any:
        return fn(schema(**kwargs))

    call.__name__ = fn.__name__
    call.__doc__ = fn.__doc__
    return call


def describe(tools: Sequence[BaseTool]) -> list[dict[str, Any]]:
    """Every tool's name, description and argument JSON schema (what `desk tools` lists)."""
    return [{"name": t.name, "description": t.description, "args": t.args_schema.model_json_schema()}
            for t in tools]
