"""The night graph: wiring only. Every node is a plain function of (state, runtime) → update."""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph

from graph.context import DeskContext
from graph.nodes import agents, ingest, intents, overlay, picks, review, risk, sizing, weather
from graph.reporting import reported
from graph.state import NightState

NIGHT_NODES = (
    ("ingest", ingest.ingest),
    ("validate_data", ingest.validate_data),
    ("features", weather.features),
    ("weather", weather.weather),
    ("weather_analyst", weather.weather_analyst),
    ("agents", agents.agents),
    ("overlay", overlay.overlay),
    ("picks", picks.picks),
    ("exits", sizing.exits),
    ("sizing", sizing.sizing),
    ("risk_reviewer", review.risk_review),
    ("hard_rules", risk.hard_rules),
    ("write_intents", intents.write_intents),
    ("report", intents.report),
)


def build_night(checkpointer=None):
    g = StateGraph(NightState, context_schema=DeskContext)
    prev = START
    for name, fn in NIGHT_NODES:
        g.add_node(name, reported(name, fn))
        g.add_edge(prev, name)
        prev = name
    g.add_edge(prev, END)
    return g.compile(checkpointer=checkpointer)
