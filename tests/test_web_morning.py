"""A morning executed through the Selenium web broker against the sandbox, in real headless Chromium: each order
placed once — with each fault switch on in turn — the book reconciled, a screenshot for every step."""

from __future__ import annotations

from datetime import date

import pytest

from brokers.sandbox import serve
from tests import kit
from tests.browser_kit import browser, web_broker  # noqa: F401 - the module's browser fixture

pytestmark = pytest.mark.slow
NIGHT, SESSION = date(2017, 3, 1), date(2017, 3, 2)


@pytest.fixture(scope="module")
def night_home(seeded_home, tmp_path_factory):
    home = kit.clone_home(seeded_home, tmp_path_factory.mktemp("web") / "home")
    out = kit.desk(home).night(NIGHT)
    assert len([i for i in out["intents"] if i.side == "buy"]) >= 3
    return home


@pytest.mark.parametrize("faults", ["", "rerender", "lost_confirmation", "slow=0.2", "expire=6", "reject=0.3"])
def test_a_web_morning_places_each_order_once_reconciles_and_photographs_every_step(faults, night_home, browser,
                                                                                     tmp_path):
    home = kit.clone_home(night_home, tmp_path / "home")
    server = serve(0, prices=f"bundled:{SESSION}", faults=faults)
    try:
        d = kit.desk(home, broker=web_broker(server, browser, home / "artifacts"))
        out = d.morning(NIGHT)
        sent = [r for r in out["results"] if r.client_order_id]
        assert sent, out["results"]
        booked = {o.reference for o in server.book.orders()}
        assert len(server.book.orders()) == len(booked)  # one booking per client_order_id
        assert booked <= {r.client_order_id for r in sent}
        rerun = kit.desk(home, broker=web_broker(server, browser, home / "artifacts")).morning(NIGHT)
        assert len(server.book.orders()) == len(booked)  # a re-run places nothing twice
        assert all(r.status in ("already_done", "skipped") or r.client_order_id in booked for r in rerun["results"])
        held = {h.symbol: h.quantity for h in server.book.holdings()}
        assert {s: p.quantity for s, p in d.store.positions().items()} == pytest.approx(held)
        shots = list((home / "artifacts" / out["run_id"]).glob("*.png"))
        assert len(shots) >= len(booked) and (home / "artifacts" / out["run_id"] / "steps.jsonl").is_file()
        assert not [b for b in d.store.breakers() if b.name == "reconcile"]
    finally:
        server.stop()


def test_desk_run_with_broker_kind_web_executes_the_morning_in_a_browser(night_home, browser, tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    home = kit.clone_home(night_home, tmp_path / "home")
    server = serve(0, prices=f"bundled:{SESSION}")
    c = server.credentials
    env = kit.child_env()
    env.update(DESK_HOME=str(home), DESK_BROKER__KIND="web", DESK_BROKER__URL=server.url, BROKER_WEB_USER=c.user,
               BROKER_WEB_PASSWORD=c.password, BROKER_WEB_TOTP_SECRET=c.totp_secret)
    try:
        proc = subprocess.run([sys.executable, "-m", "desk.cli", "run", "--phase", "morning", "--date",
                               NIGHT.isoformat(), "--json"], cwd=Path(__file__).resolve().parents[1], env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        results = json.loads(proc.stdout)["morning"]["results"]
        assert [r for r in results if r["status"] == "filled"]
        assert len(server.book.orders()) == len({o.reference for o in server.book.orders()})
        assert c.password not in proc.stdout + proc.stderr
    finally:
        server.stop()
