"""Real daily history shipped inside skfolio and arch: the desk's offline default source.

| symbols | package | kind | fields | span |
| --- | --- | --- | --- | --- |
| 20 large US stocks | ``skfolio.datasets.load_sp500_dataset`` | equity | close | 1990-2022 |
| SP500 | ``skfolio.datasets.load_sp500_index`` | index | close | 1990-2022 |
| MTUM QUAL SIZE USMV VLUE | ``skfolio.datasets.load_factors_dataset`` | etf | close | 2014-2022 |
| GSPC, IXIC | ``arch.data.sp500`` / ``arch.data.nasdaq`` | index | OHLCV (Close, not Adj Close) | 1999-2018 |
| VIX | ``arch.data.vix`` | macro | close | 2014-2018 |
| AAA, BAA | ``arch.data.default`` (Moody's yields) | macro | close | 1919-2018 |
| WTI | ``arch.data.wti`` | macro | close | 1986-2018 |

VIX and WTI come from FRED, where a holiday is a row with no observation (NaN): those rows are dropped, never
filled, and ``Fetched.note`` says how many.

AAA and BAA are *monthly averages* that FRED dates on the 1st of the month they average, yet they are only known
once that month has ended. Each value is therefore re-dated to the 1st of the FOLLOWING month (the January 1990
average is served on 1990-02-01), so no feature at date t can see a yield published after t.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from datetime import date

import pandas as pd

from tools.data.base import DataValidationError, Fetched
from tools.data.validate import validate_until

# The 20 large US stocks of skfolio's S&P 500 dataset: the desk's default tradable universe.
EQUITY_UNIVERSE: tuple[str, ...] = (
    "AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JNJ", "JPM", "KO",
    "LLY", "MRK", "MSFT", "PEP", "PFE", "PG", "RRC", "UNH", "WMT", "XOM",
)

# Their GICS sectors (the S&P/MSCI Global Industry Classification Standard, as the S&P 500 constituent list
# published them at the end of 2022, the last year of the bundled data). skfolio ships closes only, so the
# table lives here; a universe from another source names its sectors in ``data.sectors``.
EQUITY_SECTORS: dict[str, str] = {
    "AAPL": "Information Technology", "AMD": "Information Technology", "MSFT": "Information Technology",
    "BAC": "Financials", "JPM": "Financials",
    "BBY": "Consumer Discretionary", "HD": "Consumer Discretionary",
    "CVX": "Energy", "RRC": "Energy", "XOM": "Energy",
    "GE": "Industrials",
    "JNJ": "Health Care", "LLY": "Health Care", "MRK": "Health Care", "PFE": "Health Care", "UNH": "Health Care",
    "KO": "Consumer Staples", "PEP": "Consumer Staples", "PG": "Consumer Staples", "WMT": "Consumer Staples",
}

Raw = dict[str, tuple[pd.DataFrame, str]]  # symbol -> (frame with a 'close' column, kind)
Notes = list[tuple[tuple[str, ...], str]]  # (symbols it concerns, what was done to them)


def _closes(frame: pd.DataFrame, kind: str) -> Raw:
    return {str(sym): (frame[[sym]].rename(columns={sym: "close"}), kind) for sym in frame.columns}


def _ohlcv(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[["Open", "High", "Low", "Close", "Volume"]].rename(columns=str.lower)


def _skfolio() -> Raw:
    from skfolio import datasets

    return {**_closes(datasets.load_sp500_dataset(), "equity"),
            **_closes(datasets.load_sp500_index()[["SP500"]], "index"),
            **_closes(datasets.load_factors_dataset(), "etf")}


def _arch_indices() -> Raw:
    from arch.data import nasdaq, sp500

    return {"GSPC": (_ohlcv(sp500.load()), "index"), "IXIC": (_ohlcv(nasdaq.load()), "index")}


def _arch_macro(notes: Notes) -> Raw:
    from arch.data import default, vix, wti

    out: Raw = {}
    for symbol, frame in (("VIX", vix.load()["vix"]), ("WTI", wti.load()["DCOILWTICO"])):
        holidays = int(frame.isna().sum())
        if holidays:
            notes.append(((symbol,), f"{symbol}: dropped {holidays} holiday rows with no observation (FRED), "
                                     "not filled"))
        out[symbol] = (frame.dropna().to_frame("close"), "macro")
    yields = default.load()[["AAA", "BAA"]]
    yields.index = yields.index + pd.offsets.MonthBegin(1)  # publication lag: known only after the month ends
    notes.append((("AAA", "BAA"), "AAA, BAA: monthly averages re-dated to the 1st of the following month "
                                  "(publication lag)"))
    out.update(_closes(yields, "macro"))
    return out


class BundledProvider:
    """Offline daily history from skfolio and arch (see the module docstring for symbols, spans and conventions)."""

    name = "bundled"

    def __init__(self, max_jump: float = 0.75) -> None:
        self.max_jump = max_jump

    def fetch(self, symbols: Sequence[str] | None = None, until: date | None = None) -> Fetched:
        notes: Notes = []
        raw: Raw = {**_skfolio(), **_arch_indices(), **_arch_macro(notes)}
        wanted = list(raw) if symbols is None else [s.strip().upper() for s in symbols]
        frames: dict[str, pd.DataFrame] = {}
        kinds: dict[str, str] = {}
        rejected: dict[str, str] = {}
        for symbol in wanted:
            if symbol not in raw:
                rejected[symbol] = _unknown(symbol, raw)
                continue
            frame, kind = raw[symbol]
            kinds[symbol] = kind
            try:
                frames[symbol] = validate_until(symbol, frame, kind, until, self.max_jump, "bundled")
            except DataValidationError as exc:
                rejected[symbol] = exc.reason
        kept = [text for about, text in notes if any(s in frames for s in about)]
        return Fetched(frames=frames, kinds=kinds, rejected=rejected, note="; ".join(kept) or None)


def _unknown(symbol: str, raw: Raw) -> str:
    close = difflib.get_close_matches(symbol, list(raw), n=3)
    hint = f"did you mean {', '.join(close)}?" if close else f"bundled symbols: {', '.join(sorted(raw))}"
    return f"not in the bundled data; {hint}"

