"""The market as the desk sees it: bars, per-asset features and the weather, computed once and cached.

Everything here is causal (a value at t uses data up to t), so one MarketView computed over all stored data serves
every date of a replay. The computed frames are cached on disk under a fingerprint of the stored data, as Parquet
files (plain columnar data, never pickles): each is written to a unique temporary file and renamed into place, so
two processes building the same cache never collide, and a damaged cache file is recomputed, not trusted.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from memory.parquet import write_atomically
from memory.store import Store
from tools.closes import CloseArrays, close_arrays
from tools.features import EMA_FEATURES, asset_features, ema_blocks, feature_row, panel_closes
from tools.weather import compute_weather, snapshot
from vocab.contracts import WeatherSnapshot

CACHE_VERSION = "2"
log = logging.getLogger("desk.market")


@dataclass
class MarketView:
    store: Store
    universe: tuple[str, ...]
    benchmark: str
    cache_dir: Path | None = None
    _close: pd.DataFrame | None = field(default=None, repr=False)
    _sessions: pd.DatetimeIndex | None = field(default=None, repr=False)
    _panel: pd.DataFrame | None = field(default=None, repr=False)
    _weather: pd.DataFrame | None = field(default=None, repr=False)
    _day: tuple[date, pd.DataFrame, dict[str, dict[str, float]]] | None = field(default=None, repr=False)
    _tradable: tuple[str, ...] | None = field(default=None, repr=False)
    _arrays: CloseArrays | None = field(default=None, repr=False)
    _ema: dict[tuple[int, ...], Any] = field(default_factory=dict, repr=False)
    _lookup: tuple[dict[date, int], dict[str, int]] | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ data
    @property
    def close(self) -> pd.DataFrame:
        if self._close is None:
            self._close = self.store.frame("close")
        return self._close

    @property
    def sessions(self) -> pd.DatetimeIndex:
        """The benchmark's dates: the trading calendar of the stored data."""
        if self._sessions is None:
            bench = self.close[self.benchmark] if self.benchmark in self.close else pd.Series(dtype=float)
            self._sessions = pd.DatetimeIndex(bench.dropna().index)
        return self._sessions

    @property
    def tradable(self) -> tuple[str, ...]:
        """The universe's symbols that have stored bars."""
        if self._tradable is None:
            self._tradable = tuple(s for s in self.universe if s in self.close)
        return self._tradable

    @property
    def arrays(self) -> CloseArrays:
        """The closes as arrays (converted once): what the nightly readers of many sessions take."""
        if self._arrays is None:
            self._arrays = close_arrays(self.close)
        return self._arrays

    def sessions_to(self, day: date) -> pd.DatetimeIndex:
        """The sessions on or before ``day`` (a binary search: the nodes ask this every night)."""
        return self.sessions[:self.sessions.searchsorted(pd.Timestamp(day), side="right")]

    def price(self, symbol: str, day: date) -> float | None:
        """The close of ``symbol`` on ``day`` (None without a bar that day): a lookup in ``arrays``."""
        arr = self.arrays
        if self._lookup is None:
            self._lookup = ({d: i for i, d in enumerate(arr.sessions.astype(object))},
                            {str(n): int(j) for n, j in zip(arr.names, arr.order, strict=True)})
        rows, cols = self._lookup
        i, j = rows.get(day.date() if isinstance(day, datetime) else day), cols.get(symbol)
        if i is None or j is None:
            return None
        value = arr.values[i, j]
        return None if value != value else float(value)

    def fingerprint(self) -> str:
        rows = [(s.symbol, s.first_date and s.first_date.isoformat(), s.last_date and s.last_date.isoformat(), s.rows)
                for s in self.store.symbols()]
        key = json.dumps([CACHE_VERSION, self.universe, self.benchmark, rows])
        return hashlib.sha256(key.encode()).hexdigest()[:16]

    # ------------------------------------------------------------------ computed
    def ensure(self) -> None:
        """Compute (or load from the disk cache) the feature panel and the weather frame."""
        if self._panel is not None:
            return
        paths = self._cache_paths()
        if paths is not None and all(p.exists() for p in paths):
            try:
                self._panel, self._weather = (pd.read_parquet(p) for p in paths)
                return
            except Exception as exc:  # noqa: BLE001 - a damaged cache is derived data: rebuild it (fails open)
                log.warning("market cache %s unreadable (%s): recomputing", paths[0].parent, exc)
        close = self.close
        volume = self.store.frame("volume")
        bench = close[self.benchmark].dropna()
        self._panel = asset_features(close.loc[bench.index, list(self.tradable)], bench)
        self._weather = compute_weather(close, volume, self.tradable, self.benchmark)
        if paths is not None:
            self._write_cache(paths)

    def _cache_paths(self) -> tuple[Path, Path] | None:
        if self.cache_dir is None:
            return None
        stem = self.cache_dir / f"market-{self.fingerprint()}"
        return stem.with_name(stem.name + "-panel.parquet"), stem.with_name(stem.name + "-weather.parquet")

    def _write_cache(self, paths: tuple[Path, Path]) -> None:
        """Each file to a temporary sibling of its own, then renamed into place; older caches are removed."""
        folder = paths[0].parent
        try:
            for frame, path in zip((self._panel, self._weather), paths, strict=True):
                write_atomically(frame, path)
            for old in folder.glob("market-*.parquet"):
                if old not in paths:
                    old.unlink(missing_ok=True)
        except OSError as exc:  # the cache is an optimisation: a full or read-only disk only costs a recompute
            log.warning("market cache not written to %s: %s", folder, exc)

    @property
    def panel(self) -> pd.DataFrame:
        self.ensure()
        return self._panel

    @property
    def weather(self) -> pd.DataFrame:
        self.ensure()
        return self._weather

    def _on(self, day: date) -> tuple[date, pd.DataFrame, dict[str, dict[str, float]]]:
        # every node of one night reads the same date: keep its block and per-symbol dicts (NaN dropped)
        if self._day is None or self._day[0] != day:
            block = feature_row(self.panel, day)
            values = block.to_numpy()
            cols = list(block.columns)
            dicts = {sym: {c: float(v) for c, v in zip(cols, row, strict=True) if v == v}
                     for sym, row in zip(block.index, values, strict=True)}
            self._day = (day, block, dicts)
        return self._day

    def features_on(self, day: date) -> pd.DataFrame:
        """Symbols × features on one date (only symbols with a bar that day)."""
        return self._on(day)[1]

    def feature_dicts(self, day: date) -> dict[str, dict[str, float]]:
        """The same block as plain dicts per symbol, NaN features left out."""
        return self._on(day)[2]

    def ema_rows(self, day: date, spans: tuple[int, int, int, int]) -> dict[str, dict[str, float]]:
        """The EMA agent's inputs on ``day`` for other spans than the panel's: symbol -> feature -> value (NaN left
        out), computed on the panel's own closes (causal, like every feature) once per spans."""
        if spans not in self._ema:
            bench = self.close[self.benchmark].dropna()
            close = panel_closes(self.close.loc[bench.index, list(self.tradable)])
            blocks = ema_blocks(close, spans)
            self._ema[spans] = (close.index, list(close.columns),
                                {n: blocks[n].to_numpy(dtype=float) for n in EMA_FEATURES})
        index, symbols, values = self._ema[spans]
        i = index.get_indexer([pd.Timestamp(day)])[0]
        if i < 0:
            return {}
        return {sym: {n: float(values[n][i, j]) for n in EMA_FEATURES if values[n][i, j] == values[n][i, j]}
                for j, sym in enumerate(symbols)}

    def snapshot(self, day: date) -> WeatherSnapshot:
        return snapshot(self.weather, day)
