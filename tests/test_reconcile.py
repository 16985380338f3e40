"""Reconciliation: the broker's book is the truth; a difference from the store is named and halts new entries."""

from __future__ import annotations

from datetime import date

from tests import kit
from tests.broker_kit import order

NIGHT = date(2017, 3, 1)


def test_a_holding_the_desk_did_not_trade_is_mirrored_named_and_halts_entries(home):
    d = kit.desk(home)
    d.ctx.broker.set_session(NIGHT)
    d.ctx.broker.submit(order("manual-trade", symbol="KO", quantity=7.0))  # someone traded at the broker directly
    d.night(NIGHT)
    out = d.morning(NIGHT)
    steps = {s.node: s.summary for s in d.store.steps(out["run_id"])}
    assert "MISMATCH" in steps["check_book"] and "broker holds KO (7) the store did not" in steps["check_book"]
    assert not [r for r in out["results"] if r.side == "buy" and r.status == "filled"]  # halted before any entry
    assert d.store.positions()["KO"].quantity == 7.0
    [breaker] = [b for b in d.store.breakers() if b.name == "reconcile"]
    assert "desk resume" in breaker.reason
    later = d.night(d.morning_session(NIGHT))
    assert not [i for i in later["intents"] if i.side == "buy"]


def test_a_morning_that_fills_as_recorded_reconciles_without_a_difference(home):
    d = kit.desk(home)
    d.night(NIGHT)
    out = d.morning(NIGHT)
    summary = [s.summary for s in d.store.steps(out["run_id"]) if s.node == "reconcile"][0]
    assert "MISMATCH" not in summary and not d.store.breakers()
