"""The morning graph: wiring only."""

from __future__ import annotations

from graph.build import build_graph
from graph.nodes import approval, execution, morning
from graph.state import MorningState

MORNING_NODES = (
    ("load_intents", morning.load_intents),
    ("check_book", execution.check_book),
    ("quotes", morning.quotes),
    ("validate", morning.validate),
    ("approval", approval.approval),  # pauses for an operator when execution.require_approval is on
    ("execute", execution.execute),
    ("reconcile", execution.reconcile),
    ("report", morning.report),
)


def build_morning(checkpointer=None):
    return build_graph(MorningState, MORNING_NODES, checkpointer=checkpointer)
