"""The runtime context a graph run carries: the organs, never secrets in state (context is not checkpointed)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from brokers.base import Broker
from desk.config import Settings
from graph.providers.base import OverlayProvider
from graph.reporting import Reporter
from memory.store import Store
from models.registry import ModelRegistry
from tools.market import MarketView


@dataclass
class DeskContext:
    settings: Settings
    store: Store
    market: MarketView
    registry: ModelRegistry
    provider: OverlayProvider
    reporter: Reporter
    broker_for: Callable[[date], Broker]
    tools: list[Any] = field(default_factory=list)
