"""A desk on PostgreSQL: several hosts on one store, the run lock across them, and `desk store copy`.

Two ``DESK_HOME`` folders on one PostgreSQL database stand for two hosts: each has its own files (models, caches,
the paper broker's account), and they share the store and the checkpoints.
"""

from __future__ import annotations

import json
import shutil
from datetime import date

import pytest

from memory.locks import ServerLock
from memory.store import Store
from tests import kit, pg_kit

NIGHT = date(2017, 3, 1)


@pytest.fixture
def second_host(pg_home, tmp_path):
    """Another host's home on the same PostgreSQL desk (a copy of the first's files, the same store URL)."""
    other = tmp_path / "host-b"
    shutil.copytree(pg_home, other)
    return other


def test_two_hosts_see_one_book_halt_and_run_history(pg_home, second_host, capsys, monkeypatch):
    code, out, err = kit.run_cli(capsys, "run", "--date", NIGHT.isoformat(), "--json")   # host A runs
    assert code == 0, err
    ran = json.loads(out)
    monkeypatch.setenv("DESK_HOME", str(second_host))                                  # host B looks
    code, out, err = kit.run_cli(capsys, "status", "--json")
    assert code == 0, err
    status = json.loads(out)
    bought = {r["symbol"] for r in ran["morning"]["results"] if r["side"] == "buy" and r["status"] == "filled"}
    assert set(status["positions"]) == bought != set()
    assert ran["night"]["run_id"] in json.dumps(status["last_runs"])
    code, out, err = kit.run_cli(capsys, "ops", "halt", "CPI print at 8:30")               # host B halts
    assert code == 0, err
    monkeypatch.setenv("DESK_HOME", str(pg_home))                                      # host A obeys
    code, out, err = kit.run_cli(capsys, "run", "--date", "2017-03-02", "--json")
    assert code == 0, err
    assert not [r for r in json.loads(out)["morning"]["results"] if r["side"] == "buy" and r["status"] == "filled"]
    store = kit.open_store(pg_home)
    try:
        assert store.desk_state().reason == "CPI print at 8:30"
        assert any(a.action == "halt" for a in store.audit_log())
    finally:
        store.close()


def test_a_run_while_another_host_holds_the_book_is_refused_naming_it(pg_home, capsys):
    url = kit.settings_of(pg_home).store.url
    held = ServerLock(url, "book", "running the morning graph")
    held.acquire()
    try:
        before = kit.store_fingerprint(pg_home)
        code, out, err = kit.run_cli(capsys, "run", "--date", NIGHT.isoformat())
        assert code == 2 and "running the morning graph" in err and len(err.strip().splitlines()) == 1
        assert kit.store_fingerprint(pg_home) == before
    finally:
        held.release()


def test_store_copy_moves_a_desk_and_every_count_matches(home, pg_store, capsys, monkeypatch):
    d = kit.desk(home, checkpointing=True)
    d.night(NIGHT)
    d.morning(NIGHT)
    d.ctx.store.close()
    code, out, err = kit.run_cli(capsys, "store", "copy", "--to", pg_store, "--json")
    assert code == 0, err
    copied = json.loads(out)
    lite = Store(home / "desk.sqlite")
    pg = Store(pg_store)
    try:
        for table, n in copied["rows"].items():
            assert pg.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == n + (table == "audit")
        assert pg.positions() == lite.positions() and pg.runs() == lite.runs()
        assert pg.audit_log(limit=1)[0].action == "store_copy"
        assert copied["checkpoints"] == 2
        pg.record_llm_call({"call_key": "k", "role": "overlay", "provider": "p", "model": "m", "prompt_id": "o",
                            "prompt_version": "v1", "input_hash": "h", "status": "ok", "prompt": "p"})  # ids go on
    finally:
        lite.close()
        pg.close()
    monkeypatch.setenv("DESK_STORE__URL", pg_store)   # the copied desk answers like the file did
    code, out, err = kit.run_cli(capsys, "ops", "weather")
    assert code == 0 and NIGHT.isoformat() in out, err


def test_store_copy_refuses_a_target_that_holds_a_desk_and_changes_nothing(home, pg_store, capsys):
    assert kit.run_cli(capsys, "store", "copy", "--to", pg_store)[0] == 0
    target = Store(pg_store)
    target.set_halted(True, "the target's own halt", "ops")
    target.close()
    before = pg_kit.fingerprint(pg_store)
    code, out, err = kit.run_cli(capsys, "store", "copy", "--to", pg_store)
    assert code == 2 and "already holds a desk" in err and "--force" in err and len(err.strip().splitlines()) == 1
    assert pg_kit.fingerprint(pg_store) == before
    code, out, err = kit.run_cli(capsys, "store", "copy", "--to", pg_store, "--force")
    assert code == 0 and "replacing the desk it held" in " ".join(out.split()), err
    target = Store(pg_store)
    assert not target.desk_state().halted
    target.close()


@pytest.mark.parametrize("to, message", [
    ("sqlite:///tmp/x.db", "--to must be a PostgreSQL URL"),
    ("desk.sqlite", "--to must be a PostgreSQL URL"),
])
def test_store_copy_to_a_bad_url_is_one_line(home, capsys, to, message):
    code, out, err = kit.run_cli(capsys, "store", "copy", "--to", to)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_store_copy_to_a_server_that_is_down_is_one_line(home, capsys):
    url = f"postgresql://postgres@127.0.0.1:{pg_kit._free_port()}/desk"
    code, out, err = kit.run_cli(capsys, "store", "copy", "--to", url)
    assert code == 2 and "cannot reach PostgreSQL" in err and "start the server" in err
    assert len(err.strip().splitlines()) == 1
