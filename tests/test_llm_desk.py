"""The LLM overlays in the whole desk: `desk run` with DESK_LLM__PROVIDER=openai against the loopback server, a
night killed after its LLM calls, replay from the record, `desk ask`, the track record's horizon, and the property that
no answer enlarges a position beyond the ML decision and the hard caps."""

from __future__ import annotations

import json
import uuid
from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph.nodes import ingest, picks, review, risk, sizing, weather
from graph.providers.factory import provider_for
from graph.providers.scope import call_scope
from memory.store import Store
from memory.track_record import TrackRecord
from tests import kit
from tests.kit import run_cli
from tests.llm_kit import KEY, Reply, ScriptedLLM, Text, ToolCalls, answer
from vocab.terms import Action

DAY = date(2017, 3, 1)


@pytest.fixture
def llm(monkeypatch):
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    with ScriptedLLM() as server:
        for k, v in server.env("openai").items():
            monkeypatch.setenv(k, v)
        yield server


def test_desk_run_with_openai_takes_its_verdicts_from_the_model_bounded_costed_and_recorded(home, llm, capsys,
                                                                                          monkeypatch):
    monkeypatch.setenv("DESK_LLM__PROVIDER", "openai")
    code, out, err = run_cli(capsys, "run", "--date", DAY.isoformat(), "--phase", "night", "--json")
    assert code == 0, err
    night = json.loads(out)["night"]
    store = kit.open_store(home)
    calls = store.llm_calls(as_of=DAY)
    assert 1 <= len(calls) <= 3 and len(llm.requests) == len(calls)  # at most weather, overlay, risk
    assert {c.role for c in calls} <= {"weather", "overlay", "risk"} and all(c.status == "ok" for c in calls)
    assert night["narrative"] == "The layers are mixed; the regime stands."
    assert night["llm_calls"] == len(calls) and night["llm_usd"] == pytest.approx(sum(c.cost_usd for c in calls))
    verdicts = [json.loads(r["payload"]) for r in store.db.query("SELECT payload FROM verdicts WHERE as_of = ?",
                                                                   [DAY.isoformat()])]
    entries = [v for v in verdicts if v["provenance"]["provider"] == "openai"]
    assert entries and all(v["reason"] == "inputs support the trade" for v in entries)
    assert KEY not in json.dumps([c.model_dump(mode="json") for c in calls]) + out + err + (home / "desk.sqlite").read_bytes().decode("latin-1")
    code, out, _ = run_cli(capsys, "status", "--json")
    status = json.loads(out)
    assert status["llm_calls_today"] == len(calls) and status["llm_usd_cap_day"] == 2.0


def test_a_night_killed_after_its_llm_calls_resumes_without_paying_twice(home, llm, monkeypatch):
    monkeypatch.setenv("DESK_LLM__PROVIDER", "openai")
    d = kit.desk(home, checkpointing=True)
    real = d.ctx.store.save_verdicts
    monkeypatch.setattr(d.ctx.store, "save_verdicts", _dies(real))
    with pytest.raises(RuntimeError, match="killed"):
        d.night(DAY)
    asked = len(llm.requests)
    assert asked >= 2  # the weather and the overlay were asked (and paid for) before the kill
    again = kit.desk(home, checkpointing=True)  # a restart: the checkpointer resumes the night at the overlay
    out = again.night(DAY)
    served = [v for v in out["verdicts"] if v.provenance.replayed]
    assert served, "the overlay's answer came from the record"
    calls = again.store.llm_calls(run_id=out["run_id"])
    assert [c.role for c in calls].count("overlay") == 1
    assert len(llm.requests) - asked <= 1  # only the risk review (never asked before the kill) may be new


def _dies(real):
    state = {"died": False}

    def save(*args, **kw):
        if not state["died"]:
            state["died"] = True
            raise RuntimeError("killed mid-night")
        return real(*args, **kw)
    return save


@pytest.mark.slow
def test_desk_replay_from_the_record_is_identical_free_and_fails_clearly_on_a_miss(home, llm, capsys, monkeypatch):
    monkeypatch.setenv("DESK_LLM__PROVIDER", "openai")
    rng = ["--from", "2017-03-01", "--to", "2017-03-14", "--json"]
    code, out, err = run_cli(capsys, "replay", *rng, "--llm-replay", "auto")
    assert code == 0, err
    recorded = json.loads(out)
    assert recorded["llm_calls"] >= 10 and recorded["llm_usd"] > 0
    first = _decisions(home)
    asked = len(llm.requests)
    monkeypatch.delenv("OPENAI_API_KEY")
    code, out, err = run_cli(capsys, "replay", *rng, "--llm-replay", "only")
    assert code == 0, err
    replayed = json.loads(out)
    assert len(llm.requests) == asked and replayed["llm_calls"] == 0 and replayed["llm_usd"] == 0
    again = _decisions(home)
    # the same decisions; the provenance says honestly that the live run paid and the replay was served
    assert _unpaid(again) == _unpaid(first), _first_difference(_unpaid(first), _unpaid(again))
    assert replayed["desk"] == recorded["desk"]
    code, out, err = run_cli(capsys, "replay", *rng, "--llm-replay", "only")
    assert code == 0 and _decisions(home) == again  # from the record, replays are identical to each other
    before = kit.home_fingerprint(home)
    code, _, err = run_cli(capsys, "replay", "--from", "2017-03-01", "--to", "2017-03-20", "--llm-replay", "only")
    assert code == 2 and "holds no exchange for the night of 2017-03-15" in err
    assert kit.home_fingerprint(home) == before


def _decisions(home) -> list:
    """Everything a replay decided, without wall-clock fields (run ids, timestamps) and rules latencies."""
    store = kit.replay_store(home, "2017-03-01_2017-03-14")
    out = []
    for table, cols in (("intents", "as_of, symbol, side, kind, quantity, payload"),
                        ("verdicts", "as_of, proposal_key, decision, size_multiplier, reason, payload"),
                        ("fills", "symbol, side, quantity, price, session"), ("snapshots", "date, equity, cash")):
        for row in store.db.execute(f"SELECT {cols} FROM {table} ORDER BY 1, 2").fetchall():
            out.append([_no_latency(x) for x in row])
    store.close()
    return out


def _unpaid(rows: list) -> list:
    return [[_drop(_drop(x, "cost_usd"), "replayed") if isinstance(x, str) else x for x in row] for row in rows]


def _no_latency(value):
    if isinstance(value, str) and value.startswith("{"):
        data = json.loads(value)
        text = json.dumps(data)
        for key in ("latency_ms", "intent_id"):
            text = _drop(text, key)
        return text
    return value


def _drop(text: str, key: str) -> str:
    import re

    return re.sub(rf'"{key}": [^,}}]+', f'"{key}": null', text)


# ---------------------------------------------------------------- desk ask
def test_desk_ask_answers_from_the_record_through_the_tools(home, llm, capsys, monkeypatch):
    d = kit.desk(home)
    out = d.night(DAY)
    target = out["intents"][0] if out["intents"] else None
    monkeypatch.setenv("DESK_LLM__PROVIDER", "openai")
    symbol = target.symbol if target else "XOM"
    llm.push(Reply(body=ToolCalls((("why", {"target": symbol}),))),
             Reply(body=Text(f"We bought {symbol} because the agents agreed.")))
    code, stdout, err = run_cli(capsys, "ask", f"why did we buy {symbol} on {DAY}?", "--json")
    assert code == 0, err
    result = json.loads(stdout)
    assert result["answer"] == f"We bought {symbol} because the agents agreed." and result["tools_used"] == ["why"]
    second = llm.requests[1].text  # the tool's answer went back to the model, from the store, as data
    assert "<data>" in second and (target is None or target.intent_id in second)
    assert [c.role for c in kit.open_store(home).llm_calls()] == ["chat", "chat"]


def test_the_chat_agent_reads_through_the_model_tools_too_and_hears_when_a_date_has_no_model(home, llm, capsys,
                                                                                               monkeypatch):
    kit.desk(home).night(DAY)
    monkeypatch.setenv("DESK_LLM__PROVIDER", "openai")
    llm.push(Reply(body=ToolCalls((("regime_ensemble", {"as_of": DAY.isoformat()}),))),
             Reply(body=Text("No regime model was promoted for that date.")))
    code, stdout, err = run_cli(capsys, "ask", f"what did the regime model read on {DAY}?", "--json")
    assert code == 0, err
    assert json.loads(stdout)["tools_used"] == ["regime_ensemble"]
    told = llm.requests[1].text  # the tool's refusal went back to the model as data, and no run failed
    assert "<data>" in told and "regime" in told and "error" in told


def test_desk_ask_without_an_llm_provider_says_so_in_one_line(home, capsys):
    code, _, err = run_cli(capsys, "ask", "why did we buy XOM?")
    assert code == 2 and err.strip().splitlines() == [
        'error: desk ask needs an LLM provider: set llm.provider (or llm.chat.provider) to "openai" or '
        '"anthropic", e.g. DESK_LLM__PROVIDER=openai']


# ---------------------------------------------------------------- the track record knows no future
def test_the_track_record_counts_each_resolved_outcome_once_by_agent_and_decision(home):
    d = kit.desk(home)
    sessions = d.sessions()
    i = int(sessions.searchsorted(pd.Timestamp(DAY)))
    closes = d.ctx.market.close.reindex(sessions)
    rng = np.random.default_rng(7)
    made = []  # (session index, symbol, agent, sign, horizon, decision)
    for at in range(i - 150, i + 1):  # more rows per symbol than the record's first arrays hold
        day = sessions[at].date()
        props, verdicts = [], []
        for symbol in ("XOM", "MSFT"):
            for agent in ("trend", "ema", "mr"):
                action = Action.BUY_LONG if rng.random() < 0.7 else Action.SELL_SHORT
                horizon = int(rng.integers(1, 12))
                decision = str(rng.choice(["confirm", "adjust", "veto"]))
                p = kit.proposal(symbol=symbol, as_of=day, agent=agent, action=action, horizon_days=horizon,
                                 stop=None)
                props.append(p)
                verdicts.append(kit.verdict(p, decision=decision, size_multiplier=0.5 if decision == "adjust" else
                                            0.0 if decision == "veto" else 1.0))
                made.append((at, symbol, agent, 1.0 if action == Action.BUY_LONG else -1.0, horizon, decision))
        d.store.save_proposals("seed", day, props)
        d.store.save_verdicts("seed", day, verdicts)

    def expected(today: int, symbol: str) -> dict:
        out: dict = {}
        for at, s, agent, sign, horizon, decision in made:
            if s == symbol and at >= today - 100 and at + horizon <= today:
                r = (closes[s].iloc[at + horizon] / closes[s].iloc[at] - 1) * sign
                for who in ("*", agent):
                    out.setdefault(who, {}).setdefault(decision, []).append(r)
        return out

    night_by_night = TrackRecord(d.store, closes, 100)
    for today in range(i - 20, i + 1):
        day = sessions[today].date()
        got = night_by_night.on(day, ["XOM", "MSFT", "AAPL"])
        assert got == TrackRecord(d.store, closes, 100).on(day, ["MSFT", "XOM"])  # read in steps == read at once
        for symbol in ("XOM", "MSFT"):
            want = expected(today, symbol)
            assert list(got[symbol]) == ["*", *sorted(set(want) - {"*"})]
            for who, by_decision in want.items():
                outcomes = got[symbol][who]
                assert [o.decision for o in outcomes] == [k for k in ("confirm", "adjust", "veto") if k in by_decision]
                for o in outcomes:
                    rets = by_decision[o.decision]
                    assert o.n == len(rets) and o.mean_return == pytest.approx(float(np.mean(rets)), abs=1e-12)
                    assert o.hit_rate == sum(r > 0 for r in rets) / len(rets)
        assert "AAPL" not in got  # no decisions, no record


def test_no_outcome_after_the_decision_date_reaches_its_prompt(home, llm):
    d = kit.desk(home)
    sessions = d.sessions()
    i = sessions.searchsorted(pd.Timestamp(DAY))
    early, late = sessions[i - 10].date(), sessions[i - 2].date()  # horizon 5: early resolves by DAY, late not
    props = [kit.proposal(symbol="XOM", as_of=early, agent="trend"), kit.proposal(symbol="XOM", as_of=late,
                                                                                   agent="trend")]
    for p in props:
        d.store.save_proposals("seed", p.as_of, [p])
        d.store.save_verdicts("seed", p.as_of, [kit.verdict(p)])

    def record(closes):
        return TrackRecord(d.store, closes, 252).on(DAY, ["XOM"])

    closes = d.ctx.market.close.reindex(sessions)
    base = record(closes)
    [confirmed] = base["XOM"]["trend"]
    assert confirmed.n == 1  # only the proposal whose horizon ended by DAY
    shocked = closes.copy()
    shocked.loc[shocked.index > str(DAY), "XOM"] *= 3.0  # the future moves; a prompt for DAY must not
    assert record(shocked) == base
    start, end = sessions[i - 10], sessions[i - 10 + 5]
    assert confirmed.mean_return == pytest.approx(closes["XOM"][end] / closes["XOM"][start] - 1)

    llm.push(answer({"verdicts": []}))
    settings_ = d.ctx.config.model_copy(update={"llm": d.ctx.config.llm.model_copy(update={"provider": "openai"})})
    provider = provider_for(settings_, store=d.store, market=d.ctx.market)
    with call_scope("r", DAY):
        provider.review_all([kit.proposal(symbol="XOM", as_of=DAY)], d.ctx.market.snapshot(DAY),
                            d.ctx.market.feature_dicts(DAY))
    sent = llm.requests[-1].text
    assert '"confirm":{"hit_rate"' in sent and '"n":1' in sent and '"n":2' not in sent


# ---------------------------------------------------------------- no answer enlarges a position
decision = st.sampled_from(["confirm", "adjust", "veto", "reverse", "double", "BUY", ""])
number = st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.integers(-5, 5), st.none(), st.text(max_size=5))
verdict_st = st.fixed_dictionaries({"id": st.sampled_from(["p1", "p2", "p3", "p4", "p9", 7]), "decision": decision,
                                    "size_multiplier": number, "stop": number, "reason": st.text(max_size=40)})
answers = st.one_of(st.fixed_dictionaries({"verdicts": st.lists(verdict_st, max_size=6)}),
                    st.text(max_size=30), st.lists(st.integers(), max_size=3))


@pytest.fixture
def base_night(home):
    desk = kit.desk(home, settings={"picks": {"base_threshold": 0.0}})
    state = kit.run_nodes(desk, (ingest.ingest, ingest.validate_data, weather.models, weather.weather,
                                 weather.weather_analyst), {"run_id": "prop", "as_of": DAY})
    from graph.nodes.agents import agents

    state = kit.run_nodes(desk, (agents,), state)
    return desk, state


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reply=answers)
def test_no_answer_however_hostile_enlarges_a_position_beyond_the_ml_decision_and_the_caps(base_night, llm, reply):
    desk, state = base_night
    config = desk.ctx.config.model_copy(update={"llm": desk.ctx.config.llm.model_copy(update={
        "provider": "openai", "max_retries": 0, "timeout_s": 5.0})})
    llm.push(answer(reply if not isinstance(reply, str) else reply))
    provider = provider_for(config, store=Store(config.home / "scratch.sqlite"), market=desk.ctx.market)
    run_id = f"prop-{uuid.uuid4().hex[:8]}"  # a new run each example: nothing is served from an earlier one
    rows = desk.ctx.market.feature_dicts(DAY)
    from graph.providers.base import review_all

    entries = [p for p in state["proposals"] if str(p.action) == "BUY_LONG"][:4]
    with call_scope(run_id, DAY):
        llm_verdicts = review_all(provider, entries, state["weather"], rows)
    ml = [kit.verdict(p, reason="ML decision as proposed") for p in entries]  # the ML-only decision: confirm all
    for v, p in zip(llm_verdicts, entries, strict=True):
        assert 0 <= v.size_multiplier <= 1 and v.proposal_key == p.key
        assert v.stop is None or p.stop is None or v.stop >= p.stop
    ml_sized = kit.run_nodes(desk, (picks.picks, sizing.sizing), {**state, "proposals": entries, "verdicts": ml})
    ml_weight = {s.symbol: s.weight for s in ml_sized["sized"]}  # the ML decision, before the reviewer and caps
    out = kit.run_nodes(desk, (picks.picks, sizing.sizing, review.risk_review, risk.hard_rules),
                        {**state, "proposals": entries, "verdicts": llm_verdicts})
    caps = desk.ctx.config.risk
    for s in out["sized"]:
        assert s.symbol in ml_weight, f"{s.symbol} entered only because of the model"
        assert s.weight <= ml_weight[s.symbol] + 1e-12 and s.weight <= caps.max_weight + 1e-12


def _first_difference(a: list, b: list) -> str:
    for x, y in zip(a, b, strict=False):
        if x != y:
            for u, v in zip(x, y, strict=False):
                if u != v:
                    import difflib

                    return "\n".join(difflib.unified_diff(str(u).split(", "), str(v).split(", "), lineterm=""))[:3000]
    return f"lengths {len(a)} vs {len(b)}"
