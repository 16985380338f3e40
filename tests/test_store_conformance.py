"""One store, two backends: every aggregate written and read back the same on SQLite and on PostgreSQL.

``store_location`` (tests/conftest.py) is a fresh SQLite file or a fresh database on the tests' PostgreSQL server
(tests/pg_kit.py), so each test here runs on both.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path
from typing import Any, TypedDict

import pytest
from pydantic import BaseModel

from memory.book import FillRecord
from memory.db import schema_of, with_schema
from memory.locks import LockHeld, ServerLock
from memory.outbox import Outbox
from memory.overrides import ApprovalItem, Overrides
from memory.queries import Queries
from memory.schema import MIGRATIONS, SCHEMA_VERSION
from memory.store import Store, StoreError, drop_store, replay_url
from tests import kit, pg_kit
from tools.contracts import Regime

D1, D2 = date(2017, 3, 1), date(2017, 3, 2)
TIMES = {"started", "ended", "created", "updated", "loaded_at", "at", "since", "asked", "decided", "closed",
         "next_attempt", "sent_at"}


def _masked(value: Any) -> Any:
    """Records as JSON, their wall-clock times masked (they differ run to run, not backend to backend)."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, dict):
        return {k: ("<time>" if k in TIMES and v is not None else _masked(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(v) for v in value]
    return value


def scenario(store: Store) -> dict[str, Any]:
    """Write every aggregate through the store's interface; read each back."""
    out: dict[str, Any] = {}
    frames = {"XOM": kit.bars([90.0, 91.5, 92.25], start="2017-02-27"), "KO": kit.bars([40.0, 40.5, 41.0],
                                                                                       start="2017-02-27")}
    out["bars_written"] = store.write_bars(frames, {"XOM": "equity", "KO": "equity"}, "test")
    store.mark_stale(["KO"], True, "stale for the test")
    out["symbols"] = store.symbols()
    out["last_bar"] = str(store.last_bar_date("XOM"))
    close = store.frame("close")
    out["close"] = {str(d.date()): row for d, row in zip(close.index, close.round(6).to_dict("records"), strict=True)}
    # runs and steps
    store.start_run("night-1", "night", "night", D1)
    store.record_steps([("night-1", "ingest", "ok", "2017-03-01T22:00:00", "2017-03-01T22:00:01.500", "{}")])
    store.finish_run("night-1", "ok", {"intents": 1})
    store.record_tool_call("night-1", "trend", {"symbol": "XOM"}, {"score": 0.5}, "v1", 2.5)
    out["runs"] = store.runs(limit=5)
    out["run"] = store.run("night-1")
    out["last_run"] = store.last_run("night", D1)
    out["steps"] = store.steps("night-1")
    # intents and verdicts
    p = kit.proposal(as_of=D1)
    store.save_proposals("night-1", D1, [p])
    store.save_verdicts("night-1", D1, [kit.verdict(p, decision="adjust", size_multiplier=0.5)])
    store.save_picks("night-1", D1, [{"symbol": "XOM", "score": 250.0, "threshold": 200.0, "selected": 1,
                                      "horizon_days": 5, "reference_price": 92.25, "payload": {"why": "test"}}])
    store.save_intents("night-1", [kit.intent(as_of=D1)])
    out["proposals"] = store.proposals(D1)
    out["verdicts"] = store.verdicts(D1)
    out["picks"] = store.picks(D1)
    out["picks_between"] = store.picks_between(D1, D2)
    store.save_pick_denials(D1, {"XOM": [{"rule": "max_weight", "reason": "over the cap"}], "KO": []})
    out["denied_pick"] = store.latest_denied_pick("XOM")
    out["no_denied_pick"] = store.latest_denied_pick("KO")
    out["proposals_for"] = store.proposals_for(D1, "XOM")
    out["night_proposals"] = store.night_proposals(D1)
    out["decisions"] = store.decisions_between(D1, D2)
    out["latest_night"] = str(store.latest_night())
    intent_id = kit.intent(as_of=D1).intent_id
    store.set_intent_status(intent_id, "filled", "filled at the open")
    out["intent"] = store.intent(intent_id)
    # book and orders
    out["order_new"] = store.record_order("c1", intent_id, "morning-1", "XOM", "buy", 10.0, D2, "submitting")
    out["order_again"] = store.record_order("c1", intent_id, "morning-1", "XOM", "buy", 10.0, D2, "submitting")
    store.update_order("c1", "filled", "ok")
    store.record_fill(FillRecord(fill_id="c1", client_order_id="c1", symbol="XOM", side="buy", quantity=10.0,
                                 price=92.5, commission=1.25, session=D2, price_source="open"))
    store.upsert_position(kit.holding(quantity=10.0, avg_price=92.5, entry_date="2017-03-02", initial_stop=83.0,
                                      peak=92.5))
    out["advanced"] = store.advance_peaks(D2, {"XOM": 95.0})
    out["advanced_past"] = store.advance_peaks(D1, {"XOM": 99.0})  # a night before the entry changes nothing
    store.save_snapshot(D2, 99_000.0, 99_950.0, 950.0, 0.0095, {"note": "test"})
    out["order"] = store.order("c1")
    out["orders"] = store.orders(D2)
    out["in_flight"] = store.symbols_with_orders_not_in(["filled"])
    out["fills"] = store.fills(D2)
    out["positions"] = store.positions()
    out["snapshot"] = store.latest_snapshot(D2)
    out["snapshots"] = store.snapshots().reset_index().astype({"date": str}).to_dict("records")
    # overrides and audit
    store.set_halted(True, "drill", "ops")
    store.trip_breaker("daily_loss", D2, 2, "lost 3%")
    out["desk_state"] = store.desk_state()
    out["breakers"] = store.breakers()
    out["cleared"] = store.clear_breakers("ops", "reviewed")
    overrides = Overrides(store)
    out["veto"] = [overrides.veto(intent_id, "U1", "no"), overrides.veto(intent_id, "U2", "again")]
    out["vetoes"] = overrides.vetoes()
    overrides.add_reason(intent_id, "vetoed by U1")
    out["flatten"] = overrides.request_flatten("XOM", "U1", "risk")
    out["open_flattens"] = overrides.open_flattens()
    out["approval"] = overrides.ask_approval("night-1", "2017-03-02", "2017-03-02T15:00:00", [
        ApprovalItem(intent_id=intent_id, symbol="XOM", side="buy", kind="entry", quantity=10.0, price=92.25,
                     weight=0.05, why="a trend entry")])
    overrides.decide_approval("night-1", "approve", "U1", "fine")
    out["audit"] = store.audit_log()
    # outbox
    box = Outbox(store)
    out["enqueued"] = [box.enqueue(kind="run", channel="C1", payload={"text": "hi"}, key="k1"),
                       box.enqueue(kind="run", channel="C1", payload={"text": "hi"}, key="k1")]
    row = box.get("k1")
    box.defer(row.id, "slow", "2017-03-02T10:00:00")
    box.hold_all("2017-03-02T11:00:00", "rate limited")
    out["outbox"] = box.rows()
    out["depth"] = box.depth()
    # LLM record and trials
    call = store.record_llm_call({"call_key": "k", "role": "overlay", "provider": "openai", "model": "m",
                                  "prompt_id": "overlay", "prompt_version": "v1", "input_hash": "h", "run_id": "night-1",
                                  "as_of": D1.isoformat(), "status": "ok", "prompt": "p", "raw": "{}",
                                  "parsed": "{}", "input_tokens": 10, "output_tokens": 5, "cost_usd": 0.01,
                                  "latency_ms": 12.0})
    store.set_llm_bounds(call, "clamped")
    out["llm_call"] = store.llm_call("k")
    out["llm_spend"] = store.llm_spend(run_id="night-1")
    out["llm_recorded"] = store.llm_recorded_on(D1)
    trial = store.record_trial("eval", {"a": 1}, D1, D2, {"sharpe": 1.5})
    out["trial_id"] = isinstance(trial, int)
    out["trials"] = store.trials("eval")
    out["trial_count"] = store.trial_count()
    # agents' record and weights
    store.save_agent_picks("night-1", D1, [{"agent": "trend", "symbol": "XOM", "horizon_days": 5,
                                            "reference_price": 92.25, "signal": 0.7, "model_version": "v1"}])
    store.save_agent_weights(D1, [{"agent": "trend", "alpha": 2.0, "beta": 1.0, "sample": 0.6, "weight": 0.5,
                                   "drift": 0, "reason": "ok", "resolved": 3, "hit_rate": 0.66, "ic": 0.1,
                                   "live_rate": None, "reference_rate": None}])
    store.save_moonshots(D1, [{"intent_id": "m1", "symbol": "KO", "weight": 0.01}])
    out["agent_picks"] = store.agent_picks_between(D1, D2)
    out["agent_weights"] = store.agent_weights(D2)
    out["moonshots"] = store.moonshots()
    # operators' questions
    q = Queries(store)
    out["last_closes"] = q.last_closes(["XOM", "KO"])
    out["fills_between"] = q.fills_between(None, "2017-03-31")
    out["step_seconds"] = [(node, round(seconds, 3)) for node, seconds in q.step_durations()]
    out["llm_by_provider"] = q.llm_calls()
    out["agents_on"] = q.agents_on(D1.isoformat())
    return json.loads(json.dumps(_masked(out), default=str))


def test_every_aggregate_writes_and_reads_back(store_location) -> None:
    store = Store(store_location)
    try:
        got = scenario(store)
    finally:
        store.close()
    assert got["bars_written"] == {"XOM": 3, "KO": 3}
    assert [s["stale"] for s in got["symbols"]] == [1, 0]
    assert got["order_new"] is True and got["order_again"] is False   # no order twice
    assert got["positions"]["XOM"]["peak"] == 95.0 and got["advanced"] == 1
    assert got["step_seconds"] == [["ingest", 1.5]]
    assert got["denied_pick"] == {"as_of": "2017-03-01", "score": 250.0,
                                  "denials": [{"rule": "max_weight", "reason": "over the cap"}]}
    assert got["no_denied_pick"] is None
    assert got["fills_between"] == [1, 1.25]
    assert got["llm_spend"] == [1, 0.01] and got["llm_by_provider"][0][3] == 0.0
    assert got["veto"] == [True, False] and got["enqueued"] == [True, False]
    assert got["outbox"][0]["next_attempt"] == "<time>" and got["outbox"][0]["attempts"] == 1
    assert got["cleared"] == 1 and got["desk_state"]["halted"] == 1
    assert got["trial_count"] == 1 and got["trials"][0]["end"] == "2017-03-02"


def test_both_backends_read_back_the_same_records(tmp_path, pg_server) -> None:
    """The same writes give equal records on SQLite and PostgreSQL (types and values, times aside)."""
    url = pg_kit.create_database(pg_server)
    try:
        stores = [Store(tmp_path / "desk.sqlite"), Store(url)]
        try:
            lite, pg = (scenario(s) for s in stores)
        finally:
            for s in stores:
                s.close()
    finally:
        pg_kit.drop_database(pg_server, url)
    assert {k: v for k, v in pg.items() if lite[k] != v} == {}


def test_an_old_store_is_migrated_to_the_current_schema(store_location) -> None:
    """A store written at schema v2 (before peak dates) opens at the current version with its rows kept."""
    from memory.db import ddl, open_database

    db = open_database(store_location, "store", "restore it")
    try:
        for v in (1, 2):
            for statement in (x.strip() for x in MIGRATIONS[v].split(";")):
                if statement:
                    db.execute(ddl(statement) if db.dialect == "postgresql" else statement)
        db.execute("INSERT INTO meta (key, value) VALUES ('schema_version', '2')")
        db.execute("INSERT INTO positions (symbol, quantity, avg_price, entry_date, initial_stop, peak, trail_pct, "
                   "tiers_hit, updated) VALUES ('XOM', 5, 90, '2017-01-03', 80, 95, 0.1, 0, 'now')")
    finally:
        db.close()
    store = Store(store_location)
    try:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.positions()["XOM"].peak_date == date(2017, 1, 3)
        assert store.trial_count() == 0   # the later tables exist
    finally:
        store.close()


def test_two_writers_at_once_record_each_order_once(store_location) -> None:
    first = Store(store_location)
    second = Store(store_location)
    won: list[tuple[int, str]] = []

    def write(who: int, store: Store) -> None:
        for i in range(40):
            with store.transaction():
                if store.record_order(f"c{i}", "i", "r", "XOM", "buy", 1.0, D1, "submitting"):
                    won.append((who, f"c{i}"))
                store.audit(f"writer{who}", "order", f"c{i}", None)

    threads = [threading.Thread(target=write, args=(n, s)) for n, s in ((1, first), (2, second))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert sorted(c for _, c in won) == sorted(f"c{i}" for i in range(40))
        assert len(first.orders()) == 40 and len(second.audit_log(limit=500)) == 80
    finally:
        first.close()
        second.close()


def test_two_stores_opening_a_new_database_at_once_migrate_it_once(store_location) -> None:
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            Store(store_location).close()
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    store = Store(store_location)
    assert store.schema_version() == SCHEMA_VERSION
    store.close()


def test_a_rollback_writes_nothing_and_forgets_the_day_memo(store_location) -> None:
    store = Store(store_location)
    try:
        store.save_agent_picks("r", D1, [{"agent": "trend", "symbol": "XOM", "horizon_days": 5,
                                          "reference_price": 1.0, "signal": 0.5, "model_version": "v"}])
        assert store.agent_picks_between(D1, D2)["symbol"] == ["XOM"]
        with pytest.raises(RuntimeError), store.transaction():
            store.save_agent_picks("r", D1, [])
            raise RuntimeError("crash mid-night")
        assert store.agent_picks_between(D1, D2)["symbol"] == ["XOM"]
    finally:
        store.close()


def test_a_night_rewritten_by_another_store_object_is_seen(store_location) -> None:
    """The day memos hold read days only while nobody else rewrote the table (another process or host)."""
    row = {"agent": "trend", "symbol": "XOM", "horizon_days": 5, "reference_price": 1.0, "signal": 0.5,
           "model_version": "v"}
    mine, other = Store(store_location), Store(store_location)
    try:
        mine.save_agent_picks("r", D1, [row])
        assert mine.agent_picks_between(D1, D2)["symbol"] == ["XOM"]
        other.save_agent_picks("r2", D1, [{**row, "symbol": "KO"}])
        assert mine.agent_picks_between(D1, D2)["symbol"] == ["KO"]
    finally:
        mine.close()
        other.close()


# ---------------------------------------------------------------------- PostgreSQL only
def test_postgres_errors_are_one_line_saying_what_to_do(pg_server) -> None:
    base = pg_server.rpartition("/")[0]
    port = pg_kit._free_port()
    cases = {
        f"postgresql://postgres@127.0.0.1:{port}/desk": "cannot reach PostgreSQL at postgresql://postgres@127.0.0.1",
        f"{base}/no_such_database": "the database does not exist",
        pg_server.replace("postgres@", "nobody@"): "refused the login",
        pg_server.replace("postgres@", "postgres:secret@"): "",
    }
    for url, expected in cases.items():
        if not expected:
            continue
        with pytest.raises(StoreError) as err:
            Store(url)
        line = str(err.value)
        assert expected in line and "\n" not in line and "secret" not in line


def test_the_password_never_appears_in_a_line(pg_server) -> None:
    url = f"postgresql://postgres:hunter2@127.0.0.1:{pg_kit._free_port()}/desk"
    with pytest.raises(StoreError) as err:
        Store(url)
    assert "hunter2" not in str(err.value) and "postgres@127.0.0.1" in str(err.value)


def test_a_replay_store_is_a_schema_of_the_desk_database_with_the_market(pg_store) -> None:
    desk = Store(pg_store)
    desk.write_bars({"XOM": kit.bars([1.0, 2.0, 3.0])}, {"XOM": "equity"}, "test")
    url = replay_url(pg_store, "2017-01-01_2017-12-31")
    assert schema_of(url) == "desk_replay_2017_01_01_2017_12_31"
    replay = Store(url)
    try:
        replay.copy_market_from(pg_store)
        assert replay.frame("close")["XOM"].tolist() == [1.0, 2.0, 3.0]
        replay.start_run("r", "night", "night", D1)
        assert desk.runs() == []    # the desk's own runs are not the replay's
    finally:
        replay.close()
        desk.close()
    drop_store(url)
    with pytest.raises(ValueError, match="only a replay's own store"):
        drop_store(pg_store)


def test_market_copied_across_backends_keeps_every_row(tmp_path, pg_store) -> None:
    lite = Store(tmp_path / "desk.sqlite")
    lite.write_bars({"XOM": kit.bars([1.0, 2.0, 3.0]), "KO": kit.bars([4.0, 5.0])}, {}, "test")
    lite.close()
    pg = Store(with_schema(pg_store, "copy_of_sqlite"))
    pg.copy_market_from(tmp_path / "desk.sqlite")
    back = Store(tmp_path / "back.sqlite")
    back.copy_market_from(with_schema(pg_store, "copy_of_sqlite"))
    try:
        assert pg.symbols() == back.symbols() and len(back.frame("close")) == 3
        assert back.frame("close").equals(pg.frame("close"))
    finally:
        pg.close()
        back.close()


def test_a_second_host_is_refused_the_book_naming_who_holds_it(pg_store) -> None:
    held = ServerLock(pg_store, "book", "running the night graph")
    held.acquire()
    try:
        with pytest.raises(LockHeld) as err:
            ServerLock(pg_store, "book", "loading data").acquire()
        line = str(err.value)
        assert "running the night graph" in line and f"pid {os.getpid()}" in line and "\n" not in line
        ServerLock(pg_store, "replay-x", "replaying").acquire()   # another lock is free
        ServerLock(with_schema(pg_store, "other_desk"), "book", "x").acquire()   # another desk's book is its own
    finally:
        held.release()
    ServerLock(pg_store, "book", "after").acquire()


def test_a_killed_holder_leaves_the_book_free(pg_store) -> None:
    code = ("import sys, time; from memory.locks import ServerLock; "
            "lock = ServerLock(sys.argv[1], 'book', 'running the morning graph'); lock.acquire(); print('held', flush=True); "
            "time.sleep(60)")
    child = subprocess.Popen([sys.executable, "-c", code, pg_store], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    try:
        assert child.stdout.readline().strip() == "held"
        with pytest.raises(LockHeld, match="running the morning graph"):
            ServerLock(pg_store, "book", "x").acquire()
    finally:
        child.kill()
        child.wait()
    import time

    for _ in range(50):   # the server notices the dead session at once on loopback; allow it a moment
        try:
            ServerLock(pg_store, "book", "after the kill").acquire()
            return
        except LockHeld:
            time.sleep(0.1)
    pytest.fail("the killed holder's lock was never released")


class _RegimeState(TypedDict):
    regime: Regime


def test_checkpoints_round_trip_on_postgres_with_the_allow_list(pg_store) -> None:
    from langgraph.graph import END, START, StateGraph

    from memory.checkpoint import open_checkpointer

    graph = StateGraph(_RegimeState)
    graph.add_node("calm", lambda s: {"regime": Regime.CALM_UPTREND})
    graph.add_edge(START, "calm")
    graph.add_edge("calm", END)
    saver = open_checkpointer(pg_store)
    open_checkpointer(pg_store).conn.close()   # a second process's setup() finds the tables there
    app = graph.compile(checkpointer=saver)
    config = {"configurable": {"thread_id": "night-1"}}
    app.invoke({"regime": Regime.HIGH_VOL_PANIC}, config)
    saver.conn.close()
    again = open_checkpointer(pg_store)
    try:
        assert graph.compile(checkpointer=again).get_state(config).values == {"regime": Regime.CALM_UPTREND}
    finally:
        again.conn.close()


def test_the_store_implements_every_aggregates_protocol() -> None:
    """Each aggregate's Protocol (memory/<aggregate>.py) names methods ``Store`` has, with the same parameters."""
    import inspect

    from memory.store import DeskStore

    protocols = [b for b in DeskStore.__mro__ if getattr(b, "_is_protocol", False) and b.__module__ != "typing"]
    assert len(protocols) >= 9
    for proto in protocols:
        for name, member in vars(proto).items():
            if name.startswith("_") or not callable(member):
                continue
            assert hasattr(Store, name), f"Store lacks {proto.__name__}.{name}"
            wanted = list(inspect.signature(member).parameters)
            assert list(inspect.signature(getattr(Store, name)).parameters) == wanted, f"{proto.__name__}.{name}"
