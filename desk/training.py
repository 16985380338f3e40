"""Model commands of the command core: `desk train`, `desk models`, `desk tools` — typed results, transport apart.

``train`` retrains walk-forward every model (or the named ones) that decisions on a date would use, each gated
by the registry (promoted only if it beats its naive baseline and the incumbent out of sample). It takes no lock
on the book: the registry writes each version whole and readers pin a snapshot, so it is safe beside `desk run`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from desk.config import Settings
from desk.errors import DeskError
from desk.actor import Actor
from desk.core.args import NoArgs, TrainArgs
from desk.core.context import CommandContext
from desk.results import Result
from memory.locks import desk_lock
from memory.store import Store, open_store
from models.catalog import CATALOG
from models.registry import ModelRegistry
from tools.agents import AgentToolkit
from tools.market import MarketView
from tools.model_tools import describe


class Trained(Result):
    name: str
    version: str
    cutoff: date
    status: str
    reason: str
    metric: str | None
    validation: float | None
    best_baseline: str | None
    baseline_value: float | None
    seconds: float
    reused: bool


class TrainResult(Result):
    until: date
    models: list[Trained]


class ModelsResult(Result):
    models: list[dict[str, Any]]


class ToolsResult(Result):
    tools: list[dict[str, Any]]


def _market(settings: Settings, actor: Actor) -> tuple[Store, MarketView]:
    from desk.actions.setup import bootstrap

    store = open_store(settings)
    if not store.symbols():
        with desk_lock(settings, "book", "loading the bundled data"):
            bootstrap(store, settings, actor, ())
    market = MarketView(store, tuple(settings.data.universe), settings.data.benchmark, cache_dir=settings.cache_dir)
    return store, market


def train(settings: Settings, *, until: date | None, names: Sequence[str] | None, actor: Actor,
          progress: Callable[[Any], None] | None = None) -> TrainResult:
    """Train walk-forward, for decisions on ``until`` (default: the latest session), each model named."""
    from desk.actions.setup import resolve_date
    from models.train import train_all

    wanted = list(names or CATALOG)
    unknown = [n for n in wanted if n not in CATALOG]
    if unknown:
        raise DeskError(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(CATALOG)}")
    store, market = _market(settings, actor)
    day = resolve_date(market.sessions, until)
    m = settings.models
    tools = AgentToolkit(market, ModelRegistry(settings.models_dir, promotion=settings.models.promotion), m.retrain_months, m.train_years, m.horizon_days)
    outcomes = train_all(tools.models.registry, tools.models.inputs.until(day), day, wanted,
                         recipes=tools.models.recipes, retrain_months=m.retrain_months, progress=progress)
    rows = {(r["name"], r["version"]): r for r in
            ModelRegistry(settings.models_dir, promotion=settings.models.promotion).snapshot().table()}
    result = []
    for o in outcomes:
        row = rows.get((o.name, o.version), {})
        result.append(Trained(name=o.name, version=o.version, cutoff=o.cutoff, status=o.status, reason=o.reason,
                              metric=row.get("metric"), validation=row.get("validation"),
                              best_baseline=row.get("best_baseline"), baseline_value=row.get("baseline_value"),
                              seconds=o.seconds, reused=o.reused))
    return TrainResult(until=day, models=result)


def models(settings: Settings) -> ModelsResult:
    """Every saved model version: its window, metric beside its best baseline, and whether it was promoted."""
    keep = ("name", "version", "status", "cutoff", "trained_on", "horizon", "metric", "validation", "best_baseline",
            "baseline_value", "in_sample", "reason", "seed", "content_hash", "code_version")
    table = ModelRegistry(settings.models_dir, promotion=settings.models.promotion).snapshot().table()
    return ModelsResult(models=[{k: r.get(k) for k in keep} for r in table])


def tools(settings: Settings) -> ToolsResult:
    """Every tool the night's nodes (and the chat agent) call, with its argument schema."""
    store = open_store(settings)
    market = MarketView(store, tuple(settings.data.universe), settings.data.benchmark, cache_dir=settings.cache_dir)
    kit = AgentToolkit.from_config(settings, market, ModelRegistry(settings.models_dir, promotion=settings.models.promotion))
    return ToolsResult(tools=describe([*kit.tools, *kit.models.tools]))


def train_command(ctx: CommandContext, args: TrainArgs) -> TrainResult:
    return train(ctx.settings, until=args.until, names=args.models, actor=ctx.actor, progress=ctx.progress)


def models_command(ctx: CommandContext, _: NoArgs) -> ModelsResult:
    return models(ctx.settings)


def tools_command(ctx: CommandContext, _: NoArgs) -> ToolsResult:
    return tools(ctx.settings)
