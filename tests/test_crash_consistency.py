"""Crash consistency (ARCHITECTURE.md: invariant 3): the night and the morning SIGKILLed after each of their steps and
around each order, then re-run from the command line — a killed morning by `desk run --phase morning` or by a plain
`desk run` (the night is frozen once its morning started: ARCHITECTURE.md: invariant 10) — leave the same orders,
fills, book — stops, trails and tiers included — and decisions as a run that never stopped; no run is left
``running``; nothing is written twice.

The victim is ``tests/crash_harness.py`` in a process of its own; the recovery is the real ``desk run``. The
morning's suite runs on both store backends: on PostgreSQL each case's store is a fresh database cloned from the
seed's, and its book must equal the same reference (a run that never stopped, on SQLite).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from graph.morning import MORNING_NODES
from graph.night import NIGHT_NODES
from tests import kit

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
FIRST, DAY = date(2017, 3, 1), date(2017, 3, 8)
MORNING_POINTS = [f"node-{w}:{n}" for n, _ in MORNING_NODES for w in ("start", "end")] + \
    [f"submit-{w}:{i}" for i in (1, 2, 3, 4) for w in ("before", "after")]
NIGHT_POINTS = [f"node-end:{n}" for n, _ in NIGHT_NODES] + \
    [f"node-start:{n}" for n in ("models", "agents", "overlay", "picks", "write_intents", "report")]


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESK_")}
    url = (home.parent / "store-url").read_text() if (home.parent / "store-url").is_file() else None
    return {**env, "DESK_HOME": str(home), **({"DESK_STORE__URL": url} if url else {})}


def _desk_cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "desk.cli", *args], cwd=ROOT, env=_env(home),
                          capture_output=True, text=True, timeout=300)


def _kill(home: Path, phase: str, point: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tests.crash_harness", str(home), phase, DAY.isoformat(), point],
                          cwd=ROOT, env=_env(home), capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="session")
def crash_pg_seed(crash_seed, pg_server) -> str:
    """The crash seed's store and checkpoints in a PostgreSQL template database."""
    from memory.copy import copy_desk
    from tests import pg_kit

    url = pg_kit.create_database(pg_server)
    copy_desk(crash_seed / "desk.sqlite", crash_seed / "checkpoints.sqlite", url)
    return url.rpartition("/")[2]


@pytest.fixture(params=["sqlite", "postgresql"])
def case_home(request, crash_seed, tmp_path):
    """A copy of the crash seed on one backend (PostgreSQL: its store a fresh clone of the seed's database, named
    in ``store-url`` beside the home, which ``_env`` passes to every process of the case)."""
    home = kit.clone_home(crash_seed, tmp_path / "home")
    if request.param == "sqlite":
        yield home
        return
    from tests import pg_kit

    server = request.getfixturevalue("pg_server")
    url = pg_kit.create_database(server, template=request.getfixturevalue("crash_pg_seed"))
    (tmp_path / "store-url").write_text(url)
    yield home
    pg_kit.drop_database(server, url)


@pytest.fixture(scope="session")
def crash_seed(seeded_home, tmp_path_factory) -> Path:
    """A book one week old: the entries of 2017-03-01, one of them with a stop so close that 2017-03-08 crosses
    two profit tiers (a trim that tightens its trail) — beside that night's new entries."""
    home = kit.clone_home(seeded_home, tmp_path_factory.mktemp("crash") / "home")
    d = kit.desk(home, checkpointing=True)
    d.night(FIRST)
    d.morning(FIRST)
    gains = {s: d.ctx.market.price(s, DAY) / p.avg_price - 1 for s, p in d.store.positions().items()}
    sym = max(gains, key=gains.get)
    assert gains[sym] > 0, "the seed needs a holding that gained by 2017-03-08"
    row = d.store.positions()[sym]
    gain = d.ctx.market.price(sym, DAY) - row.avg_price
    d.store.upsert_position(row.model_copy(update={"initial_stop": row.avg_price - gain / 2.2}))
    d.store.close()
    return home


def _rounded(row: tuple, places: int = 9) -> tuple:
    return tuple(round(v, places) if isinstance(v, float) else v for v in row)


def _book(home: Path) -> dict:
    """Everything a crash could get wrong, keyed so that two equal books compare equal (on either backend)."""
    from memory.db import open_database

    url = _env(home).get("DESK_STORE__URL")
    conn = open_database(url or home / "desk.sqlite", "store", "")
    q = lambda sql, places=9: sorted(_rounded(tuple(r), places) for r in conn.execute(sql).fetchall())
    book = {
        "orders": q("SELECT client_order_id, symbol, side, quantity, status FROM orders"),
        "fills": q("SELECT fill_id, quantity, price, commission FROM fills"),
        "positions": q("SELECT symbol, quantity, avg_price, entry_date, initial_stop, peak, peak_date, trail_pct, "
                       "tiers_hit FROM positions"),
        "intents": q("SELECT intent_id, status, quantity FROM intents"),
        "decisions": q("SELECT 'picks', as_of, count(*) FROM picks GROUP BY as_of UNION ALL "
                       "SELECT 'verdicts', as_of, count(*) FROM verdicts GROUP BY as_of UNION ALL "
                       "SELECT 'proposals', as_of, count(*) FROM proposals GROUP BY as_of"),
        "snapshots": q("SELECT date, cash, equity FROM snapshots", 6),
        "running": q("SELECT run_id FROM runs WHERE status = 'running'"),
    }
    conn.close()
    broker = sqlite3.connect(home / "paper_broker.sqlite")
    book["broker"] = sorted(broker.execute("SELECT client_order_id, status, round(filled_qty, 9) FROM orders"))
    book["cash"] = round(broker.execute("SELECT cash FROM account").fetchone()[0], 6)
    broker.close()
    return book


@pytest.fixture(scope="session")
def reference(crash_seed, tmp_path_factory) -> dict:
    home = kit.clone_home(crash_seed, tmp_path_factory.mktemp("reference") / "home")
    run = _desk_cli(home, "run", "--date", DAY.isoformat())
    assert run.returncode == 0, run.stderr
    book = _book(home)
    sides = {side for _, _, side, _, status in book["orders"] if status == "filled"}
    assert sides == {"buy", "sell"}, "the reference morning must both trim a holding and enter new ones"
    assert any(tiers >= 2 for *_, tiers in book["positions"]), "the trimmed holding records its tiers"
    return book


def _recover(home: Path, phase: str, code: int = 0) -> subprocess.CompletedProcess:
    """`desk run --date DAY`, for one phase or (``all``) as an operator types it: night and morning; exits ``code``."""
    run = _desk_cli(home, "run", *(("--phase", phase) if phase != "all" else ()), "--date", DAY.isoformat())
    assert run.returncode == code, run.stderr
    return run


@pytest.mark.parametrize("point", MORNING_POINTS)
def test_a_morning_killed_anywhere_then_rerun_equals_one_that_never_stopped(point, case_home, reference):
    home = case_home
    assert _desk_cli(home, "run", "--phase", "night", "--date", DAY.isoformat()).returncode == 0
    killed = _kill(home, "morning", point)
    assert killed.returncode in (-9, 0), killed.stderr  # 0: the point is past the last order of this morning
    _recover(home, "morning")
    assert _book(home) == reference


@pytest.fixture(scope="session")
def planned(crash_seed, tmp_path_factory) -> Path:
    """The seed after the night of DAY: what each killed morning of the plain-run cases starts from."""
    home = kit.clone_home(crash_seed, tmp_path_factory.mktemp("planned") / "home")
    night = _desk_cli(home, "run", "--phase", "night", "--date", DAY.isoformat())
    assert night.returncode == 0, night.stderr
    return home


@pytest.mark.parametrize("point", MORNING_POINTS)
def test_a_morning_killed_anywhere_then_a_plain_desk_run_equals_one_that_never_stopped(point, planned, reference,
                                                                                      tmp_path):
    """Recovered as an operator types it, `desk run --date DAY` (night and morning): the night is frozen once its
    morning started, so the run resumes the morning and never re-plans the night under it."""
    home = kit.clone_home(planned, tmp_path / "home")
    killed = _kill(home, "morning", point)
    assert killed.returncode in (-9, 0), killed.stderr
    _recover(home, "all")
    assert _book(home) == reference


@pytest.mark.parametrize("point", NIGHT_POINTS)
def test_a_night_killed_anywhere_then_rerun_equals_one_that_never_stopped(point, crash_seed, reference, tmp_path):
    home = kit.clone_home(crash_seed, tmp_path / "home")
    killed = _kill(home, "night", point)
    assert killed.returncode == -9, killed.stderr
    _recover(home, "night")
    _recover(home, "morning")
    assert _book(home) == reference


def test_a_killed_run_is_resumed_and_never_left_running(crash_seed, tmp_path):
    home = kit.clone_home(crash_seed, tmp_path / "home")
    assert _kill(home, "night", "node-end:overlay").returncode == -9
    store = kit.desk(home).store
    [killed] = store.runs(kind="night", status="running")
    _recover(home, "night")
    row = store.run(killed.run_id)
    assert row.status == "ok"  # resumed from its checkpoint, on its own thread
    assert [r.run_id for r in store.runs(kind="night") if r.as_of == DAY] == [killed.run_id]


def test_a_run_killed_before_its_first_checkpoint_is_closed_as_killed(crash_seed, tmp_path):
    home = kit.clone_home(crash_seed, tmp_path / "home")
    d = kit.desk(home, checkpointing=True)
    d.store.start_run("night-2017-03-08-dead00", "night", "night", DAY)  # a process died right after this
    _recover(home, "night")
    assert d.store.run("night-2017-03-08-dead00").status == "killed"
    assert "before the first checkpoint" in d.store.run("night-2017-03-08-dead00").summary


def test_a_halt_issued_while_a_killed_morning_waits_holds_when_it_is_resumed(crash_seed, reference, tmp_path):
    home = kit.clone_home(crash_seed, tmp_path / "home")
    assert _desk_cli(home, "run", "--phase", "night", "--date", DAY.isoformat()).returncode == 0
    assert _kill(home, "morning", "node-start:execute").returncode == -9  # validated, nothing sent yet
    assert _desk_cli(home, "halt", "--reason", "drill after the kill").returncode == 0
    resumed = _recover(home, "morning", code=4)  # a morning whose entries the halt stops is a warning: exit 4
    assert "entry halted" in resumed.stderr + resumed.stdout
    book = _book(home)
    before = {o[0] for o in _first_orders(crash_seed)}
    today = [o for o in book["orders"] if o[0] not in before]
    assert not [o for o in today if o[2] == "buy" and o[4] == "filled"], "no entry while halted"
    assert [o for o in today if o[2] == "sell" and o[4] == "filled"], "exits still run while halted"
    entries = [i for i in book["intents"] if i[0].startswith(DAY.isoformat()) and ":buy:" in i[0]]
    assert entries and all(status == "skipped" for _, status, _ in entries)


def _first_orders(home: Path) -> list:
    conn = sqlite3.connect(home / "desk.sqlite")
    rows = conn.execute("SELECT client_order_id, symbol, side, round(quantity, 9), status FROM orders").fetchall()
    conn.close()
    return rows
