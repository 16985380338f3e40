"""`desk data load --source alpaca` against the loopback Alpaca API: adjusted daily bars into the same store,
validation and freshness as every source, the S&P 500 through its ETF proxy (stated), indices refused with the
reason, restated history replacing the stored series, an unreachable API flagged stale, refused keys in one line."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from brokers.alpaca.loopback import serve
from desk.core.core import Core
from desk.config import load_settings
from desk.actor import Actor
from tests import kit
from tools.data.base import DataSourceError

N = 1300  # sessions a symbol from 2016-01-04 (the provider's start): eight symbols need a second page of 10 000
UNIVERSE = ("AAA", "BBB", "CCC", "DDD", "EEE", "FFF", "GGG")


def _history(scale: dict[str, float] | None = None):
    frames = {s: kit.bars(np.linspace(10, 20, N) * (i + 1), start="2016-01-04")
              for i, s in enumerate((*UNIVERSE, "SPY"))}
    frames["BAD"] = kit.bars([10, 11, 40, 12] + [12] * 10, start="2021-01-04")  # a 264% one-day jump
    for s, k in (scale or {}).items():
        frames[s] = frames[s] * k
    return frames.get


@pytest.fixture
def alpaca_home(desk_home, monkeypatch):
    server = serve(prices={"AAA": 20.0}, session=date(2021, 9, 1), history=_history())
    monkeypatch.setenv("APCA_API_KEY_ID", server.keys[0])
    monkeypatch.setenv("APCA_API_SECRET_KEY", server.keys[1])
    monkeypatch.setenv("DESK_BROKER__URL", server.url)
    yield desk_home, server
    server.stop()


def _load(home, universe=UNIVERSE, benchmark="SP500"):
    settings = load_settings(home=home, data={"universe": list(universe), "benchmark": benchmark})
    return Core(settings).execute("data_load", {"source": "alpaca"}, Actor.local())


def test_alpaca_load_writes_adjusted_bars_with_the_sp500_through_spy_and_says_so(alpaca_home):
    home, server = alpaca_home
    result = _load(home)
    assert result.written == {**dict.fromkeys(UNIVERSE, N), "SP500": N}
    assert "Adjustment.ALL" in result.note and "SP500 is SPY (ETF proxy for the S&P 500" in result.note
    assert {q["adjustment"] for q in server.app.bar_queries} == {"all"} and len(server.app.bar_queries) == 2
    rows = {r.symbol: r for r in kit.open_store(home).symbols()}
    assert rows["SP500"].source == "alpaca" and "Adjustment.ALL" in rows["SP500"].note
    assert rows["SP500"].kind == "etf"
    assert rows["AAA"].last_date == kit.bars([0] * N, "2016-01-04").index[-1].date()


def test_alpaca_load_refuses_an_index_it_has_no_proxy_for_and_a_series_that_jumps(alpaca_home):
    home, _ = alpaca_home
    with pytest.raises(DataSourceError, match="alpaca served usable bars for 1 of the 3 symbols asked") as err:
        _load(home, universe=("AAA", "BAD"), benchmark="^VIX")  # a live load serves every symbol, or loads nothing
    assert "no ETF holds it" in str(err.value) and "jump" in str(err.value)
    assert kit.open_store(home).symbols() == []


def test_alpaca_load_replaces_a_restated_history_instead_of_rejecting_the_seam(alpaca_home):
    home, server = alpaca_home
    _load(home)
    server.app.history = _history({"AAA": 0.5})  # a 2-for-1 split: Alpaca restates the whole adjusted series
    result = _load(home)
    assert result.written["AAA"] == N and "AAA" not in result.rejected
    close = kit.open_store(home).frame("close")["AAA"].dropna()
    assert len(close) == N and close.iloc[0] == pytest.approx(5.0) and close.iloc[-1] == pytest.approx(10.0)


def test_alpaca_load_when_unreachable_is_an_error_that_writes_and_flags_nothing(alpaca_home):
    home, server = alpaca_home
    _load(home)
    before = kit.open_store(home).symbols()
    server.set_faults("error5xx")
    with pytest.raises(DataSourceError, match="^Alpaca's market data API unreachable: no bars loaded"):
        _load(home)
    assert kit.open_store(home).symbols() == before and not any(r.stale for r in before)


def test_alpaca_load_with_refused_keys_is_one_line(alpaca_home, monkeypatch):
    home, _ = alpaca_home
    monkeypatch.setenv("APCA_API_SECRET_KEY", "not-the-loopback-secret")
    with pytest.raises(DataSourceError, match="refused the API keys") as err:
        _load(home)
    assert "not-the-loopback-secret" not in str(err.value) and "\n" not in str(err.value)
    assert kit.open_store(home).symbols() == []


def test_alpaca_load_without_keys_exits_2_in_one_line(desk_home, capsys, monkeypatch):
    monkeypatch.delenv("APCA_API_KEY_ID", raising=False)
    monkeypatch.delenv("APCA_API_SECRET_KEY", raising=False)
    monkeypatch.delenv("APCA_SECRETS_FILE", raising=False)
    code, out, err = kit.run_cli(capsys, "data", "load", "--source", "alpaca")
    assert code == 2 and "APCA_API_KEY_ID" in err and len(err.strip().splitlines()) == 1


def test_alpaca_is_a_live_source_behind_the_freshness_gate(home):
    from desk.live import run_mode
    from graph.nodes.ingest import ingest

    assert run_mode(load_settings(home=home, data={"source": "alpaca"}), None).live  # `desk run`: a live night
    assert not run_mode(load_settings(home=home), None).live
    d = kit.desk(home, settings={"data": {"source": "alpaca"}})
    out = ingest({"as_of": date(2022, 12, 28), "reference": date(2023, 1, 10)}, kit.runtime(d))
    assert "sessions before the exchange calendar's last closed session 2023-01-10" in out["stale"]["*"]
    assert "*" not in ingest({"as_of": date(2022, 12, 28)}, kit.runtime(d))["stale"]  # history: its own date


def test_data_status_states_the_adjustment_and_the_proxy_once(alpaca_home, capsys):
    home, _ = alpaca_home
    _load(home)
    code, out, _ = kit.run_cli(capsys, "data", "status")
    assert code == 0 and out.count("Adjustment.ALL") == 2 and "SP500 is SPY" in out  # stocks, and SP500's
