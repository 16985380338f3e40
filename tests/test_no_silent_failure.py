"""No failure is silent (ARCHITECTURE.md: invariant 9, issue 19 item 2): a scheduled run that fails or is skipped is a run in the store
with its reason, counted in /metrics, posted to the errors channel, shown by `desk status`; /health answers 503 with
the reasons; a step that halts entries is a warning and `desk run` exits 4; `pnl all` measures from inception."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import date, datetime

import pytest

from desk.serve.main import Serve
from desk.serve.schedule import NY, DeskSchedule
from memory.schedule import ScheduleLog
from memory.store import Store
from tests import kit
from tests.broker_kit import order
from tests.kit import run_cli
from tests.slack_kit import FakeSlack, settings

NIGHT = date(2017, 3, 1)
SESSION = date(2017, 3, 2)
# a clock on the day after the bundled data's last session: the data is 0 sessions old, nothing else is wrong
FRESH = datetime(2022, 12, 29, 12, 0, tzinfo=NY)


@pytest.fixture
def fake():
    f = FakeSlack().start()
    yield f
    f.stop()


def _serve(home, fake, clock=lambda: FRESH, **kw):
    s = settings(home, fake, slack={"mode": "http", "errors_channel": "CERRORS"})
    server = Serve(s, host="127.0.0.1", port=0, scheduler=False, clock=clock, **kw).start()
    server.url = f"http://127.0.0.1:{server.port.port}"
    return server


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_health_is_200_on_fresh_data_with_nothing_wrong(home, fake):
    server = _serve(home, fake)
    try:
        code, body = _get(server.url + "/health")
        assert code == 200, body
        assert json.loads(body)["reasons"] == [] and json.loads(body)["data"]["age_sessions"] == 0
    finally:
        server.stop()


def test_a_scheduled_run_that_fails_before_its_graph_is_a_stored_run_counted_alerted_and_a_503(home, fake, capsys):
    when = datetime(2022, 12, 29, 22, 30, tzinfo=NY)  # the night of 12-29: the bundled data has no bar that day
    server = _serve(home, fake, clock=lambda: when)
    try:
        schedule = DeskSchedule(server.settings.schedule, server.scheduled_run, clock=lambda: when,
                                heard=server.heard)
        fire, outcome = schedule.fire("night")
        assert (fire.action, fire.night) == ("run", date(2022, 12, 29)) and isinstance(outcome, Exception)
        store = Store(home / "desk.sqlite")
        [run] = [r for r in store.runs(limit=20) if r.kind == "night" and r.as_of == date(2022, 12, 29)]
        assert run.status == "error" and "2022-12-29" in run.summary
        [fired] = ScheduleLog(store).fires(phase="night", limit=1)
        assert (fired.outcome, fired.failure, fired.run_id) == ("failed", "refused", run.run_id)
        code, body = _get(server.url + "/health")
        health = json.loads(body)
        assert code == 503 and any("the last scheduled night (2022-12-29) failed" in r for r in health["reasons"])
        metrics = _get(server.url + "/metrics")[1]
        assert 'desk_scheduled_failures_total{phase="night",reason="refused"} 1.0' in metrics
        assert "desk_attention 1.0" in metrics
        errors = [m["payload"] for m in store.db.query("SELECT channel, payload FROM outbox WHERE channel = ?",
                                                         ["CERRORS"])]
        assert any("scheduled night for 2022-12-29 failed (refused)" in p for p in errors)
    finally:
        server.stop()
    code, out, _ = run_cli(capsys, "status")
    assert out.splitlines()[0].startswith("ATTENTION") and "the last scheduled night (2022-12-29) failed" in out


def test_a_scheduled_run_while_another_process_holds_the_book_is_a_skipped_run_with_the_holder(home, fake):
    from memory.locks import desk_lock

    when = datetime(2022, 12, 29, 22, 30, tzinfo=NY)
    server = _serve(home, fake, clock=lambda: when)
    try:
        schedule = DeskSchedule(server.settings.schedule, server.scheduled_run, clock=lambda: when,
                                heard=server.heard)
        with desk_lock(server.settings, "book", "a drill holding the book"):
            _, outcome = schedule.fire("night")
        assert outcome.status == "busy"
        store = Store(home / "desk.sqlite")
        [run] = [r for r in store.runs(limit=20) if r.kind == "night" and r.as_of == date(2022, 12, 29)]
        assert run.status == "skipped" and "a drill holding the book" in run.summary
        [fired] = ScheduleLog(store).fires(phase="night", limit=1)
        assert (fired.outcome, fired.failure) == ("skipped", "busy")
        health = json.loads(_get(server.url + "/health")[1])
        assert any("the last scheduled night (2022-12-29) skipped" in r for r in health["reasons"])
    finally:
        server.stop()


def test_a_time_missed_while_serve_was_stopped_is_a_skipped_run_found_at_start(home, fake):
    """The scheduler ran on this desk before (its ledger holds a fire), was stopped over a morning, and starts after
    the misfire grace: that morning is recorded as skipped with why, once however often serve restarts."""
    s = settings(home, fake, slack={"mode": "http"})
    store = Store(home / "desk.sqlite")
    ScheduleLog(store).record(at="2022-12-27T22:00:00-05:00", phase="night", session=date(2022, 12, 27),
                              night=date(2022, 12, 27), outcome="ran", reason="finished")
    when = datetime(2022, 12, 28, 14, 0, tzinfo=NY)  # the 09:45 morning passed over four hours ago
    server = Serve(s, host="127.0.0.1", port=0, scheduler=False, clock=lambda: when).start()
    try:
        schedule = DeskSchedule(s.schedule, server.scheduled_run, clock=lambda: when, heard=server.heard)
        assert [f.action for f, _ in schedule.catch_up()] == ["missed", "missed"]
        schedule.catch_up()  # a second start records nothing more
        skipped = [r for r in store.runs(limit=20) if r.status == "skipped"]
        assert [(r.kind, r.as_of) for r in skipped] == [("morning", date(2022, 12, 27))]
        assert "not running" in skipped[0].summary and "desk ops run morning 2022-12-27" in skipped[0].summary
        assert ScheduleLog(store).failures() == [("morning", "missed", 1)]
    finally:
        server.stop()


def test_a_book_mismatch_is_a_warning_step_desk_run_exits_4_and_status_is_not_running(home, capsys):
    code, out, err = run_cli(capsys, "run", "--phase", "night", "--date", NIGHT.isoformat())
    assert code == 0, err
    d = kit.desk(home)
    d.ctx.broker.set_session(NIGHT)
    d.ctx.broker.submit(order("manual-trade", symbol="KO", quantity=7.0))  # someone traded at the broker directly
    d.store.close()
    code, out, err = run_cli(capsys, "run", "--phase", "morning", "--date", NIGHT.isoformat())
    assert code == 4, err
    assert "⚠ check_book" in out and "✓ check_book" not in out
    assert "warning:" in err and "check_book" in err and "entries halted" in err
    code, out, err = run_cli(capsys, "status")
    assert out.splitlines()[0].startswith("ATTENTION")
    assert "circuit breaker reconcile" in out


def test_pnl_all_measures_from_the_initial_cash_not_the_first_snapshot(home, capsys):
    assert run_cli(capsys, "run", "--date", NIGHT.isoformat())[0] == 0
    store = Store(home / "desk.sqlite")
    store.db.execute("UPDATE snapshots SET equity = 95000")  # the book is below the 100k it started with
    code, out, err = run_cli(capsys, "ops", "pnl", "all", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["start"] == "inception" and data["start_equity"] == 100000.0 and data["change"] == -5000.0


def test_metrics_watch_the_money_the_data_age_and_the_last_good_runs(home, fake, capsys):
    """Item 7: equity, cash, exposure, positions, day and total P&L (from the initial cash), drawdown from the peak,
    the data's age in sessions, the last successful run per phase; the rules provider's verdicts are no LLM calls."""
    assert run_cli(capsys, "run", "--date", "2022-12-27")[0] == 0
    store = Store(home / "desk.sqlite")
    [snap] = store.db.query("SELECT date, equity, cash, positions_value FROM snapshots")
    server = _serve(home, fake)
    try:
        text = _get(server.url + "/metrics")[1]
    finally:
        server.stop()
    values = {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines()
              if line and not line.startswith("#")}
    assert values["desk_equity"] == pytest.approx(snap["equity"]) and values["desk_cash"] == pytest.approx(snap["cash"])
    assert values["desk_gross_exposure"] == pytest.approx(snap["positions_value"]) and values["desk_positions"] > 0
    assert values["desk_total_pnl"] == pytest.approx(snap["equity"] - 100_000.0)  # from inception, not 0
    assert values["desk_drawdown"] == pytest.approx(max(0.0, 1 - snap["equity"] / 100_000.0))
    assert values["desk_data_age_sessions"] == 0.0 and values["desk_data_max_age_sessions"] == 0.0
    assert values['desk_last_success_timestamp_seconds{phase="morning"}'] > 0
    assert values['desk_last_success_timestamp_seconds{phase="night"}'] > 0
    assert "desk_day_pnl" not in values  # one snapshot: no day to compare with
    assert 'desk_overlay_verdicts_total{fallback="false",provider="rules"}' in text
    assert "desk_llm_calls_total{" not in text and "desk_llm_cost_usd_total{" not in text


def test_metrics_count_real_llm_calls_and_dollars_by_provider_and_never_the_rules_verdicts(home, fake, capsys,
                                                                                           monkeypatch):
    from tests.llm_kit import ScriptedLLM

    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    with ScriptedLLM() as llm:
        for k, v in llm.env("openai").items():
            monkeypatch.setenv(k, v)
        monkeypatch.setenv("DESK_LLM__PROVIDER", "openai")
        assert run_cli(capsys, "run", "--date", NIGHT.isoformat(), "--phase", "night")[0] == 0
        sent = len(llm.requests)
    store = Store(home / "desk.sqlite")
    usd = store.db.execute("SELECT sum(cost_usd) FROM llm_calls WHERE provider = 'openai'").fetchone()[0]
    server = _serve(home, fake)
    try:
        text = _get(server.url + "/metrics")[1]
    finally:
        server.stop()
    assert sent > 0 and f'desk_llm_calls_total{{provider="openai",status="ok"}} {float(sent)}' in text
    assert f'desk_llm_cost_usd_total{{provider="openai"}} {usd}' in text and usd > 0
    assert 'provider="rules",status=' not in text


def test_a_morning_whose_entries_a_halt_stops_is_a_warning_and_exits_4(home, capsys):
    assert run_cli(capsys, "run", "--phase", "night", "--date", NIGHT.isoformat())[0] == 0
    assert run_cli(capsys, "halt", "--reason", "drill")[0] == 0
    code, out, err = run_cli(capsys, "run", "--phase", "morning", "--date", NIGHT.isoformat())
    assert code == 4, err
    assert "⚠ validate" in out and "halted: desk halted: drill" in err


def test_health_is_503_when_the_scheduler_it_should_run_is_not_running(home, fake):
    s = settings(home, fake, slack={"mode": "http"})
    server = Serve(s, host="127.0.0.1", port=0, clock=lambda: FRESH).start()
    try:
        url = f"http://127.0.0.1:{server.port.port}/health"
        code, body = _get(url)
        assert code == 200 and json.loads(body)["scheduler"]["running"] is True, body
        server.apscheduler.shutdown(wait=False)  # its thread gone: nothing will run by itself
        code, body = _get(url)
        assert code == 503 and "the scheduler is not running" in " ".join(json.loads(body)["reasons"])
    finally:
        server.apscheduler = None
        server.stop()


def test_a_scheduled_live_night_that_fails_on_stale_data_under_the_datas_last_session_is_a_failure(home):
    """A live scheduled night for today plans the data's latest session and fails it as stale: the run is recorded
    under that session, not under the trigger's key — the ledger still counts it as the trigger's failure."""
    from desk.serve import ledger
    from desk.serve.schedule import Fire

    store = Store(home / "desk.sqlite")
    store.start_run("night-2022-12-28-abcdef", "night", "night", date(2022, 12, 28))
    store.finish_run("night-2022-12-28-abcdef", "error", {"phase": "night", "error": "stale data: data ends "
                                                          "2022-12-28, 1 session before …"})

    class Outcome:
        status, run_id, reason = "ran", "night-2022-12-28-abcdef", "finished"

    fire = Fire("night", "run", date(2022, 12, 29), date(2022, 12, 29), None, "the session closed at 16:00")
    got = ledger.settle(store, fire, Outcome(), at=FRESH, before=ledger.runs_of(store, "night", date(2022, 12, 29)))
    assert (got.outcome, got.failure, got.run_id) == ("failed", "stale_data", "night-2022-12-28-abcdef")
    assert ScheduleLog(store).failures() == [("night", "stale_data", 1)]
