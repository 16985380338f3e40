"""The desk with ``broker.kind = alpaca`` against the loopback Alpaca API, through the real `desk` command: a morning
end to end, keys that appear nowhere after it, keys missing or refused in one line (exit 2), and the crash suite —
the morning SIGKILLed at every step and around every order, then re-run — with no order placed twice or lost."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from brokers.alpaca.loopback import serve
from graph.morning import MORNING_NODES
from tests import kit
from tests.alpaca_kit import FAST, alpaca_broker, alpaca_env

ROOT = Path(__file__).resolve().parents[1]
FIRST, DAY = date(2017, 3, 1), date(2017, 3, 8)
FIRST_MORNING, DAY_MORNING = "bundled:2017-03-02", "bundled:2017-03-09"
SECRET_ID, SECRET_KEY = "PKLEAKCHECK0000000001", "leak-check-secret-never-anywhere-0001"


def _env(home: Path, server, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DESK_", "APCA_"))}
    return {**env, "DESK_HOME": str(home), **(alpaca_env(server) if server is not None else {}), **extra}


def _desk(home: Path, server, *args: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "desk.cli", *args], cwd=ROOT, env=_env(home, server, **extra),
                          capture_output=True, text=True, timeout=300)


def _ok(run: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert run.returncode == 0, run.stderr
    return run


# ---------------------------------------------------------------- one morning, and the keys


def test_a_morning_through_alpaca_places_each_order_once_and_the_books_agree(home):
    _ok(_desk(home, None, "run", "--phase", "night", "--date", FIRST.isoformat()))
    slack = {"DESK_SLACK__CHANNEL": "C0LEAKCHECK", "SLACK_BOT_TOKEN": "xoxb-leak-check-token",
             "DESK_SLACK__API_URL": "http://127.0.0.1:9/api/"}  # Slack down: every message waits in the outbox
    with serve(prices=FIRST_MORNING, keys=(SECRET_ID, SECRET_KEY)) as server:
        out = _ok(_desk(home, server, "run", "--phase", "morning", "--date", FIRST.isoformat(), **slack))
        assert "Alpaca paper account" in out.stdout
        outbox = sqlite3.connect(home / "desk.sqlite").execute("SELECT payload FROM outbox").fetchall()
        assert any("Alpaca paper account" in row[0] for row in outbox), "the outbox holds the morning's messages"
        store = kit.desk(home).store
        sent = [o for o in store.orders() if o.status == "filled"]
        assert sent and all(server.book.booked(o.client_order_id) == 1 for o in sent)
        held = {p["symbol"]: p["qty"] for p in server.book.positions()}
        assert {s: round(p.quantity, 6) for s, p in store.positions().items()} == \
            {s: round(float(q), 6) for s, q in held.items()}
        again = _ok(_desk(home, server, "run", "--phase", "morning", "--date", FIRST.isoformat()))
        assert len(server.book.orders()) == len(sent), again.stdout  # a re-run sends nothing again
    for path in [p for p in home.rglob("*") if p.is_file()]:
        data = path.read_bytes()
        assert SECRET_ID.encode() not in data and SECRET_KEY.encode() not in data, f"a key leaked into {path}"
    assert SECRET_KEY not in out.stdout + out.stderr and SECRET_ID not in out.stdout + out.stderr


def test_missing_keys_are_one_line_and_exit_2(home):
    run = _desk(home, None, "run", "--phase", "morning", "--date", FIRST.isoformat(), DESK_BROKER__KIND="alpaca")
    assert run.returncode == 2 and "APCA_API_KEY_ID" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr


def test_refused_keys_are_one_line_and_exit_2(home):
    _ok(_desk(home, None, "run", "--phase", "night", "--date", FIRST.isoformat()))
    with serve(prices=FIRST_MORNING) as server:
        run = _desk(home, server, "run", "--phase", "morning", "--date", FIRST.isoformat(),
                    APCA_API_SECRET_KEY="a-wrong-secret-key-1234")
        assert run.returncode == 2 and "refused the API keys" in run.stderr and "APCA_API_SECRET_KEY" in run.stderr
        assert "a-wrong-secret-key-1234" not in run.stderr and "Traceback" not in run.stderr
        assert len(run.stderr.strip().splitlines()) == 1 and server.book.orders() == []


# ---------------------------------------------------------------- the crash suite against Alpaca

MORNING_POINTS = [f"node-{w}:{n}" for n, _ in MORNING_NODES for w in ("start", "end")] + \
    [f"submit-{w}:{i}" for i in (1, 2, 3, 4) for w in ("before", "after")]


@pytest.fixture(scope="module")
def alpaca_seed(seeded_home, tmp_path_factory):
    """A book one week old, held at the loopback Alpaca (the entries of the 2017-03-01 night, one with a stop so
    close that 2017-03-08 crosses two profit tiers), and the 2017-03-08 night already run: (home, book state)."""
    home = kit.clone_home(seeded_home, tmp_path_factory.mktemp("alpaca-crash") / "home")
    with serve(prices=FIRST_MORNING) as server:
        _ok(_desk(home, server, "run", "--date", FIRST.isoformat()))
        d = kit.desk(home)
        gains = {s: d.ctx.market.price(s, DAY) / p.avg_price - 1 for s, p in d.store.positions().items()}
        sym = max(gains, key=gains.get)
        assert gains[sym] > 0, "the seed needs a holding that gained by 2017-03-08"
        row = d.store.positions()[sym]
        gain = d.ctx.market.price(sym, DAY) - row.avg_price
        d.store.upsert_position(row.model_copy(update={"initial_stop": row.avg_price - gain / 2.2}))
        d.store.close()
        _ok(_desk(home, server, "run", "--phase", "night", "--date", DAY.isoformat()))
        return home, server.book.state()


def _server(state):
    server = serve(prices=DAY_MORNING)
    server.book.load(state)
    return server


def _book(home: Path, server) -> dict:
    conn = sqlite3.connect(home / "desk.sqlite")
    q = lambda sql: sorted(conn.execute(sql).fetchall())
    book = {
        "orders": q("SELECT client_order_id, symbol, side, round(quantity, 9), status FROM orders"),
        "fills": q("SELECT fill_id, round(quantity, 9), round(price, 9), round(commission, 9) FROM fills"),
        "positions": q("SELECT symbol, round(quantity, 9), round(avg_price, 9), entry_date, round(initial_stop, 9), "
                       "round(peak, 9), peak_date, trail_pct, tiers_hit FROM positions"),
        "intents": q("SELECT intent_id, status, round(quantity, 9) FROM intents"),
        "snapshots": q("SELECT date, round(cash, 6), round(equity, 6) FROM snapshots"),
        "running": q("SELECT run_id FROM runs WHERE status = 'running'"),
    }
    conn.close()
    book["alpaca"] = sorted((o.client_order_id, o.status, round(o.filled_qty, 9)) for o in server.book.orders())
    book["alpaca_cash"] = round(server.book.cash, 6)
    book["alpaca_refusals"] = sorted(server.book.refusals)
    return book


@pytest.fixture(scope="module")
def alpaca_reference(alpaca_seed, tmp_path_factory) -> dict:
    seed, state = alpaca_seed
    home = kit.clone_home(seed, tmp_path_factory.mktemp("alpaca-reference") / "home")
    with _server(state) as server:
        _ok(_desk(home, server, "run", "--phase", "morning", "--date", DAY.isoformat()))
        book = _book(home, server)
    sides = {side for _, _, side, _, status in book["orders"] if status == "filled"}
    assert sides == {"buy", "sell"}, "the reference morning must both trim a holding and enter new ones"
    return book


@pytest.mark.slow
@pytest.mark.parametrize("point", MORNING_POINTS)
def test_an_alpaca_morning_killed_anywhere_then_rerun_places_no_order_twice_and_loses_none(
        point, alpaca_seed, alpaca_reference, tmp_path):
    seed, state = alpaca_seed
    home = kit.clone_home(seed, tmp_path / "home")
    with _server(state) as server:
        killed = subprocess.run([sys.executable, "-m", "tests.crash_harness", str(home), "morning", DAY.isoformat(),
                                 point], cwd=ROOT, env=_env(home, server), capture_output=True, text=True, timeout=300)
        assert killed.returncode in (-9, 0), killed.stderr
        _ok(_desk(home, server, "run", "--phase", "morning", "--date", DAY.isoformat()))
        book = _book(home, server)
    assert book == alpaca_reference
    assert all(n == 1 for n in (server.book.booked(cid) for cid, *_ in book["alpaca"]))


# ---------------------------------------------------------------- the market clock: the morning says why it waits


def _steps(d, run_kind: str = "morning") -> dict[str, str]:
    run = d.store.runs(kind=run_kind)[0]
    return {s.node: s.summary for s in d.store.steps(run.run_id)}


@pytest.mark.parametrize(("faults", "prices", "words"), [
    ("closed", FIRST_MORNING, "the market is closed at the broker"),
    ("holiday", FIRST_MORNING, "the broker's calendar does not list a session on 2017-03-02"),
    ("", "bundled:2017-03-03", "the morning is for the session of 2017-03-02, which has passed"),
])
def test_a_morning_the_broker_cannot_trade_now_sends_nothing_says_why_and_trades_when_it_can(
        home, faults, prices, words):
    with serve(prices=prices, faults=faults) as server:
        broker = alpaca_broker(server)
        d = kit.desk(home, broker=broker)
        d.night(FIRST)
        d.morning(FIRST)
        assert server.book.orders() == [] and d.store.orders() == []
        assert words in _steps(d)["execute"] and "nothing sent, waiting" in _steps(d)["execute"]
        assert {i.status for i in d.store.intents(as_of=FIRST)} <= {"pending", "skipped"}
        server.set_faults(None)
        server.set_session(FIRST_MORNING)
        d.morning(FIRST)  # the next morning run of the same session trades the intents that waited
        placed = [o for o in d.store.orders() if o.status == "filled"]
        assert placed and all(server.book.booked(o.client_order_id) == 1 for o in placed)


def test_a_live_account_is_named_in_the_report_of_every_run_and_the_mornings_book_check(home):
    with serve(prices=FIRST_MORNING) as server:
        live = alpaca_broker(server, FAST.model_copy(update={"live": True}))
        d = kit.desk(home, broker=live)
        d.night(FIRST)
        d.morning(FIRST)
        steps = _steps(d)
        assert steps["check_book"].startswith("LIVE TRADING") and steps["report"].startswith("LIVE TRADING")
        assert _steps(d, "night")["report"].startswith("LIVE TRADING")
        paper = kit.desk(home, broker=alpaca_broker(server))
        paper.morning(FIRST)
        assert "LIVE" not in _steps(paper)["report"] and "Alpaca paper account" in _steps(paper)["check_book"]
