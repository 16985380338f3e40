"""The operations command core, transport apart: every command answers with a typed result or one line; mutating
commands only from operators (refusals audited); overrides take effect in the morning and are audited with their
effect; a run key runs once; `ask` needs an LLM provider."""

from __future__ import annotations

import threading
from datetime import date

import pytest

from desk import results as R
from desk.actor import Actor
from desk.core.catalog import CHAT_COMMANDS
from desk.core.core import Core, Refused
from desk.core.render import render
from desk.core.text import parse, run_line
from desk.errors import DeskError
from memory.overrides import Overrides
from tests import kit
from tests.broker_kit import order
from tests.slack_kit import OPERATOR, READER, READER_CHANNEL, STRANGER, settings

NIGHT = date(2017, 3, 1)
OP = Actor(who=OPERATOR, via="slack")


@pytest.fixture
def night(home):
    """The seeded home after the night of 2017-03-01 (entries pending for the morning)."""
    d = kit.desk(home, checkpointing=True)
    out = d.night(NIGHT)
    buys = [i for i in out["intents"] if i.side == "buy"]
    assert len(buys) >= 3
    return d, buys


def _ops(home, **kw) -> Core:
    return Core(settings(home), **kw)


# ---------------------------------------------------------------------- parsing and reading
def test_every_read_command_answers_with_a_typed_result_that_renders(night, home):
    d, buys = night
    d.morning(NIGHT)
    ops = _ops(home)
    for text, kind in [("help", R.HelpResult), ("status", R.StatusResult), ("positions", R.PositionsResult),
                       ("intents", R.IntentsResult), (f"intents {NIGHT}", R.IntentsResult),
                       (f"why {buys[0].symbol}", R.WhyResult), ("weather", R.WeatherResult),
                       ("agents", R.AgentsResult), ("pnl", R.PnlResult), ("pnl all", R.PnlResult),
                       ("runs 5", R.RunsResult)]:
        result = run_line(ops, text, Actor(who=READER, via="slack"))
        assert isinstance(result, kind), text
        assert render(result).title
    weather = run_line(ops, "weather", Actor.local())
    assert weather.as_of == NIGHT.isoformat() and len(weather.layers) == 7 and weather.regime
    positions = run_line(ops, "positions", Actor.local())
    assert {p.symbol for p in positions.positions} == set(d.store.positions())
    agents = run_line(ops, "agents", Actor.local())
    by_name = {a.agent: a for a in agents.agents}
    assert by_name["trend"].proposals and by_name["ema"].proposals  # what each proposed that night ...
    assert all(a.weight is not None for a in agents.agents)           # ... and the trust the desk put in each


@pytest.mark.parametrize("text, message", [
    ("frobnicate", "unknown command 'frobnicate'"), ("stauts", "did you mean status?"),
    ("why", "usage: why SYMBOL|INTENT"), ("positions now please", "usage: positions"),
    ("intents 2017-13-01", "not a date"), ("pnl fortnight", "unknown period 'fortnight'"),
    ("runs many", "not a number of runs"), ("run lunch", "unknown phase 'lunch'"),
    ("veto NOSUCH", "no intent 'NOSUCH'"), ("approve", "no run is waiting for approval"),
    ("approve nope", "no run 'nope'"), ("flatten ZZZZ", "ZZZZ is not held"), ("unveto NOSUCH", "no intent"),
])
def test_a_bad_command_is_one_line_and_changes_nothing(home, text, message):
    before = kit.store_fingerprint(home)
    with pytest.raises(DeskError) as err:
        run_line(_ops(home), text, Actor.local())
    assert message in str(err.value) and "\n" not in str(err.value)
    assert kit.store_fingerprint(home) == before


def test_free_text_keeps_quotes_and_apostrophes():
    r = parse("halt don't trade \"until\" the Fed <!channel>")
    assert r.args == {"reason": "don't trade \"until\" the Fed <!channel>"}


def test_help_lists_every_command_of_the_issue():
    assert set(CHAT_COMMANDS) == {"help", "status", "positions", "intents", "why", "weather", "agents", "pnl", "runs", "veto",
                          "unveto", "approve", "reject", "halt", "resume", "flatten", "run", "ask",
                          "book", "holdings", "candidates", "orders", "regimes"}  # the dashboard's panels (issue 21)


# ---------------------------------------------------------------------- who may do what
def test_a_stranger_is_refused_even_read_only_and_the_attempt_is_audited(home):
    ops = _ops(home)
    with pytest.raises(Refused, match="USTRANGER1 may not read the desk in CSOMEWHERE"):
        run_line(ops, "status", Actor(who=STRANGER, via="slack"), channel="CSOMEWHERE")
    with pytest.raises(Refused, match="only operators may `halt`"):
        run_line(ops, "halt markets look odd", Actor(who=STRANGER, via="slack"), channel=READER_CHANNEL)
    audit = kit.open_store(home).audit_log()
    assert [(a.actor, a.action, a.target) for a in audit[:2]] == [
        ("slack:USTRANGER1", "refused", "halt"), ("slack:USTRANGER1", "refused", "status")]
    assert not kit.open_store(home).desk_state().halted


def test_a_reader_reads_in_any_channel_a_reader_channel_lets_anyone_read_neither_may_override(home):
    ops = _ops(home)
    assert isinstance(run_line(ops, "status", Actor(who=READER, via="slack"), "CELSEWHERE"), R.StatusResult)
    assert isinstance(run_line(ops, "status", Actor(who=STRANGER, via="slack"), READER_CHANNEL), R.StatusResult)
    with pytest.raises(Refused):
        run_line(ops, "resume", Actor(who=READER, via="slack"), READER_CHANNEL)


def test_an_override_is_audited_with_who_what_why_and_effect_and_echoed(home):
    heard = []
    result = run_line(_ops(home, listeners=[heard.append]), "halt  news on the wire", OP, READER_CHANNEL)
    assert isinstance(result, R.OverrideResult) and heard == [result]
    row = next(a for a in kit.open_store(home).audit_log() if a.action == "override")
    assert (row.actor, row.target, row.reason) == ("slack:UOPERATOR1", "halt desk", "news on the wire")
    payload = row.payload
    assert "new entries are blocked" in payload["effect"] and payload["via"] == "slack" and payload["at"]


def test_an_echo_that_fails_never_undoes_the_override(home):
    def broken(result):
        raise RuntimeError("Slack exploded")

    run_line(_ops(home, listeners=[broken]), "halt drill", OP)
    assert kit.open_store(home).desk_state().halted


# ---------------------------------------------------------------------- overrides take effect
def test_a_vetoed_intent_is_skipped_in_the_morning_with_the_veto_in_its_reason_chain(night, home):
    d, buys = night
    target = buys[0].intent_id
    run_line(_ops(home), f"veto {target} earnings tomorrow <!channel>", OP)
    out = d.morning(NIGHT)
    [res] = [r for r in out["results"] if r.intent_id == target]
    assert res.status == "vetoed" and "earnings tomorrow <!channel>" in res.reason
    assert not [o for o in d.store.orders() if o.intent_id == target]
    why = run_line(_ops(home), f"why {target}", Actor.local())
    assert why.status == "vetoed" and any("operator veto: vetoed by slack:UOPERATOR1" in x for x in why.reasons)
    others = [r for r in out["results"] if r.intent_id in {b.intent_id for b in buys[1:]}]
    assert others and all(r.status != "vetoed" for r in others)


def test_unveto_before_the_morning_lets_the_entry_run_and_after_it_is_too_late(night, home):
    d, buys = night
    ops = _ops(home)
    target = buys[0].intent_id
    run_line(ops, f"veto {target}", OP)
    with pytest.raises(DeskError, match="already vetoed by slack:UOPERATOR1"):
        run_line(ops, f"veto {target} again", OP)
    run_line(ops, f"unveto {target}", OP)
    out = d.morning(NIGHT)
    assert [r.status for r in out["results"] if r.intent_id == target] != ["vetoed"]
    with pytest.raises(DeskError, match="only a pending intent can be vetoed"):
        run_line(ops, f"veto {target}", OP)


def test_an_exit_cannot_be_vetoed_it_always_runs(home):
    d = kit.desk(home)
    d.store.save_intents("r", [kit.intent(side="sell", kind="exit", intent_id="2017-03-01:XOM:sell:exit")])
    with pytest.raises(DeskError, match="exits are never blocked"):
        run_line(_ops(home), "veto 2017-03-01:XOM:sell:exit", OP)


def test_veto_by_symbol_finds_its_one_pending_entry(night, home):
    d, buys = night
    result = run_line(_ops(home), f"veto {buys[0].symbol.lower()} too crowded", OP)
    assert result.target == buys[0].intent_id and Overrides(d.store).vetoes([buys[0].intent_id])


def _holding(d, symbol="XOM", qty=10.0):
    price = d.ctx.market.price(symbol, NIGHT)
    kit.hold(d, symbol, qty, price, stop=price * 0.5, peak=price)
    d.ctx.broker.set_session(NIGHT)
    d.ctx.broker.submit(order(f"seed-{symbol}", symbol=symbol, quantity=qty))
    return price


def test_flatten_closes_the_holding_at_the_next_execution_even_while_halted(home):
    d = kit.desk(home, checkpointing=True)
    _holding(d)
    ops = _ops(home)
    with pytest.raises(DeskError, match="KO is not held; holdings: XOM"):
        run_line(ops, "flatten KO", OP)
    result = run_line(ops, "flatten xom risk off", OP)
    assert "XOM (10) will be sold at the next execution" in result.effect
    with pytest.raises(DeskError, match="already pending"):
        run_line(ops, "flatten XOM", OP)
    run_line(ops, "halt drill", OP)
    d.night(NIGHT)
    out = d.morning(NIGHT)
    sells = [r for r in out["results"] if r.symbol == "XOM" and r.side == "sell"]
    assert [(r.status, r.quantity) for r in sells] == [("filled", 10.0)]
    assert "XOM" not in d.store.positions() and "XOM" not in d.ctx.broker.positions()
    assert [f.status for f in Overrides(d.store).flattens()] == ["closed"]
    again = d.morning(NIGHT)  # a re-run sells nothing twice
    assert [r.status for r in again["results"] if r.symbol == "XOM" and r.side == "sell"] in ([], ["already_done"])
    assert len([o for o in d.store.orders() if o.symbol == "XOM" and o.side == "sell"]) == 1


def test_flatten_all_sells_everything_and_skips_that_mornings_entries(night, home):
    d, buys = night
    _holding(d, "XOM", 5.0)
    _holding(d, "KO", 7.0)
    run_line(_ops(home), "flatten all", OP)
    out = d.morning(NIGHT)
    assert sorted((r.symbol, r.status) for r in out["results"] if r.side == "sell") == [("KO", "filled"),
                                                                                         ("XOM", "filled")]
    entries = [r for r in out["results"] if r.side == "buy"]
    assert entries and all(r.status == "skipped" and "flatten the book" in r.reason for r in entries)
    assert d.store.positions() == {}


def test_resume_clears_the_halt_and_says_so(home):
    ops = _ops(home)
    with pytest.raises(DeskError, match="not halted"):
        run_line(ops, "resume", OP)
    run_line(ops, "halt drill", OP)
    assert run_line(ops, "resume", OP).effect.startswith("new entries are allowed again")


# ---------------------------------------------------------------------- runs and ask
def test_a_run_key_runs_once_however_often_it_is_triggered(home):
    ops = _ops(home)
    first = run_line(ops, f"run night {NIGHT}", OP)
    assert first.status == "ran" and first.run_id
    again = run_line(ops, f"run night {NIGHT}", OP)
    assert again.status == "skipped" and again.run_id == first.run_id and "already ran" in again.reason
    assert [r.run_id for r in kit.open_store(home).runs(kind="night", limit=10)] == [first.run_id]


def test_two_triggers_at_once_run_the_key_once_the_other_is_busy_or_skipped(home):
    ops = _ops(home)
    got, start = [], threading.Barrier(2)

    def trigger():
        start.wait()
        got.append(run_line(ops, f"run night {NIGHT}", OP).status)

    threads = [threading.Thread(target=trigger) for _ in range(2)]
    [t.start() for t in threads]
    [t.join(120) for t in threads]
    assert sorted(got) in (["busy", "ran"], ["ran", "skipped"])
    assert len(kit.open_store(home).runs(kind="night", limit=10)) == 1


def test_ask_with_the_rules_provider_refuses_in_one_line(home):
    with pytest.raises(DeskError, match="needs an LLM provider: set llm.provider"):
        run_line(_ops(home), "ask why did we buy XOM?", Actor(who=READER, via="slack"))
