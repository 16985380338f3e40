"""Wiring: open one DESK_HOME's organs, from the parts handed in and defaults from settings. No trading logic here."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from brokers.base import Broker
from desk.config import Settings
from graph.context import assemble
from graph.providers.base import OverlayProvider
from graph.reporting import Reporter
from graph.runner import Runner
from memory.checkpoint import open_checkpointer
from memory.store import Store
from models.registry import ModelRegistry
from tools.agents import AgentToolkit
from tools.market import MarketView

Progress = Callable[[str], None]


def open_desk(settings: Settings, *, provider: OverlayProvider | None = None, broker: Broker | None = None,
              tools: AgentToolkit | None = None, reporters: Sequence[Reporter] = (), store: Store | None = None,
              market: MarketView | None = None, registry: ModelRegistry | None = None, checkpointing: bool = True,
              progress: Progress = lambda msg: None) -> Runner:
    """The desk's graphs over a frozen context built from the given parts (each missing part from ``settings``)."""
    ctx = assemble(settings, store=store, market=market, registry=registry, provider=provider, broker=broker,
                   tools=tools, reporters=reporters)
    saver = open_checkpointer(settings.checkpoint_location) if checkpointing else None
    return Runner(ctx, checkpointer=saver, progress=progress)
