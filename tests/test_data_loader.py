"""load_into_store: one transaction, incremental reloads, truncation, strict CSV loads, and the offline path."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from memory.store import Store
from tools.data.base import DataSourceError, DataValidationError
from tools.data.bundled import BundledProvider
from tools.data.csv_provider import CsvProvider
from tools.data.loader import LoadReport, load_into_store
from tools.data.yfinance_provider import UNREACHABLE, YFinanceProvider

SUBSET = ["AAPL", "SP500", "VIX", "AAA"]


def snapshot(store: Store) -> tuple:
    """Everything a load could change: the symbols table, every bar, and the truncation marker."""
    bars = store.db.execute("SELECT * FROM bars ORDER BY symbol, date").fetchall()
    return store.symbols(), bars, store.get_meta("data_until")


def rows(store: Store) -> dict[str, int]:
    return {r.symbol: r.rows for r in store.symbols()}


@pytest.fixture
def store(tmp_path) -> Store:
    s = Store(tmp_path / "s.sqlite")
    yield s
    s.close()


@pytest.fixture
def loaded(store) -> Store:
    """A store holding a few bundled symbols through 2018-12-31."""
    load_into_store(store, BundledProvider(), SUBSET, until=date(2018, 12, 31))
    return store


def test_full_bundled_load_writes_every_symbol_in_the_store(store):
    messages: list[str] = []
    report = load_into_store(store, BundledProvider(), progress=messages.append)
    held = {r.symbol: r for r in store.symbols()}
    assert len(held) == 32 and report.rejected == {}
    assert report.written == rows(store)
    assert (held["AAPL"].first_date, held["AAPL"].last_date) == (date(1990, 1, 2), date(2022, 12, 28))
    assert (held["AAA"].kind, held["AAA"].first_date, held["AAA"].last_date) == (
        "macro", date(1919, 2, 1), date(2019, 1, 1))
    assert held["MTUM"].kind == "etf" and held["GSPC"].kind == "index"
    assert store.get_meta("data_until") is None
    assert messages[0] == "fetching all symbols from bundled" and messages[-1] == report.summary()


def test_incremental_reload_of_the_same_data_writes_zero_rows(store):
    load_into_store(store, BundledProvider(), SUBSET)
    before = rows(store)
    report = load_into_store(store, BundledProvider(), SUBSET)
    assert report.written == dict.fromkeys(SUBSET, 0)
    assert rows(store) == before


def test_reload_without_until_appends_only_the_rows_after_the_last_stored_date(loaded):
    held = rows(loaded)
    report = load_into_store(loaded, BundledProvider(), ["AAPL"])
    aapl = BundledProvider().fetch(["AAPL"]).frames["AAPL"]
    assert report.written == {"AAPL": int((aapl.index > pd.Timestamp("2018-12-31")).sum())}
    assert rows(loaded)["AAPL"] == held["AAPL"] + report.written["AAPL"] == len(aapl)
    assert loaded.get_meta("data_until") is None


def test_until_truncates_the_store_and_remembers_the_date(store):
    load_into_store(store, BundledProvider(), SUBSET)
    report = load_into_store(store, BundledProvider(), SUBSET, until=date(2016, 6, 30))
    assert report.until == date(2016, 6, 30)
    assert all(store.last_bar_date(s) <= date(2016, 6, 30) for s in SUBSET)
    assert store.last_bar_date("AAPL") == date(2016, 6, 30)
    assert store.get_meta("data_until") == "2016-06-30"


def test_loader_revalidates_with_its_own_jump_limit_and_reports_the_rejection(store):
    report = load_into_store(store, BundledProvider(), ["RRC", "KO"], max_jump=0.5)
    assert set(report.written) == {"KO"} and "close jumps" in report.rejected["RRC"]
    assert [r.symbol for r in store.symbols()] == ["KO"]


def test_unknown_bundled_symbol_is_reported_and_the_others_still_load(store):
    report = load_into_store(store, BundledProvider(), ["KO", "APPL"])
    assert set(report.written) == {"KO"} and "did you mean AAPL" in report.rejected["APPL"]
    assert "rejected APPL" in report.summary()


# ---------------------------------------------------------------------------- strict CSV loads
GOOD = "date,open,high,low,close,volume\n2019-01-02,10,11,9.5,10.5,1000\n2019-01-03,10.5,11.5,10,11,1200\n"


def load_csv(store: Store, path: Path, text: str) -> LoadReport:
    path.write_text(text)
    return load_into_store(store, CsvProvider(path), strict=True)


@pytest.mark.parametrize("text, error, message", [
    (GOOD + "2019-01-04,11,11.5,10.2,#REF!,800\n", DataSourceError, "line 4: close '#REF!' is not a number"),
    (GOOD + "2019-01-04,11,11.5,10.2,NaN,800\n", DataValidationError, "USER: close is missing (NaN) on 2019-01-04"),
    (GOOD + "2019-01-04,11,11.5,10.2,-11,800\n", DataValidationError, "USER: close -11 on 2019-01-04 is not positive"),
    (GOOD + "2019-01-03,11,11.5,10.2,11,800\n", DataValidationError, "USER: duplicate date 2019-01-03"),
], ids=["garbage_line", "nan", "negative_price", "duplicate_dates"])
def test_bad_csv_raises_one_line_error_and_leaves_the_store_unchanged(loaded, tmp_path, text, error, message):
    before = snapshot(loaded)
    with pytest.raises(error) as info:
        load_csv(loaded, tmp_path / "user.csv", text)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert snapshot(loaded) == before


def test_strict_multi_symbol_csv_with_one_bad_symbol_writes_nothing(loaded, tmp_path):
    before = snapshot(loaded)
    text = "symbol,date,close\nGOOD,2019-01-02,5\nGOOD,2019-01-03,5.1\nBAD,2019-01-02,5\nBAD,2019-01-03,-1\n"
    with pytest.raises(DataValidationError, match="^BAD: close -1 on 2019-01-03 is not positive"):
        load_csv(loaded, tmp_path / "two.csv", text)
    assert snapshot(loaded) == before


def test_good_csv_is_written_next_to_the_bundled_symbols(loaded, tmp_path):
    report = load_csv(loaded, tmp_path / "user.csv", GOOD)
    assert report.written == {"USER": 2} and report.source == "csv"
    held = {r.symbol: r for r in loaded.symbols()}
    assert held["USER"].source == "csv" and set(SUBSET) < set(held)
    assert loaded.bars("USER")["close"].tolist() == [10.5, 11]


# ---------------------------------------------------------------------------- yfinance
def test_yfinance_offline_is_an_error_that_writes_and_flags_nothing(loaded, monkeypatch):
    import yfinance

    monkeypatch.setattr(yfinance, "download", lambda *a, **k: pd.DataFrame())
    before = snapshot(loaded)
    with pytest.raises(DataSourceError, match=f"^{re.escape(UNREACHABLE)}: no bars loaded, the store is as it was$"):
        load_into_store(loaded, YFinanceProvider(), ["AAPL", "MSFT"])
    assert snapshot(loaded) == before and not any(r.stale for r in loaded.symbols())


def test_a_live_load_missing_a_symbol_asked_for_names_each_and_writes_nothing(loaded, monkeypatch):
    import yfinance

    last = loaded.bars("AAPL")["close"].iloc[-1]
    index = pd.DatetimeIndex(["2018-12-31", "2019-01-02"], name="Date")
    frame = pd.DataFrame({"Open": [last, last], "High": [last, last], "Low": [last, last], "Close": [last, last],
                          "Adj Close": [last, last], "Volume": [1e7, 1e7]}, index=index)
    monkeypatch.setattr(yfinance, "download", lambda *a, **k: pd.concat({"AAPL": frame}, axis=1))
    before = snapshot(loaded)
    with pytest.raises(DataSourceError, match=r"^yfinance served usable bars for 1 of the 2 symbols asked: MSFT "
                                              r"\(yfinance returned no rows; check the ticker"):
        load_into_store(loaded, YFinanceProvider(), ["AAPL", "MSFT"], complete=True)
    assert snapshot(loaded) == before


def test_yfinance_back_online_appends_new_rows(loaded, monkeypatch):
    import yfinance

    last = loaded.bars("AAPL")["close"].iloc[-1]
    index = pd.DatetimeIndex(["2018-12-28", "2018-12-31", "2019-01-02", "2019-01-03"], name="Date")
    closes = [last * 0.99, last, last * 1.01, last * 0.98]
    frame = pd.DataFrame({"Open": closes, "High": [c * 1.01 for c in closes], "Low": [c * 0.99 for c in closes],
                          "Close": closes, "Adj Close": closes, "Volume": [1e7] * 4}, index=index)
    monkeypatch.setattr(yfinance, "download", lambda *a, **k: pd.concat({"AAPL": frame}, axis=1))
    report = load_into_store(loaded, YFinanceProvider(), ["AAPL"])
    assert report.written == {"AAPL": 2}
    assert loaded.last_bar_date("AAPL") == date(2019, 1, 3)
