"""The night graph: wiring only. Every node is a plain function of (state, runtime) → update."""

from __future__ import annotations

from graph.build import build_graph
from graph.nodes import agents, ingest, intents, moonshot, overlay, picks, review, risk, sizing, trust, weather
from graph.state import NightState

# The sizing cascade and the risk reviewer come before the hard rules: the rules have the last word.
NIGHT_NODES = (
    ("ingest", ingest.ingest),
    ("validate_data", ingest.validate_data),
    ("features", weather.features),
    ("models", weather.models),
    ("weather", weather.weather),
    ("weather_analyst", weather.weather_analyst),
    ("agents", agents.agents),
    ("overlay", overlay.overlay),
    ("trust", trust.trust),
    ("picks", picks.picks),
    ("exits", sizing.exits),
    ("sizing", sizing.sizing),
    ("moonshot", moonshot.moonshot),
    ("risk_reviewer", review.risk_review),
    ("hard_rules", risk.hard_rules),
    ("write_intents", intents.write_intents),
    ("report", intents.report),
)


def build_night(checkpointer=None):
    return build_graph(NightState, NIGHT_NODES, checkpointer=checkpointer)
