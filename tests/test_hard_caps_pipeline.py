"""Hard caps last (ARCHITECTURE.md: invariant 1), as a property over the real night nodes: whatever the agents propose
and the overlay says, no entry exceeds its caps, and nothing is entered while halted or on stale data."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph.nodes import ingest, moonshot, picks, review, risk, sizing, trust, weather
from tests import kit
from vocab.terms import Action, AgentStyle

DAY = date(2017, 6, 1)
AGENTS = ("trend", "ema", "mean_reversion")


@pytest.fixture
def night(home):
    # the picks threshold is a tuning knob, not a cap: open it fully so every candidate reaches the rules
    desk = kit.desk(home, settings={"picks": {"base_threshold": 0.0}})
    state = kit.run_nodes(desk, (ingest.ingest, ingest.validate_data, weather.models, weather.weather,
                                 weather.weather_analyst), {"run_id": "prop", "as_of": DAY})
    return desk, state


proposal_st = st.tuples(
    st.sampled_from(["AAPL", "MSFT", "XOM", "JPM", "KO", "PG", "HD", "WMT", "CVX", "PFE"]),
    st.sampled_from(AGENTS),
    st.sampled_from([Action.BUY_LONG, Action.BUY_LONG, Action.CLOSE_LONG, Action.HOLD]),
    st.floats(0, 1), st.floats(0, 1),
    st.sampled_from(["confirm", "adjust", "veto"]), st.floats(0, 1),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(proposal_st, min_size=1, max_size=30, unique_by=lambda r: (r[0], r[1])),
       halted=st.booleans(), stale_all=st.booleans(), regime=st.sampled_from(
           ["calm_uptrend", "risk_on_trend", "choppy", "risk_off_trend", "high_vol_panic"]))
def test_no_proposals_and_verdicts_can_push_an_entry_past_the_caps(night, rows, halted, stale_all, regime):
    desk, base = night
    desk.store.set_halted(halted, "property test" if halted else None, "test")
    proposals, verdicts = [], []
    for sym, agent, action, strength, conf, decision, mult in rows:
        p = kit.proposal(symbol=sym, as_of=DAY, action=action, strength=strength, confidence=conf, stop=None,
                         agent=agent, style=AgentStyle.MEAN_REVERSION if agent == "mean_reversion" else
                         AgentStyle.TREND)
        proposals.append(p)
        if action != Action.HOLD:
            verdicts.append(kit.verdict(p, decision=decision, size_multiplier=1.0 if decision == "confirm" else mult))
    state = kit.run_nodes(desk, (trust.trust, picks.picks, sizing.sizing, moonshot.moonshot, review.risk_review,
                                 risk.hard_rules),
                          {**base, "regime": regime, "proposals": proposals, "verdicts": verdicts,
                           "stale": {"*": "test"} if stale_all else {}})
    caps = desk.ctx.config.risk
    book_equity = desk.ctx.config.broker.initial_cash
    entries = state["sized"]
    if halted or stale_all:
        assert entries == []
    assert len(entries) <= caps.max_positions
    reserve = caps.cash_reserve[regime] * book_equity
    assert sum(e.quantity * e.price for e in entries) <= book_equity - reserve + 1e-6
    for e in entries:
        assert 0 < e.weight <= caps.max_weight + 1e-12
        assert e.quantity * e.price >= caps.min_order_value - 1e-6
        assert e.quantity * e.price <= e.weight * book_equity + 1e-6  # the units never round past the weight
        assert desk.ctx.broker.quantity_rules(e.symbol).accepts(e.quantity)  # whole shares at the paper broker
