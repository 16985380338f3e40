"""Live data that fails loudly (issue 19 item 3): a live load that serves nothing, or fewer symbols than asked, is
one line and exit 2 with nothing written; the libraries' own log lines stay quiet unless -v; the source is a setting
the load and the next run use; the desk's index names map to the source's tickers. Offline: yfinance is stubbed at
its download, never reached."""

from __future__ import annotations

import logging
from datetime import date

import numpy as np
import pandas as pd
import pytest

from desk.actions.setup import benchmark_source
from desk.config import load_settings
from desk.live import run_mode
from tests import kit
from tools.calendar import NEW_YORK

NEW_DAYS = pd.DatetimeIndex(["2022-12-29", "2022-12-30"], name="Date")


def _yahoo(home, tickers_asked: list[list[str]], leave_out: tuple[str, ...] = ()):
    """A fake yfinance.download serving two new sessions for every ticker asked (continuing the stored closes of
    the desk's symbol it stands for), except those in ``leave_out``; records what it was asked."""
    close = kit.desk(home).store.frame("close").ffill().iloc[-1]
    by_ticker = {"^GSPC": close["SP500"], **{s: close[s] for s in close.index}}

    def download(tickers, **kw):
        tickers_asked.append(list(tickers))
        parts = {}
        for t in tickers:
            if t in leave_out:
                continue
            c = np.full(len(NEW_DAYS), float(by_ticker[t]))
            parts[t] = pd.DataFrame({"Open": c, "High": c, "Low": c, "Close": c, "Adj Close": c,
                                     "Volume": np.full(len(c), 1e6)}, index=NEW_DAYS)
        return pd.concat(parts, axis=1, names=["Ticker", "Price"]) if parts else pd.DataFrame()
    return download


def test_the_source_is_a_setting_sp500_is_yahoos_gspc_and_the_next_run_is_live(home, capsys, monkeypatch) -> None:
    import yfinance

    asked: list[list[str]] = []
    monkeypatch.setattr(yfinance, "download", _yahoo(home, asked))
    monkeypatch.setenv("DESK_DATA__SOURCE", "yfinance")
    code, out, err = kit.run_cli(capsys, "data", "load")  # no --source: data.source
    assert code == 0, err
    assert "^GSPC" in asked[0] and "SP500" not in asked[0]
    store = kit.desk(home).store
    row = {r.symbol: r for r in store.symbols()}["SP500"]
    assert (row.source, row.last_date, row.note) == ("yfinance", date(2022, 12, 30), "SP500 is Yahoo's ^GSPC")
    monkeypatch.delenv("DESK_DATA__SOURCE")  # the setting back to bundled: the store's data is live all the same
    settings = load_settings(home=home)
    now = pd.Timestamp("2023-01-03 22:00", tz=NEW_YORK).to_pydatetime()
    mode = run_mode(settings, None, now, stored_source=benchmark_source(store, settings))
    assert mode.live and mode.reference == date(2023, 1, 3)


def test_a_live_load_with_fewer_symbols_than_asked_is_one_line_exit_2_naming_them(home, capsys, monkeypatch) -> None:
    import yfinance

    monkeypatch.setattr(yfinance, "download", _yahoo(home, [], leave_out=("^GSPC", "KO")))
    store = kit.desk(home).store
    before = store.symbols(), store.frame("close")
    code, out, err = kit.run_cli(capsys, "data", "load", "--source", "yfinance")
    assert code == 2
    [line] = err.strip().splitlines()
    assert line.startswith("error: yfinance served usable bars for 19 of the 21 symbols asked: ")
    assert "KO (yfinance returned no rows;" in line and "SP500 (yfinance returned no rows (Yahoo's ^GSPC);" in line
    assert line.endswith("no bars loaded, the store is as it was")
    assert store.symbols() == before[0] and store.frame("close").equals(before[1])
    assert store.runs(kind="data_load", status="error")[0].summary.count("served usable bars for 19 of") == 1


def _noisy(*args, **kwargs):
    logging.getLogger("yfinance").error("1 Failed download: ['KO']: YFTzMissingError('possibly delisted')")
    logging.getLogger("urllib3.connectionpool").warning("Retrying (Retry(total=2)) after connection broken")
    logging.getLogger("peewee").debug("('SELECT ...')")
    return pd.DataFrame()


@pytest.mark.parametrize("verbose", [False, True])
def test_library_log_lines_stay_quiet_unless_verbose(home, capsys, monkeypatch, caplog, verbose) -> None:
    import yfinance

    monkeypatch.setattr(yfinance, "download", _noisy)
    caplog.set_level(logging.DEBUG)
    code, out, err = kit.run_cli(capsys, *(["-v"] if verbose else []), "data", "load", "--source", "yfinance")
    assert code == 2 and len(err.strip().splitlines()) == 1
    libraries = [r for r in caplog.records if r.name.split(".")[0] in ("yfinance", "urllib3", "peewee")]
    assert bool(libraries) == verbose


def test_data_status_on_an_empty_store_says_how_to_load(desk_home, capsys) -> None:
    code, out, err = kit.run_cli(capsys, "data", "status")
    assert code == 0 and "the store holds no market data: `desk data load` loads data.source (bundled)" in out
