"""Wire a list of (name, node) into a linear StateGraph, every node wrapped by the reporter."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from langgraph.graph import END, START, StateGraph

from graph.context import DeskContext
from graph.reporting import reported


def linear_graph(state: type, nodes: Sequence[tuple[str, Callable]], checkpointer=None):
    g = StateGraph(state, context_schema=DeskContext)
    prev = START
    for name, fn in nodes:
        g.add_node(name, reported(name, fn))
        g.add_edge(prev, name)
        prev = name
    g.add_edge(prev, END)
    return g.compile(checkpointer=checkpointer)
