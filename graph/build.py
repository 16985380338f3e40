"""Wire (name, node) pairs into a StateGraph: in order by default, with conditional branches where asked.

Every node is wrapped by the reporter. A node may call LangGraph's ``interrupt()`` to pause the run; the run is
then resumed with ``Command(resume=...)`` on its own thread, by this process or any other that compiles the same
graph over the same checkpointer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from langgraph.graph import END, START, StateGraph

from graph.context import DeskContext
from graph.reporting import reported

NodeFn = Callable[..., dict]


@dataclass(frozen=True)
class Branch:
    """After node ``after``, go where ``route(state)`` says: one of ``to``'s keys, mapped to a node name or END."""

    after: str
    route: Callable[[dict], str]
    to: Mapping[str, str] = field(default_factory=dict)


def build_graph(state: type, nodes: Sequence[tuple[str, NodeFn]], *, branches: Sequence[Branch] = (),
                checkpointer=None):
    """Nodes run in the order given; a node named in ``branches`` goes where its router says instead."""
    names = [name for name, _ in nodes]
    routed = {b.after: b for b in branches}
    unknown = sorted({b.after for b in branches} - set(names)
                     | {t for b in branches for t in b.to.values()} - set(names) - {END})
    if unknown:
        raise ValueError(f"branches name nodes that are not in the graph: {unknown}")
    g = StateGraph(state, context_schema=DeskContext)
    for name, fn in nodes:
        g.add_node(name, reported(name, fn))
    g.add_edge(START, names[0])
    for name, nxt in zip(names, [*names[1:], END], strict=True):
        if name in routed:
            b = routed[name]
            g.add_conditional_edges(name, b.route, dict(b.to))
        else:
            g.add_edge(name, nxt)
    return g.compile(checkpointer=checkpointer)

