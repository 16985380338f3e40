"""Two processes on one home (ARCHITECTURE.md: invariant 3): one run of the book at a time — the second is refused in
one line and changes nothing — and racing processes never write a row twice or trip over each other's files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests import kit

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def _start(home: Path, *args: str) -> subprocess.Popen:
    env = kit.child_env()
    return subprocess.Popen([sys.executable, "-m", "desk.cli", *args], cwd=ROOT, env={**env, "DESK_HOME": str(home)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _both(home: Path, first: tuple[str, ...], second: tuple[str, ...]) -> list[tuple[int, str]]:
    procs = [_start(home, *first), _start(home, *second)]
    return [(p.wait(timeout=300), p.stderr.read()) for p in procs]


def _counts(home: Path) -> dict[str, int]:
    store = kit.open_store(home)
    out = {t: store.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
           for t in ("picks", "verdicts", "proposals", "intents", "orders", "fills", "positions")}
    out["running"] = store.db.execute("SELECT count(*) FROM runs WHERE status='running'").fetchone()[0]
    store.close()
    return out


def test_two_runs_at_once_one_is_refused_in_one_line_and_nothing_is_written_twice(home, tmp_path):
    alone = kit.clone_home(home, tmp_path / "alone")
    assert _both(alone, ("run", "--date", "2017-03-01"), ("status",))[0][0] == 0
    expected = _counts(alone)
    results = _both(home, ("run", "--date", "2017-03-01"), ("run", "--date", "2017-03-01"))
    codes = sorted(code for code, _ in results)
    refused = [err for code, err in results if code == 2]
    assert codes in ([0, 0], [0, 2]), results  # both ok only if the first finished before the second began
    for err in refused:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "another desk process is already running" in lines[0], err
    assert _counts(home) == expected


def test_a_data_load_while_a_run_holds_the_book_is_refused(home):
    results = _both(home, ("run", "--date", "2017-03-01"), ("data", "load", "--until", "2016-01-04"))
    if results[1][0] == 2:
        assert "another desk process is already running" in results[1][1]
    else:  # the load won the race: then the run saw the truncated store, or was refused itself
        assert results[0][0] in (0, 2)
    assert _counts(home)["running"] == 0


def test_two_new_homes_built_at_once_share_one_schema_and_one_cache(tmp_path):
    home = tmp_path / "fresh"
    results = _both(home, ("status",), ("status",))
    assert [code for code, _ in results] == [0, 0], results
    from memory.schema import SCHEMA_VERSION

    store = kit.open_store(home)
    assert store.schema_version() == SCHEMA_VERSION
    store.close()


def test_two_replays_of_one_range_at_once_do_not_corrupt_each_other(home):
    span = ("replay", "--from", "2017-01-03", "--to", "2017-01-31", "--json")
    results = _both(home, span, span)
    assert sorted(code for code, _ in results) in ([0, 0], [0, 2]), results
    for code, err in results:
        if code == 2:
            assert "another desk process is already replaying" in err


def test_two_processes_building_the_market_cache_at_once_both_finish_with_one_cache(home):
    import shutil

    shutil.rmtree(home / "cache")
    results = _both(home, ("replay", "--from", "2017-01-03", "--to", "2017-01-13", "--json"),
                    ("replay", "--from", "2017-02-01", "--to", "2017-02-10", "--json"))
    assert [code for code, _ in results] == [0, 0], results
    assert sorted(p.suffix for p in (home / "cache").iterdir() if p.is_file()) == [".parquet", ".parquet"]
    assert not list((home / "cache").rglob("*.tmp"))   # the store's bar frames too: no half-written file left
