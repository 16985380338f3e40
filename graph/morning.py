"""The morning graph: wiring only."""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph

from graph.context import DeskContext
from graph.nodes import morning
from graph.reporting import reported
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
    g = StateGraph(MorningState, context_schema=DeskContext)
    prev = START
    for name, fn in MORNING_NODES:
        g.add_node(name, reported(name, fn))
        g.add_edge(prev, name)
        prev = name
    g.add_edge(prev, END)
    return g.compile(checkpointer=checkpointer)
