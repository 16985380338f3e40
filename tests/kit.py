"""Test kit: stub factories with a default for every field, a seeded desk, and CLI / store helpers.

Tests say only what matters: ``proposal(symbol="KO")``, ``verdict(p, decision="veto")``, ``desk(home)``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import sys
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from langgraph.runtime import Runtime

from vocab.contracts import WEATHER_LAYERS, Intent, LayerReading, Proposal, Provenance, Verdict, WeatherSnapshot
from vocab.terms import Action, AgentStyle, Regime

AS_OF = date(2015, 6, 1)
TABLES = ("bars", "symbols", "runs", "steps", "proposals", "verdicts", "picks", "intents", "orders", "fills",
          "positions", "snapshots", "audit", "desk_state", "meta", "breakers")


# ---------------------------------------------------------------------- value stubs
def provenance(**kw: Any) -> Provenance:
    fields = dict(provider="test", model="stub-1", prompt_version="v1", latency_ms=1.0, tokens=0)
    return Provenance(**{**fields, **kw})


def proposal(**kw: Any) -> Proposal:
    """A trend agent's long entry in XOM: strength 0.8, confidence 0.6, a stop at 90."""
    fields = dict(symbol="XOM", as_of=AS_OF, action=Action.BUY_LONG, strength=0.8, confidence=0.6, horizon_days=5,
                  stop=90.0, agent="trend", style=AgentStyle.TREND, model_version="test-1", inputs={},
                  rationale="stub")
    return Proposal(**{**fields, **kw})


def verdict(of: Proposal | None = None, **kw: Any) -> Verdict:
    """A confirm of ``of`` (default: ``proposal()``)."""
    key = (of or proposal()).key
    fields = dict(proposal_key=key, decision="confirm", size_multiplier=1.0, stop=None, reason="stub",
                  provenance=provenance())
    return Verdict(**{**fields, **kw})


def intent(**kw: Any) -> Intent:
    """A pending buy of 10 XOM at 100 written on AS_OF."""
    fields = dict(as_of=AS_OF, symbol="XOM", side="buy", kind="entry", target_weight=0.05, quantity=10.0,
                  reference_price=100.0, stop=None)
    fields.update(kw)
    fields.setdefault("intent_id", f"{fields['as_of']}:{fields['symbol']}:{fields['side']}:test")
    return Intent(**fields)


def layer(score: float | None = 0.0, state: str = "neutral", source: str = "stub") -> LayerReading:
    return LayerReading(state=state if score is not None else None, score=score, available=score is not None,
                        source=source)


def snapshot(regime: Regime | str = Regime.CALM_UPTREND, *, scores: Mapping[str, float] | None = None,
             layers: Mapping[str, LayerReading] | None = None, experts: Mapping[str, Any] | None = None,
             notes: Iterable[str] = ("regime ensemble agrees",), as_of: date = AS_OF) -> WeatherSnapshot:
    """Every layer available and neutral unless ``scores`` or ``layers`` say otherwise."""
    readings = {name: layer(0.0) for name in WEATHER_LAYERS}
    readings.update({name: layer(score) for name, score in (scores or {}).items()})
    readings.update(layers or {})
    return WeatherSnapshot(as_of=as_of, regime=regime, base_regime=regime, sizing_modifier=1.0, risk_throttle=1.0,
                           layers=readings, experts={"fragility": 0.2} if experts is None else dict(experts),
                           notes=list(notes))


def bars(closes: Iterable[float], start: str = "2020-01-02", **columns: Iterable[float]) -> pd.DataFrame:
    """Daily OHLCV on business days: open/high/low around each close unless given, volume 1e6."""
    close = np.asarray(list(closes), dtype=float)
    index = pd.bdate_range(start, periods=len(close), name="date")
    frame = pd.DataFrame({"open": close, "high": close * 1.01, "low": close * 0.99, "close": close,
                          "volume": np.full(len(close), 1e6)}, index=index)
    for name, values in columns.items():
        frame[name] = list(values)
    return frame


# ---------------------------------------------------------------------- a seeded desk
def desk(home: Path, *, checkpointing: bool = False, settings: Mapping[str, Any] | None = None, **parts: Any):
    """The desk on ``home`` (a seeded copy): settings overrides by section, parts (provider, broker, tools,
    reporters, …) injected as ``open_desk`` takes them."""
    from desk.app import open_desk
    from desk.config import load_settings

    return open_desk(load_settings(home=home, **(settings or {})), checkpointing=checkpointing, **parts)


def runtime(d) -> Runtime:
    return Runtime(context=d.ctx)


def reducers() -> dict[str, Callable[[Any, Any], Any]]:
    """Each state key's reducer, as graph/state.py declares it (``Annotated[..., reducer]``)."""
    from typing import Annotated, NotRequired, Required, get_args, get_origin, get_type_hints

    from graph.state import MorningState, NightState

    out = {}
    for schema in (NightState, MorningState):
        for key, hint in get_type_hints(schema, include_extras=True).items():
            while get_origin(hint) in (Required, NotRequired):
                hint = get_args(hint)[0]
            if get_origin(hint) is Annotated:
                out[key] = hint.__metadata__[0]
    return out


def run_nodes(d, nodes: Iterable[Callable[..., dict]], state: dict) -> dict:
    """Call nodes one after another on ``state`` (as the graph would, without it: each update merged by the state's
    reducers); the state after them."""
    rt = runtime(d)
    state = dict(state)
    merge = reducers()
    for fn in nodes:
        update = dict(fn(state, rt))
        update.pop("summary", None)
        update.pop("warning", None)
        for key, value in update.items():
            state[key] = merge[key](state[key], value) if key in merge and key in state else value
    return state


def hold(d, symbol: str, quantity: float, price: float, *, stop: float, peak: float, trail: float = 0.10,
         entry_date: str = "2017-01-03", tiers_hit: int = 0) -> None:
    """Seed a holding in the desk's store (the book the night and morning read)."""
    d.store.upsert_position(holding(symbol=symbol, quantity=quantity, avg_price=price, entry_date=entry_date,
                                    initial_stop=stop, peak=peak, trail_pct=trail, tiers_hit=tiers_hit))


def holding(**kw: Any):
    """A holding in the store's book: 10 XOM bought at 100 on 2017-01-03, stop 90, peak 100, trail 10%."""
    from memory.book import Holding

    fields = dict(symbol="XOM", quantity=10.0, avg_price=100.0, entry_date="2017-01-03", initial_stop=90.0,
                  peak=100.0, trail_pct=0.10, tiers_hit=0)
    fields.update(kw)
    fields.setdefault("peak_date", fields["entry_date"])
    return Holding.model_validate(fields)


# ---------------------------------------------------------------------- the CLI and the files
def run_cli(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    """Invoke `desk ARGS` in-process through the real entry point; return (exit code, stdout, stderr)."""
    from desk.cli import main

    old = sys.argv
    sys.argv = ["desk", *args]
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        sys.argv = old
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def child_env() -> dict[str, str]:
    """The environment for a desk process a test starts: no stray DESK_* variable, except the store's location
    (the test's backend: a test home on PostgreSQL keeps its database in the child)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("DESK_") or k == "DESK_STORE__URL"}


def settings_of(home: Path):
    """The settings a command on ``home`` reads (its store on SQLite or, with DESK_STORE__URL, PostgreSQL)."""
    from desk.config import load_settings

    return load_settings(home=home)


def open_store(home: Path):
    """The store of the desk on ``home``, whichever backend it is on."""
    from memory.store import open_store as open_

    return open_(settings_of(home))


def replay_store(home: Path, folder: str):
    """The store of a replay run on ``home`` (its folder's SQLite file, or its schema of the desk's database)."""
    from memory.store import Store, replay_url

    url = settings_of(home).store.url
    return Store(replay_url(url, folder) if url else home / "replays" / folder / "desk.sqlite")


def store_fingerprint(where: Path) -> str:
    """A digest of every row of every table (insensitive to WAL/page layout): of a SQLite file, or of the store of
    the desk on a home folder (its PostgreSQL database when DESK_STORE__URL is set)."""
    if where.is_dir():
        location = settings_of(where).store_location
        if isinstance(location, str):
            from tests.pg_kit import fingerprint

            return fingerprint(location)
        where = location
    if not where.exists():
        return "absent"
    conn = sqlite3.connect(str(where))
    h = hashlib.sha256()
    for t in TABLES:
        try:
            rows = conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() if t != "desk_state" else \
                conn.execute("SELECT * FROM desk_state").fetchall()
        except sqlite3.OperationalError:
            rows = []
        h.update(t.encode())
        h.update(json.dumps(rows, default=str).encode())
    conn.close()
    return h.hexdigest()


def clone_home(seed: Path, dest: Path) -> Path:
    shutil.copytree(seed, dest)
    return dest


def home_fingerprint(home: Path) -> dict[str, str]:
    """What a DESK_HOME holds, file by file: every SQLite file by its rows (insensitive to WAL and page layout),
    every other file by its bytes. Lock files are left out: they are the kernel's locks, their text says only who
    held one last."""
    out: dict[str, str] = {}
    for path in sorted(p for p in home.rglob("*") if p.is_file()):
        rel = path.relative_to(home).as_posix()
        if rel.startswith("locks/") or rel.endswith(("-wal", "-shm", "-journal")):
            continue
        out[rel] = _sqlite_rows(path) if path.suffix == ".sqlite" else hashlib.sha256(path.read_bytes()).hexdigest()
    if os.environ.get("DESK_STORE__URL", "").startswith("postgresql://"):   # the test's store is a database
        from tests.pg_kit import fingerprint

        out["<store>"] = fingerprint(os.environ["DESK_STORE__URL"])
    return out


def _sqlite_rows(path: Path) -> str:
    """A digest of every table's rows, or of the raw bytes when the file is not a readable database."""
    raw = hashlib.sha256(path.read_bytes()).hexdigest()
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            h = hashlib.sha256()
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
            for t in tables:
                query = ("SELECT count(*), total(close), max(date), min(date) FROM bars" if t == "bars"
                         else f"SELECT * FROM \"{t}\"")
                rows = sorted(json.dumps(r, default=str) for r in conn.execute(query).fetchall())
                h.update(t.encode() + json.dumps(rows).encode())
            return h.hexdigest()
        finally:
            conn.close()
    except sqlite3.Error:
        return "raw:" + raw
