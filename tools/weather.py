"""The market's weather: seven layers, expert signals and the fused regime, one row per benchmark session.

``compute_weather`` runs once over the whole range (causal: a row at t uses data up to t only);
``snapshot`` turns one row into a ``WeatherSnapshot`` for the graph, from a per-frame cache of plain dicts.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from tools.experts import EXPERT_COLUMNS, experts_from_inputs
from tools.fusion import fuse, regime_context
from tools.weather_inputs import prepare_inputs
from tools.weather_layers import compute_layers
from vocab.contracts import WEATHER_LAYERS, LayerReading, WeatherSnapshot

LAYER_COLUMNS = tuple(f"{layer}_{part}" for layer in WEATHER_LAYERS for part in ("state", "score", "source"))


def compute_weather(close: pd.DataFrame, volume: pd.DataFrame | None, universe: Sequence[str],
                    benchmark: str = "SP500") -> pd.DataFrame:
    """Weather for every session of ``benchmark`` from the store's wide frames (dates × symbols).

    Columns: LAYER_COLUMNS, EXPERT_COLUMNS, the benchmark context base_regime reads (fusion.CONTEXT_COLUMNS)
    and fusion.FUSION_COLUMNS. ``universe`` is the stocks whose co-movement feeds correlation and fragility.
    """
    inp = prepare_inputs(close, volume, universe, benchmark)
    frame = pd.concat([compute_layers(inp), experts_from_inputs(inp), regime_context(inp)], axis=1)
    return fuse(frame)


class _Rows:
    """A weather frame's rows as plain dicts, keyed by session, with the sorted sessions for as-of lookup."""

    def __init__(self, weather: pd.DataFrame) -> None:
        self.dates = weather.index.to_numpy(dtype="datetime64[ns]")
        cols = list(weather.columns)
        values = weather.astype(object).where(weather.notna(), None).to_numpy()  # a missing value is None, whatever
        # dtype it was read back as (a Parquet cache gives string columns with NaN for missing)
        self.rows = [dict(zip(cols, row, strict=True)) for row in values]


_CACHE: dict[int, _Rows] = {}


def _rows(weather: pd.DataFrame) -> _Rows:
    key = id(weather)
    cached = _CACHE.get(key)
    if cached is None:
        cached = _CACHE[key] = _Rows(weather)
        weakref.finalize(weather, _CACHE.pop, key, None)
    return cached


def _num(value: Any) -> float | None:
    if value is None or value is pd.NA:
        return None
    f = float(value)
    return None if math.isnan(f) else f


def _expert(value: Any) -> float | bool | None:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    return _num(value)


def _build(row: dict[str, Any], as_of: date) -> WeatherSnapshot:
    if row["regime"] is None:
        raise ValueError(f"no weather regime on {as_of}: {'; '.join(row['fusion_notes'])}")
    layers = {}
    for layer in WEATHER_LAYERS:
        score = _num(row[f"{layer}_score"])
        layers[layer] = LayerReading(state=row[f"{layer}_state"] if score is not None else None, score=score,
                                     available=score is not None, source=str(row[f"{layer}_source"]))
    return WeatherSnapshot(
        as_of=as_of, regime=row["regime"], base_regime=row["base_regime"],
        sizing_modifier=float(row["sizing_modifier"]), risk_throttle=float(row["risk_throttle"]),
        layers=layers, experts={name: _expert(row[name]) for name in EXPERT_COLUMNS},
        notes=list(row["fusion_notes"]),
    )


def snapshot(weather: pd.DataFrame, day: date | pd.Timestamp) -> WeatherSnapshot:
    """The weather on the last session on or before ``day`` (its date is ``as_of``).

    Treats ``weather`` as immutable: rows are cached per frame object on first use. Raises KeyError before the
    first session and ValueError during the regime warm-up.
    """
    rows = _rows(weather)
    pos = int(np.searchsorted(rows.dates, np.datetime64(pd.Timestamp(day).as_unit("ns")), side="right")) - 1
    if pos < 0:
        raise KeyError(f"no weather on or before {pd.Timestamp(day).date()}: the data starts later")
    return _build(rows.rows[pos], pd.Timestamp(rows.dates[pos]).date())
