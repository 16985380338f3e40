"""A user's OHLCV file. Unreadable lines stop the load (DataSourceError naming the line); bad bars reject the symbol.

Header (case-insensitive): ``date`` and ``close`` required; ``open``, ``high``, ``low``, ``volume`` optional;
``symbol`` optional (one file, many symbols); ``adj close`` and any other column ignored. Dates are ISO
(``YYYY-MM-DD``). Empty cells and ``nan``/``NA``/``null`` are missing values, left for validation to judge.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TextIO

import pandas as pd

from tools.data.base import KINDS, DataSourceError, DataValidationError, Fetched
from tools.data.validate import BAR_COLUMNS, validate_until

_MISSING = {"", "nan", "na", "n/a", "null", "none"}


class CsvProvider:
    """Bars from one CSV file; the symbol is the 'symbol' column, else ``symbol``, else the file stem upper-cased."""

    name = "csv"

    def __init__(self, path: Path | str, symbol: str | None = None, kind: str = "equity",
                 max_jump: float = 0.75) -> None:
        if kind not in KINDS:
            raise DataSourceError(f"unknown kind {kind!r} for {path}; use one of {', '.join(KINDS)}")
        self.path = Path(path)
        self.symbol = (symbol or self.path.stem).strip().upper()
        self.kind = kind
        self.max_jump = max_jump

    def fetch(self, symbols: Sequence[str] | None = None, until: date | None = None) -> Fetched:
        parsed = self._read()
        wanted = list(parsed) if symbols is None else [s.strip().upper() for s in symbols]
        frames: dict[str, pd.DataFrame] = {}
        rejected: dict[str, str] = {}
        for symbol in wanted:
            if symbol not in parsed:
                rejected[symbol] = f"not in {self.path.name} (it has {', '.join(parsed)})"
                continue
            try:
                frames[symbol] = validate_until(symbol, parsed[symbol], self.kind, until, self.max_jump, "CSV")
            except DataValidationError as exc:
                rejected[symbol] = f"{exc.reason} (in {self.path.name})"
        return Fetched(frames=frames, kinds={s: self.kind for s in wanted if s in parsed}, rejected=rejected)

    # ------------------------------------------------------------------ parsing
    def _fail(self, line: int | None, what: str) -> DataSourceError:
        where = f"{self.path} line {line}" if line is not None else str(self.path)
        return DataSourceError(f"{where}: {what}")

    def _read(self) -> dict[str, pd.DataFrame]:
        if not self.path.is_file():
            raise self._fail(None, "file not found; check the path")
        try:
            with self.path.open(newline="", encoding="utf-8-sig") as fh:
                return self._parse(fh)
        except UnicodeDecodeError:
            raise self._fail(None, "not a UTF-8 text file; export it as CSV") from None
        except csv.Error as exc:
            raise self._fail(None, f"malformed CSV ({exc})") from None
        except OSError as exc:
            raise self._fail(None, f"cannot be read ({exc.strerror})") from None

    def _parse(self, fh: TextIO) -> dict[str, pd.DataFrame]:
        reader = csv.reader(fh)
        header = next((row for row in reader if any(c.strip() for c in row)), None)
        if header is None:
            raise self._fail(None, "file is empty; expected a header with date and close columns")
        names = [c.strip().lower() for c in header]
        if len(set(names)) != len(names):
            raise self._fail(reader.line_num, f"repeated column names in header {header}")
        if "date" not in names or "close" not in names:
            raise self._fail(reader.line_num, f"header needs 'date' and 'close' columns (found {header})")
        cols = {n: names.index(n) for n in (*BAR_COLUMNS, "date", "symbol") if n in names}
        rows: dict[str, list[tuple[pd.Timestamp, list[float]]]] = {}
        for row in reader:
            if not any(c.strip() for c in row):
                continue
            line = reader.line_num
            if len(row) != len(names):
                raise self._fail(line, f"expected {len(names)} fields, found {len(row)}")
            symbol = row[cols["symbol"]].strip().upper() if "symbol" in cols else self.symbol
            if not symbol:
                raise self._fail(line, "empty symbol")
            values = [self._number(row[cols[c]], c, line) if c in cols else math.nan for c in BAR_COLUMNS]
            rows.setdefault(symbol, []).append((self._date(row[cols["date"]], line), values))
        if not rows:
            raise self._fail(None, "no data rows after the header")
        return {s: pd.DataFrame([v for _, v in r], columns=list(BAR_COLUMNS),
                                index=pd.DatetimeIndex([d for d, _ in r], name="date")) for s, r in rows.items()}

    def _date(self, text: str, line: int) -> pd.Timestamp:
        text = text.strip()
        try:
            return pd.Timestamp(date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text).date())
        except ValueError:
            raise self._fail(line, f"cannot read date {text!r}; use YYYY-MM-DD") from None

    def _number(self, text: str, column: str, line: int) -> float:
        text = text.strip()
        if text.lower() in _MISSING:
            return math.nan
        try:
            return float(text)
        except ValueError:
            raise self._fail(line, f"{column} {text!r} is not a number") from None
