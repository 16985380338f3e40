"""Slack follows the run's life (issue 19 item 6): the parent and approval messages are edited (chat.update through the
outbox) when a run pauses, is approved, rejected, expires, fails or finishes — even when the earlier edit was already
delivered (as `desk serve`'s sender delivers it at once); the morning's message lists each fill with its price and
quantity; times are in the desk's time zone; the thread carries the steps that decided something; no raw JSON."""

from __future__ import annotations

from datetime import date

import pytest

from desk.actions import runs
from desk.actor import Actor
from desk.core.core import Core
from desk.core.text import run_line
from desk.slack import wiring
from memory.outbox import Outbox
from memory.store import Store
from tests import kit
from tests.slack_kit import OPERATOR, FakeSlack, blocks_text, settings

NIGHT = date(2017, 3, 1)
OP = Actor(who=OPERATOR, via="slack")
APPROVAL = {"require_approval": True}


@pytest.fixture
def fake():
    f = FakeSlack().start()
    yield f
    f.stop()


def _edits(fake, home, key: str) -> list[str]:
    """The text of every chat.update Slack accepted for the message of ``key``, in order."""
    ts = Outbox(Store(home / "desk.sqlite")).get(key).ts
    return [blocks_text(u) + str(u.get("blocks")) for u in fake.posts("chat.update") if u["ts"] == ts]


def _paused(home, s):
    d = kit.desk(home, checkpointing=True, settings={"execution": APPROVAL}, reporters=wiring.reporters(s))
    d.night(NIGHT)
    out = d.morning(NIGHT)
    assert out.get("__interrupt__")
    assert wiring.flush(s, timeout=5).waiting == 0  # delivered at once, as desk serve's sender does
    return out["run_id"]


@pytest.mark.parametrize("decision, said", [("approve", "✅ approved"), ("reject", "🚫 rejected"),
                                            ("expire", "⌛ not approved by the deadline")])
def test_after_a_decision_the_parent_says_how_the_run_ended_and_the_approval_has_no_buttons(home, fake, decision,
                                                                                            said):
    s = settings(home, fake, execution=APPROVAL)
    run_id = _paused(home, s)
    assert "paused" in _edits(fake, home, f"run:{run_id}")[-1]
    if decision == "expire":
        Store(home / "desk.sqlite").db.execute("UPDATE approvals SET deadline = '2000-01-01T00:00:00.000+00:00'")
        runs.expire_due(Core(s, reporters=wiring.reporters(s)))
    else:
        run_line(Core(s, reporters=wiring.reporters(s)), f"{decision} {run_id}", OP)
    assert wiring.flush(s, timeout=5).waiting == 0
    parent = _edits(fake, home, f"run:{run_id}")[-1]
    assert "— ok" in parent and "paused" not in parent
    approval = _edits(fake, home, f"approval:{run_id}")
    assert approval and said in approval[-1] and "desk_approve" not in approval[-1] and "desk_veto" not in approval[-1]


def test_the_morning_lists_each_fill_with_price_and_quantity_and_times_are_in_the_desks_zone(home, fake):
    s = settings(home, fake, slack={"timezone": "Europe/London"})
    d = kit.desk(home, checkpointing=True, reporters=wiring.reporters(s))
    d.night(NIGHT)
    out = d.morning(NIGHT)
    assert wiring.flush(s, timeout=5).waiting == 0
    final = _edits(fake, home, f"run:{out['run_id']}")[-1]
    fills = [r for r in out["results"] if r.status == "filled"]
    assert fills
    for r in fills:
        assert f"{r.side} {r.quantity:g} {r.symbol} @ {r.price:,.2f}" in final
    said = "\n".join(blocks_text(p) for p in fake.posts())
    assert " GMT" in said and "+00:00" not in said and "T0" not in said.split("run:")[0]  # no raw UTC ISO times


def test_the_thread_carries_the_steps_that_decided_something_unless_all_steps_are_asked(home, fake):
    from graph.night import NIGHT_NODES

    s = settings(home, fake)
    kit.desk(home, checkpointing=True, reporters=wiring.reporters(s)).night(NIGHT)
    assert wiring.flush(s, timeout=5).waiting == 0
    nodes = [blocks_text(p).split(":")[0] for p in fake.posts()[1:]]
    assert "write_intents" in nodes and "overlay" in nodes
    assert "features" not in nodes and "models" not in nodes and len(nodes) < len(NIGHT_NODES)


def test_a_paused_run_says_what_it_waits_for_in_words_not_raw_json(home, fake):
    s = settings(home, fake, execution=APPROVAL)
    run_id = _paused(home, s)
    parent = _edits(fake, home, f"run:{run_id}")[-1]
    assert "waiting for approval:" in parent and "entries" in parent
    assert "{'approval'" not in parent and '"approval":' not in parent and "'intent_id'" not in parent


def test_a_sell_carries_its_realized_pnl_against_the_average_cost(home, fake):
    from memory.watch import Watch
    from tests.broker_kit import order

    s = settings(home, fake)
    d = kit.desk(home, checkpointing=True, reporters=wiring.reporters(s))
    price = d.ctx.market.price("XOM", NIGHT)
    kit.hold(d, "XOM", 10.0, price, stop=price * 0.8, peak=price * 1.5)  # through its trailing stop: sold
    d.ctx.broker.set_session(NIGHT)
    d.ctx.broker.submit(order("seed-xom", symbol="XOM", quantity=10.0))
    for n, (q, p) in enumerate([(4.0, price - 10), (6.0, price - 5)]):  # bought at an average of price - 7
        d.store.db.insert("fills", [{"fill_id": f"f{n}", "client_order_id": f"seed{n}", "symbol": "XOM",
                                     "side": "buy", "quantity": q, "price": p, "commission": 0.0,
                                     "session": "2017-02-0{}".format(n + 1), "price_source": "close"}])
    d.night(NIGHT)
    out = d.morning(NIGHT)
    [sold] = [r for r in out["results"] if r.symbol == "XOM" and r.status == "filled"]
    [fill] = [f for f in d.store.fills() if f.client_order_id == sold.client_order_id]
    expected = sold.quantity * (fill.price - (price - 7)) - fill.commission
    assert Watch(d.store).trade_pnl(sold.client_order_id) == pytest.approx(expected)
    assert Watch(d.store).trade_pnl("seed0") is None  # a buy realizes nothing
    assert wiring.flush(s, timeout=5).waiting == 0
    final = _edits(fake, home, f"run:{out['run_id']}")[-1]
    assert f"sell {sold.quantity:g} XOM @ {fill.price:,.2f}" in final
    assert f"P&amp;L {expected:+,.2f}" in final  # the & as Slack's entity (format.esc)


def test_an_approved_run_that_fails_edits_its_parent_to_the_failure(home, fake, monkeypatch):
    from brokers.paper import PaperBroker

    s = settings(home, fake, execution=APPROVAL)
    run_id = _paused(home, s)

    def broken(self, order):
        raise RuntimeError("the broker's gateway answered 502")

    monkeypatch.setattr(PaperBroker, "submit", broken)
    with pytest.raises(Exception, match="502"):
        run_line(Core(s, reporters=wiring.reporters(s)), f"approve {run_id}", OP)
    assert wiring.flush(s, timeout=5).waiting == 0
    parent = _edits(fake, home, f"run:{run_id}")[-1]
    assert "— error" in parent and "502" in parent and "paused" not in parent
