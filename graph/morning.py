"""The morning graph: wiring only."""

from __future__ import annotations

from graph.build import build_graph
from graph.nodes import morning
from graph.state import MorningState

MORNING_NODES = (
    ("load_intents", morning.load_intents),
    ("quotes", morning.quotes),
    ("validate", morning.validate),
    ("execute", morning.execute),
    ("reconcile", morning.reconcile),
    ("report", morning.report),
)


def build_morning(checkpointer=None):
    return build_graph(MorningState, MORNING_NODES, checkpointer=checkpointer)
