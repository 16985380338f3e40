"""Providers: the bundled real history, a user's CSV file, and yfinance (its download faked; no network)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tools.data.base import DataSourceError, Fetched
from tools.data.bundled import BundledProvider
from tools.data.csv_provider import CsvProvider
from tools.data.yfinance_provider import UNREACHABLE, YFinanceProvider

STOCKS = ("AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JNJ", "JPM", "KO",
          "LLY", "MRK", "MSFT", "PEP", "PFE", "PG", "RRC", "UNH", "WMT", "XOM")
FACTORS = ("MTUM", "QUAL", "SIZE", "USMV", "VLUE")


@pytest.fixture(scope="module")
def bundled() -> Fetched:
    return BundledProvider().fetch()


def span(frame: pd.DataFrame) -> tuple[str, str]:
    return frame.index[0].strftime("%Y-%m-%d"), frame.index[-1].strftime("%Y-%m-%d")


# ---------------------------------------------------------------------------- bundled
def test_bundled_serves_every_symbol_with_its_kind_and_nothing_rejected(bundled):
    expected = {**dict.fromkeys(STOCKS, "equity"), "SP500": "index", **dict.fromkeys(FACTORS, "etf"),
                "GSPC": "index", "IXIC": "index", "VIX": "macro", "AAA": "macro", "BAA": "macro", "WTI": "macro"}
    assert bundled.kinds == expected
    assert set(bundled.frames) == set(expected)
    assert bundled.rejected == {} and bundled.stale is False


def test_bundled_date_ranges_match_the_packages(bundled):
    assert all(span(bundled.frames[s]) == ("1990-01-02", "2022-12-28") for s in (*STOCKS, "SP500"))
    assert all(span(bundled.frames[s]) == ("2014-01-02", "2022-12-28") for s in FACTORS)
    assert span(bundled.frames["GSPC"]) == span(bundled.frames["IXIC"]) == ("1999-01-04", "2018-12-31")
    assert span(bundled.frames["VIX"]) == ("2014-01-03", "2019-01-03")
    assert span(bundled.frames["WTI"]) == ("1986-01-02", "2019-01-03")


def test_bundled_close_only_series_have_no_invented_ohlc(bundled):
    assert bundled.frames["AAPL"][["open", "high", "low", "volume"]].isna().all().all()


def test_bundled_gspc_uses_close_not_adj_close_and_keeps_ohlcv(bundled):
    from arch.data import sp500

    raw = sp500.load()
    gspc = bundled.frames["GSPC"]
    assert np.allclose(gspc["close"].to_numpy(), raw["Close"].to_numpy())
    assert np.allclose(gspc["volume"].to_numpy(), raw["Volume"].to_numpy())
    assert gspc[["open", "high", "low"]].notna().all().all()


def test_bundled_aaa_baa_are_redated_to_the_month_after_they_average(bundled):
    from arch.data import default

    raw = default.load()
    aaa = bundled.frames["AAA"]["close"]
    assert span(bundled.frames["AAA"]) == ("1919-02-01", "2019-01-01")
    assert (aaa.index.day == 1).all()
    assert aaa[pd.Timestamp("1990-02-01")] == raw.loc["1990-01-01", "AAA"]  # January's average, known in February
    assert bundled.frames["BAA"]["close"][pd.Timestamp("2019-01-01")] == raw.loc["2018-12-01", "BAA"]


def test_bundled_vix_and_wti_holidays_are_dropped_not_filled_and_the_note_says_so(bundled):
    from arch.data import vix, wti

    assert len(bundled.frames["VIX"]) == int(vix.load()["vix"].notna().sum())
    assert len(bundled.frames["WTI"]) == int(wti.load()["DCOILWTICO"].notna().sum())
    assert bundled.frames["VIX"]["close"].notna().all()
    assert "VIX: dropped 46 holiday rows" in bundled.note and "WTI: dropped 290 holiday rows" in bundled.note
    assert "re-dated to the 1st of the following month" in bundled.note


def test_bundled_subset_returns_only_the_requested_symbols_and_their_notes():
    fetched = BundledProvider().fetch(["aapl", "VIX"])
    assert set(fetched.frames) == {"AAPL", "VIX"}
    assert "VIX" in fetched.note and "AAA" not in fetched.note


def test_bundled_until_truncates_and_rejects_symbols_with_nothing_before_it():
    fetched = BundledProvider().fetch(["AAPL", "MTUM"], until=date(2010, 6, 30))
    assert fetched.frames["AAPL"].index[-1] == pd.Timestamp("2010-06-30")
    assert fetched.rejected == {"MTUM": "no bundled bars on or before 2010-06-30"}


def test_bundled_unknown_symbol_is_rejected_with_a_suggestion():
    fetched = BundledProvider().fetch(["APPL", "KO"])
    assert set(fetched.frames) == {"KO"}
    assert fetched.rejected["APPL"].startswith("not in the bundled data; did you mean AAPL")


def test_bundled_stricter_jump_limit_rejects_a_volatile_stock_only():
    fetched = BundledProvider(max_jump=0.5).fetch(["RRC", "KO"])
    assert set(fetched.frames) == {"KO"} and "close jumps" in fetched.rejected["RRC"]


# ---------------------------------------------------------------------------- csv
def write(path: Path, text: str) -> Path:
    path.write_text(text.strip() + "\n")
    return path


GOOD = """Date,Open,High,Low,Close,Adj Close,Volume
2021-03-01,10,11,9.5,10.5,10.1,1000
2021-03-02,10.5,11.5,10,11,10.6,1200
2021-03-03,11,11.2,10.4,10.8,10.4,900
"""


def test_csv_single_symbol_is_named_after_the_file_and_adj_close_ignored(tmp_path):
    fetched = CsvProvider(write(tmp_path / "acme.csv", GOOD)).fetch()
    bars = fetched.frames["ACME"]
    assert fetched.kinds == {"ACME": "equity"} and fetched.rejected == {}
    assert bars["close"].tolist() == [10.5, 11, 10.8] and bars["volume"].tolist() == [1000, 1200, 900]


def test_csv_symbol_argument_overrides_the_file_stem(tmp_path):
    assert set(CsvProvider(write(tmp_path / "prices.csv", GOOD), symbol="xyz").fetch().frames) == {"XYZ"}


def test_csv_with_only_date_and_close_is_accepted(tmp_path):
    path = write(tmp_path / "c.csv", "DATE,CLOSE\n2021-03-01,5\n2021-03-02,5.1")
    bars = CsvProvider(path).fetch().frames["C"]
    assert bars["close"].tolist() == [5, 5.1] and bars["open"].isna().all()


def test_csv_multi_symbol_file_splits_by_symbol_column(tmp_path):
    path = write(tmp_path / "many.csv", """symbol,date,close
aaa,2021-03-01,5
BBB,2021-03-01,7
aaa,2021-03-02,5.5
""")
    fetched = CsvProvider(path).fetch()
    assert set(fetched.frames) == {"AAA", "BBB"} and fetched.frames["AAA"]["close"].tolist() == [5, 5.5]
    assert CsvProvider(path).fetch(["BBB", "ZZZ"]).rejected == {"ZZZ": "not in many.csv (it has AAA, BBB)"}


@pytest.mark.parametrize("line, expected", [
    ("2021-03-04,11,11.5,10,eleven,11,800", "line 5: close 'eleven' is not a number"),
    ("03/04/2021,11,11.5,10,11,11,800", "line 5: cannot read date '03/04/2021'; use YYYY-MM-DD"),
    ("2021-03-04,11,11.5", "line 5: expected 7 fields, found 3"),
])
def test_csv_garbage_line_raises_one_line_error_naming_the_line(tmp_path, line, expected):
    path = write(tmp_path / "bad.csv", GOOD + line)
    with pytest.raises(DataSourceError) as info:
        CsvProvider(path).fetch()
    assert str(info.value) == f"{path} {expected}"


def test_csv_missing_file_raises_a_clear_error(tmp_path):
    with pytest.raises(DataSourceError, match="nope.csv: file not found; check the path"):
        CsvProvider(tmp_path / "nope.csv").fetch()


def test_csv_without_close_column_raises_naming_the_header(tmp_path):
    with pytest.raises(DataSourceError, match="header needs 'date' and 'close' columns"):
        CsvProvider(write(tmp_path / "x.csv", "date,price\n2021-03-01,4")).fetch()


def test_csv_empty_file_raises(tmp_path):
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(DataSourceError, match="file is empty"):
        CsvProvider(tmp_path / "e.csv").fetch()


def test_csv_nan_close_rejects_the_symbol_with_the_date(tmp_path):
    path = write(tmp_path / "n.csv", "date,close\n2021-03-01,5\n2021-03-02,NaN\n2021-03-03,")
    fetched = CsvProvider(path).fetch()
    assert fetched.frames == {} and fetched.rejected == {"N": "close is missing (NaN) on 2021-03-02 (in n.csv)"}


# ---------------------------------------------------------------------------- yfinance
def yahoo_frame(tickers: dict[str, list[float] | None], start: str = "2024-01-02") -> pd.DataFrame:
    """What yfinance.download(group_by='ticker', auto_adjust=False) returns; None = a ticker that came back empty."""
    n = max(len(v) for v in tickers.values() if v is not None)
    index = pd.DatetimeIndex(pd.bdate_range(start, periods=n), name="Date")
    parts = {}
    for ticker, closes in tickers.items():
        c = np.full(n, np.nan) if closes is None else np.asarray(closes, dtype=float)
        parts[ticker] = pd.DataFrame({"Open": c, "High": c * 1.01, "Low": c * 0.99, "Close": c,
                                      "Adj Close": c * 0.9, "Volume": np.where(np.isnan(c), np.nan, 1e6)},
                                     index=index)
    return pd.concat(parts, axis=1, names=["Ticker", "Price"])


def test_yfinance_download_is_called_unadjusted_with_an_inclusive_until(monkeypatch):
    import yfinance

    calls = []

    def fake(tickers, **kw):
        calls.append((tickers, kw))
        return yahoo_frame({"MSFT": [400, 401, 402], "^GSPC": [4700, 4710, 4720]})

    monkeypatch.setattr(yfinance, "download", fake)
    fetched = YFinanceProvider(start=date(2024, 1, 1)).fetch(["msft", "^GSPC"], until=date(2024, 1, 4))
    tickers, kw = calls[0]
    assert tickers == ["MSFT", "^GSPC"]
    assert kw == {"start": "2024-01-01", "end": "2024-01-05", "auto_adjust": False, "progress": False,
                  "threads": False, "group_by": "ticker"}
    assert fetched.kinds == {"MSFT": "equity", "^GSPC": "index"} and fetched.stale is False
    assert fetched.frames["MSFT"]["close"].tolist() == [400, 401, 402]  # Close, not Adj Close


def test_yfinance_ticker_that_comes_back_empty_is_rejected_with_reason(monkeypatch):
    import yfinance

    monkeypatch.setattr(yfinance, "download", lambda *a, **k: yahoo_frame({"KO": [60, 61], "NOPE": None}))
    fetched = YFinanceProvider().fetch(["KO", "NOPE"], until=None)
    assert set(fetched.frames) == {"KO"}
    assert fetched.rejected == {"NOPE": "yfinance returned no rows; check the ticker (delisted or misspelt?)"}


def test_yfinance_empty_download_means_offline_and_is_flagged_stale(monkeypatch):
    import yfinance

    monkeypatch.setattr(yfinance, "download", lambda *a, **k: pd.DataFrame())
    fetched = YFinanceProvider().fetch(["KO"], until=None)
    assert fetched.stale is True and fetched.frames == {} and fetched.note == UNREACHABLE


def test_yfinance_download_that_raises_is_flagged_stale(monkeypatch):
    import yfinance

    def boom(*a, **k):
        raise ConnectionError("no route to host")

    monkeypatch.setattr(yfinance, "download", boom)
    assert YFinanceProvider().fetch(["KO"], until=None).stale is True


def test_yfinance_without_symbols_raises_saying_what_to_pass():
    with pytest.raises(DataSourceError, match="needs a list of symbols"):
        YFinanceProvider().fetch(None, until=None)
