"""Nodes called alone (each is a plain function of state and runtime), and the graph-level invariants that
depend on them: LLM failure falls back to rules, reporting never fails a run, exits fire, morning validation."""

from __future__ import annotations

from datetime import date

import pytest

from graph.night import NIGHT_NODES
from graph.nodes import morning, sizing
from graph.providers.fallback import with_fallback
from graph.providers.rules import RulesProvider
from tests import kit
from vocab.contracts import Intent

DAY = date(2017, 3, 1)
SESSION = date(2017, 3, 2)


def _intent(desk, symbol="AAPL", side="buy", as_of=DAY, ref=None, stop=None, qty=10.0) -> Intent:
    """A pending intent at the market's close (or ``ref``), saved in the desk's store."""
    it = kit.intent(symbol=symbol, side=side, as_of=as_of, kind="entry" if side == "buy" else "exit",
                    reference_price=ref or desk.ctx.market.price(symbol, as_of), stop=stop, quantity=qty)
    desk.store.save_intents("test-run", [it])
    return it


def _validate(desk, intent_ids, session=SESSION):
    state = kit.run_nodes(desk, [morning.quotes], {"run_id": "m", "night_date": DAY, "session": session,
                                                    "intent_ids": intent_ids})
    return morning.validate(state, kit.runtime(desk))


def test_morning_skips_an_intent_older_than_three_trading_days(home):
    desk = kit.desk(home)
    it = _intent(desk, as_of=date(2017, 2, 24))
    out = _validate(desk, [it.intent_id])
    assert out["accepted"] == []
    assert "4 trading days old" in out["results"][0].reason


def test_morning_skips_a_buy_that_gapped_more_than_five_percent(home):
    desk = kit.desk(home)
    price = desk.ctx.market.price("AAPL", SESSION)
    it = _intent(desk, ref=price / 1.08)
    out = _validate(desk, [it.intent_id])
    assert out["accepted"] == [] and "gapped +8.0%" in out["results"][0].reason


def test_morning_skips_a_buy_already_through_its_stop(home):
    desk = kit.desk(home)
    price = desk.ctx.market.price("AAPL", SESSION)
    it = _intent(desk, ref=price, stop=price * 1.01)
    out = _validate(desk, [it.intent_id])
    assert out["accepted"] == [] and "below the stop" in out["results"][0].reason


def test_morning_skips_entries_but_not_exits_while_halted(home):
    desk = kit.desk(home)
    desk.store.set_halted(True, "drill", "test")
    buy, sell = _intent(desk, "AAPL", "buy"), _intent(desk, "MSFT", "sell")
    out = _validate(desk, [buy.intent_id, sell.intent_id])
    assert out["accepted"] == [sell.intent_id]
    assert out["results"][0].reason == "desk halted: drill"


def test_a_fresh_intent_within_the_gap_is_accepted(home):
    desk = kit.desk(home)
    it = _intent(desk)
    assert _validate(desk, [it.intent_id])["accepted"] == [it.intent_id]


def test_exits_node_sells_a_holding_that_fell_through_its_trailing_stop(home):
    desk = kit.desk(home)
    price = desk.ctx.market.price("XOM", DAY)
    kit.hold(desk, "XOM", 50.0, price, stop=price * 0.8, peak=price * 1.2)
    out = sizing.exits({"as_of": DAY, "regime": "risk_on_trend", "proposals": []}, kit.runtime(desk))
    [exit_] = out["exits"]
    assert (exit_.symbol, exit_.kind, exit_.trigger, exit_.quantity) == ("XOM", "exit", "trailing_stop", 50.0)


def test_every_night_node_reports_its_step(home):
    desk = kit.desk(home)
    out = desk.night(DAY)
    steps = desk.store.steps(out["run_id"])
    assert [s.node for s in steps] == [name for name, _ in NIGHT_NODES]
    assert all(s.status == "ok" and s.summary for s in steps)


class _BrokenLLM:
    name = "broken"

    def weather(self, snapshot):
        raise TimeoutError("read timed out")

    def review(self, proposal, snapshot, features):
        raise TimeoutError("read timed out")

    def review_book(self, entries, snapshot, book):
        raise ConnectionError("connection refused")


def test_llm_outage_falls_back_to_rules_and_the_night_trades_as_ml_only(home, tmp_path):
    reference = kit.desk(home).night(DAY)
    desk = kit.desk(home, provider=with_fallback(_BrokenLLM(), RulesProvider()))
    out = desk.night(DAY)
    assert out["verdicts"] and all(v.provenance.fallback for v in out["verdicts"])
    assert all("timed out" in v.provenance.fallback_reason for v in out["verdicts"])
    assert out["view"].provenance.fallback and out["review"].provenance.fallback
    assert [(i.symbol, i.side, round(i.quantity, 9)) for i in out["intents"]] == \
        [(i.symbol, i.side, round(i.quantity, 9)) for i in reference["intents"]]


class _DeadSlack:
    def run_started(self, *a):
        raise ConnectionError("slack is down")

    step = run_finished = run_started


def test_a_failing_reporter_never_fails_the_run(home):
    desk = kit.desk(home, reporters=[_DeadSlack()])
    out = desk.night(DAY)
    assert out["intents"] is not None
    assert desk.store.runs(limit=1)[0].status == "ok"
    assert len(desk.store.steps(out["run_id"])) == len(NIGHT_NODES)


@pytest.mark.parametrize("regime", ["high_vol_panic"])
def test_exits_node_sells_everything_in_a_panic(home, regime):
    desk = kit.desk(home)
    price = desk.ctx.market.price("KO", DAY)
    kit.hold(desk, "KO", 10.0, price, stop=price * 0.9, peak=price)
    out = sizing.exits({"as_of": DAY, "regime": regime, "proposals": []}, kit.runtime(desk))
    assert [(e.symbol, e.trigger) for e in out["exits"]] == [("KO", "regime_panic")]


def test_morning_sells_a_holding_whose_quote_is_through_its_stop(home):
    desk = kit.desk(home)
    price = desk.ctx.market.price("PG", SESSION)
    kit.hold(desk, "PG", 20.0, price, stop=price * 1.02, peak=price * 1.05)
    out = _validate(desk, [])
    assert out["accepted"] == [f"{DAY}:PG:sell:morning_stop"]
    intent = desk.store.intent(out["accepted"][0])
    assert intent.quantity == 20.0 and "morning stop" in intent.payload
    again = _validate(desk, [])  # a re-run of the same morning does not write a second exit
    assert again["accepted"] == out["accepted"]
    assert len([i for i in desk.store.intents(as_of=DAY) if i.symbol == "PG"]) == 1
