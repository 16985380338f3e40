"""The seams later capabilities plug into: the live book only moves forward, caches hold plain columnar data, a
missing verdict fails closed, sectors reach the risk reviewer, setup work is reported, who asked is audited, and no
secret reaches a record."""

from __future__ import annotations

import pickle
from datetime import date
from pathlib import Path

import pytest

from graph.nodes import picks, sizing
from graph.state import Pick
from tests import kit
from tests.kit import run_cli
from tools.market import MarketView

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------- the live book
def test_a_night_for_a_past_date_leaves_the_live_books_peaks_alone(home):
    d = kit.desk(home)
    close = d.ctx.market.price("KO", date(2017, 3, 2))
    kit.hold(d, "KO", 10.0, close * 0.9, stop=close * 0.8, peak=close * 0.95, entry_date="2017-03-01")
    d.store.db.execute("UPDATE positions SET peak_date = '2017-03-10'")  # the book is known through 03-10
    before = d.store.positions()["KO"]
    d.night(date(2017, 3, 2))  # its close is above the stored peak, but the night is in the book's past
    assert d.store.positions()["KO"].peak == before.peak
    d.night(date(2017, 3, 13))
    after = d.store.positions()["KO"]
    assert after.peak_date == date(2017, 3, 13)
    assert after.peak == max(before.peak, d.ctx.market.price("KO", date(2017, 3, 13)))


def test_a_night_before_a_holdings_entry_does_not_move_its_peak(home):
    d = kit.desk(home)
    price = d.ctx.market.price("XOM", date(2017, 3, 10))
    kit.hold(d, "XOM", 5.0, price, stop=price * 0.9, peak=price * 0.5, entry_date="2017-03-10")
    d.night(date(2017, 3, 2))  # a re-run of a night before the holding was bought
    assert d.store.positions()["XOM"].peak == price * 0.5


# ---------------------------------------------------------------------- caches
class _Detonator:
    def __reduce__(self):
        return (Path.touch, (Path("/tmp/desk-pickle-was-loaded"),))


def test_the_market_cache_is_parquet_and_a_planted_pickle_is_never_loaded(home):
    d = kit.desk(home)
    cache = d.ctx.config.cache_dir
    assert sorted(p.suffix for p in cache.iterdir() if p.is_file()) == [".parquet", ".parquet"]
    assert {p.suffix for p in cache.rglob("*") if p.is_file()} == {".parquet"}   # the bar frames' files too
    Path("/tmp/desk-pickle-was-loaded").unlink(missing_ok=True)
    (cache / f"market-{d.ctx.market.fingerprint()}.pkl").write_bytes(pickle.dumps(_Detonator()))
    fresh = MarketView(d.store, d.ctx.market.universe, d.ctx.market.benchmark, cache_dir=cache)
    assert len(fresh.features_on(date(2017, 3, 1))) == 20
    assert not Path("/tmp/desk-pickle-was-loaded").exists()


def test_a_damaged_market_cache_is_recomputed_not_trusted(home):
    d = kit.desk(home)
    for part in d.ctx.config.cache_dir.glob("*.parquet"):
        part.write_bytes(b"\0" * 64)
    fresh = MarketView(d.store, d.ctx.market.universe, d.ctx.market.benchmark, cache_dir=d.ctx.config.cache_dir)
    assert fresh.snapshot(date(2017, 3, 1)).regime
    assert all(p.stat().st_size > 64 for p in d.ctx.config.cache_dir.glob("*.parquet"))


# ---------------------------------------------------------------------- verdicts fail closed
def test_a_proposal_without_its_verdict_is_dropped_with_a_denial(home):
    d = kit.desk(home)
    day = date(2017, 3, 1)
    base = kit.run_nodes(d, [], {"run_id": "t", "as_of": day, "regime": "calm_uptrend"})
    reviewed, unreviewed = kit.proposal(symbol="KO", as_of=day), kit.proposal(symbol="PG", as_of=day)
    state = kit.run_nodes(d, [picks.picks], {**base, "proposals": [reviewed, unreviewed],
                                             "verdicts": [kit.verdict(reviewed)]})
    assert [p.symbol for p in state["picks"]] == ["KO"]
    [denial] = state["denials"]["PG"]
    assert denial.rule == "no_verdict" and unreviewed.key in denial.reason


def test_sizing_a_pick_whose_verdict_is_missing_fails_closed_and_says_which(home):
    d = kit.desk(home)
    day = date(2017, 3, 1)
    p = kit.proposal(symbol="KO", as_of=day)
    pick = Pick(symbol="KO", score=300, threshold=150, selected=True, agents=["trend"], proposal_keys=[p.key],
                dissent=0.0, parts={}, explanation="stub", price=34.0, vol_21d=0.2, ret_21d=0.01, stop=30.0,
                horizon_days=5)
    state = {"as_of": day, "regime": "calm_uptrend", "weather": d.ctx.market.snapshot(day), "picks": [pick],
             "verdicts": []}
    out = sizing.sizing(state, kit.runtime(d))
    assert out["sized"] == []
    assert out["denials"]["KO"][0].rule == "no_verdict" and p.key in out["denials"]["KO"][0].reason


# ---------------------------------------------------------------------- sectors
def test_the_risk_reviewer_sees_the_bundled_sectors_and_shrinks_a_crowded_one(home):
    d = kit.desk(home, settings={"rules": {"review_sectors": True}})
    out = d.night(date(2022, 12, 28))
    assert "new entries in Health Care (more than 3)" in out["review"].summary
    crowded = [s for s in out["sized"] if d.ctx.config.data.sectors.get(s.symbol) == "Health Care"]
    assert crowded and all(any(f.name == "risk_reviewer" for f in s.factors) for s in crowded)


def test_a_review_without_sectors_says_the_sector_check_did_not_run(home):
    out = kit.desk(home, settings={"data": {"sectors": {}}, "rules": {"review_sectors": True}}).night(date(2017, 3, 1))
    assert "sector check not run" in out["review"].summary or "without a sector" in out["review"].summary \
        or not out["sized"]


# ---------------------------------------------------------------------- setup work and who asked
def test_the_first_run_loads_data_and_trains_models_as_reported_steps(desk_home, capsys):
    code, out, err = run_cli(capsys, "run", "--phase", "night")
    assert code == 0, err
    assert "✓ load" in out and "✓ models" in out and "trained in" in out

    store = kit.open_store(desk_home)
    kinds = {r.kind: r.status for r in store.runs()}
    assert kinds == {"data_load": "ok", "night": "ok"}
    audit = [(a.action, a.actor) for a in store.audit_log()]
    assert ("data_load", audit[0][1]) in audit and audit[0][0] == "run" and audit[0][1].startswith("cli:")


def test_halt_and_resume_record_the_actor(home, capsys):
    assert run_cli(capsys, "halt", "--reason", "drill")[0] == 0
    assert run_cli(capsys, "resume")[0] == 0
    d = kit.desk(home)
    actors = [a.actor for a in d.store.audit_log()[:2]]
    assert all(a.startswith("cli:") for a in actors)


# ---------------------------------------------------------------------- secrets
class _LeakyBroker:
    """A broker adapter whose failure message echoes its credentials, as real SDKs sometimes do."""

    def __init__(self, real, secret: str) -> None:
        self.real, self.secret = real, secret

    def submit(self, order):
        raise ConnectionError(f"login rejected for password={self.secret} token=xoxb-1234567890-abcdefghij")

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_an_adapters_secret_never_reaches_a_run_record_a_step_or_a_breaker(home, monkeypatch):
    secret = "hunter2-very-secret"
    monkeypatch.setenv("BROKER_WEB_PASSWORD", secret)
    first = kit.desk(home)
    day = date(2017, 3, 1)
    first.night(day)
    d = kit.desk(home, broker=_LeakyBroker(first.ctx.broker, secret),
                 settings={"risk": {"max_consecutive_errors": 1}})
    with pytest.raises(ConnectionError):
        d.morning(day)
    [run] = [r for r in d.store.runs() if r.kind == "morning"]
    texts = [run.summary, *(s.summary for s in d.store.steps(run.run_id)),
             *(b.reason for b in d.store.breakers())]
    assert any("login rejected" in t for t in texts)
    assert not any(secret in t or "xoxb-1234567890" in t for t in texts)


def test_an_unexpected_error_is_logged_inside_desk_home_scrubbed(home, capsys, monkeypatch):
    from desk.actions import read

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-abcdefghijklmnopqrstuvwx")

    def boom(ctx, args):
        raise RuntimeError("provider said: invalid key sk-test-abcdefghijklmnopqrstuvwx")

    monkeypatch.setattr(read, "status", boom)
    code, _, err = run_cli(capsys, "status")
    assert code == 1 and f"details in {home / 'desk-error.log'}" in err and "sk-test" not in err
    log = (home / "desk-error.log").read_text()
    assert "Traceback" in log and "invalid key ***" in log and "sk-test" not in log


def test_an_unwritable_error_log_is_said_not_pointed_at(home, capsys, monkeypatch):
    from desk.actions import read

    (home / "desk-error.log").mkdir()
    monkeypatch.setattr(read, "status", lambda ctx, args: 1 / 0)
    code, _, err = run_cli(capsys, "status")
    assert code == 1 and "details could not be written" in err and "details in" not in err


# ---------------------------------------------------------------------- the network guard
INNER_TEST = '''
import socket
from datetime import date

import pytest

from graph.providers import RulesProvider, with_fallback
from vocab.contracts import WEATHER_LAYERS, LayerReading, WeatherSnapshot

SNAP = WeatherSnapshot(as_of=date(2015, 6, 1), regime="calm_uptrend", base_regime="calm_uptrend",
                       sizing_modifier=1, risk_throttle=1, experts={}, notes=[],
                       layers={n: LayerReading(state="ok", score=0.0, available=True, source="t") for n in WEATHER_LAYERS})


class Online:
    name = "online"

    def weather(self, snapshot):
        socket.create_connection(("203.0.113.7", 443), timeout=1)


def test_forgot_to_stub_the_llm():
    view = with_fallback(Online(), RulesProvider()).weather(SNAP)
    assert view.narrative  # would pass on the rules fallback if the guard's error were swallowed


@pytest.fixture(scope="session")
def online_session():
    return socket.getaddrinfo("example.com", 443)


def test_a_session_fixture_is_guarded_too(online_session):
    pass
'''


def test_a_test_that_reaches_the_internet_fails_loudly_even_behind_a_fallback(pytester):
    pytester.makeconftest((ROOT / "tests" / "conftest.py").read_text())
    pytester.makepyfile(test_inner=INNER_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1, errors=1)
    text = result.stdout.str()
    assert "NetworkBlocked: tests may not resolve '203.0.113.7'" in text
    assert "NetworkBlocked: tests may not resolve 'example.com'" in text
