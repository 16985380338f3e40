"""The CLI end to end on the embedded default: run, why, status, replay, stale data."""

from __future__ import annotations

import json
import sys

import pandas as pd
import pytest

from tests import kit
from tests.kit import run_cli, store_fingerprint


def test_run_prints_night_and_morning_summary_for_the_latest_date(home, capsys):
    code, out, err = run_cli(capsys, "run")
    assert code == 0, err
    for part in ("Night 2022-12-28", "Regime", "Proposals and verdicts", "Morning 2022-12-29",
                 "No bar for 2022-12-29 yet: quoted and filled at the latest close", "Book value"):
        assert part in out


def test_run_json_carries_regime_proposals_intents_and_fills(home, capsys):
    code, out, err = run_cli(capsys, "run", "--date", "2017-03-01", "--json")
    assert code == 0, err
    data = json.loads(out)
    night, morning = data["night"], data["morning"]
    assert night["as_of"] == "2017-03-01" and night["regime"]
    assert night["proposals"] and all(p["verdict"] in ("confirm", "adjust", "veto") for p in night["proposals"])
    assert morning["session"] == "2017-03-02"
    buys = {i["intent_id"] for i in night["intents"] if i["side"] == "buy"}
    filled = [r for r in morning["results"] if r["status"] == "filled"]
    skipped = [r for r in morning["results"] if r["status"] == "skipped"]
    assert filled and {r["intent_id"] for r in filled} | {r["intent_id"] for r in skipped} == buys
    assert all(r["reason"] for r in skipped)  # e.g. a buy that gapped more than 5% overnight
    assert all(r["price_source"] == "close" for r in filled)  # the stocks have closes only: next close fills


def test_why_explains_an_intent_with_every_sizing_factor(home, capsys):
    code, out, err = run_cli(capsys, "run", "--date", "2017-03-01", "--json")
    data = json.loads(out)
    filled = {r["intent_id"] for r in data["morning"]["results"] if r["status"] == "filled"}
    intent = next(i for i in data["night"]["intents"] if i["intent_id"] in filled)
    code, out, err = run_cli(capsys, "why", intent["intent_id"], "--json")
    assert code == 0, err
    why = json.loads(out)
    names = [f["name"] for f in why["sizing"]]
    assert names[:8] == ["base", "tier", "volatility", "regime", "overlay", "disagreement", "expert",
                         "risk_throttle"]
    assert why["tier"] == "FIXED" and why["gates"]   # the tier by default (sizing.mode = fixed) and its gates
    assert why["sizing"][-1]["weight_after"] == pytest.approx(intent["weight"], abs=1e-4)  # summary rounds to 4 dp
    assert any(r.startswith("picks: score") for r in why["reasons"])
    assert why["models"] and all(m["agent"] and m["model_version"] for m in why["models"])  # the versions behind it
    assert why["status"] == "filled" and why["fills"]
    code, out, _ = run_cli(capsys, "why", intent["intent_id"].split(":")[1].lower())
    assert code == 0 and intent["intent_id"] in out


def test_status_shows_the_book_after_a_run(home, capsys):
    run_cli(capsys, "run", "--date", "2017-03-01")
    code, out, err = run_cli(capsys, "status", "--json")
    assert code == 0, err
    status = json.loads(out)
    assert status["halted"] is False and status["positions"]
    assert status["equity"] == pytest.approx(status["cash"] + sum(
        p["quantity"] * p["avg_price"] for p in status["positions"].values()), rel=0.01)


def test_replay_reports_metrics_beside_benchmarks_and_leaves_the_live_store_alone(home, capsys):
    before = store_fingerprint(home)
    code, out, err = run_cli(capsys, "replay", "--from", "2017-01-03", "--to", "2017-03-31", "--json")
    assert code == 0, err
    r = json.loads(out)
    assert r["nights"] == 62  # NYSE sessions 2017-01-03 .. 2017-03-31
    for key in ("desk", "sp500_buy_hold", "equal_weight"):
        for metric in ("cagr", "volatility", "sharpe", "sortino", "max_drawdown"):
            assert isinstance(r[key][metric], float)
    assert r["desk"]["trades"] > 0 and r["desk"]["turnover"] > 0
    assert set(r["periods"]) == {"validation"}
    assert set(r["benchmark_periods"]["sp500_buy_hold"]) == {"validation"}
    assert store_fingerprint(home) == before


def test_yfinance_offline_load_is_one_line_exit_2_and_changes_nothing(home, capsys, monkeypatch):
    import yfinance

    monkeypatch.setattr(yfinance, "download", lambda *a, **k: pd.DataFrame())  # what yfinance does offline
    store = kit.desk(home).store
    before = store.symbols(), store.frame("close")
    code, out, err = run_cli(capsys, "data", "load", "--source", "yfinance")
    assert code == 2 and err.strip() == ("error: yfinance returned nothing (offline, or Yahoo unreachable): no bars "
                                         "loaded, the store is as it was")
    assert store.symbols() == before[0] and store.frame("close").equals(before[1])
    [failed] = store.runs(kind="data_load", status="error")  # no failure is silent
    assert "SourceUnserved: yfinance returned nothing" in failed.summary


def test_the_process_entry_keeps_the_exit_code_and_freezes_the_collector_on_the_way_out(monkeypatch, capsys):
    import gc

    from desk import cli

    frozen: list[bool] = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(True))
    monkeypatch.setattr(sys, "argv", ["desk", "run", "--from", "x"])
    with pytest.raises(SystemExit) as stop:
        cli.entry()
    assert stop.value.code == 2 and frozen == [True]
    assert "No such option: --from" in capsys.readouterr().err
