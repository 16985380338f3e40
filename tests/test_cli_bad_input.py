"""Bad input gets one clear line on stderr, exit code 2, and changes nothing in the store."""

from __future__ import annotations

import json

import pytest

from tests.kit import run_cli, store_fingerprint


def _assert_one_line_error(code: int, err: str) -> None:
    assert code == 2
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--date", "1800-01-01"], "no data for 1800-01-01"),
        (["run", "--date", "2031-01-02"], "no data for 2031-01-02"),
        (["run", "--date", "not-a-date"], "not a date"),
        (["run", "--date", "2016-07-04"], "not a trading session"),
        (["run", "--phase", "lunch"], "unknown phase"),
        (["why", "NOSUCH"], "no intent or symbol 'NOSUCH'"),
        (["replay", "--from", "2018-01-10", "--to", "2018-01-01"], "is before"),
        (["data", "load", "--source", "carrier-pigeon"], "unknown source"),
        (["data", "load", "--until", "yesterday"], "not a date"),
        (["resume"], "not halted and no circuit breaker"),
    ],
)
def test_bad_command_input_is_one_line_exit_2_store_unchanged(home, capsys, args, message):
    before = store_fingerprint(home / "desk.sqlite")
    code, _, err = run_cli(capsys, *args)
    _assert_one_line_error(code, err)
    assert message in err
    assert store_fingerprint(home / "desk.sqlite") == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("date,open,high,low,close,volume\n2020-01-02,1,2,0.5,1.5,100\n2020-01-03,1,2,0.5,,100\n", "NaN"),
        ("date,open,high,low,close,volume\n2020-01-02,1,2,0.5,1.5,100\n2020-01-03,1,2,0.5,-1.5,100\n", "not positive"),
        ("date,open,high,low,close,volume\n2020-01-02,1,2,0.5,1.5,100\n2020-01-02,1,2,0.5,1.6,100\n", "duplicate"),
        ("date,open,high,low,close,volume\n2020-01-02,1,2,0.5,1.5,100\n@@garbage@@\n", "line 3"),
    ],
    ids=["nan", "negative", "duplicate-dates", "garbage-line"],
)
def test_bad_csv_is_rejected_with_one_line_and_store_unchanged(home, tmp_path, capsys, content, message):
    path = tmp_path / "acme.csv"
    path.write_text(content)
    before = store_fingerprint(home / "desk.sqlite")
    code, _, err = run_cli(capsys, "data", "load", "--source", "csv", str(path))
    _assert_one_line_error(code, err)
    assert message.lower() in err.lower()
    assert store_fingerprint(home / "desk.sqlite") == before


def test_good_csv_loads_and_shows_in_data_status(home, tmp_path, capsys):
    path = tmp_path / "acme.csv"
    path.write_text("date,open,high,low,close,volume\n2020-01-02,1,2,0.5,1.5,100\n2020-01-03,1.5,2,1,1.8,120\n")
    code, _, err = run_cli(capsys, "data", "load", "--source", "csv", str(path))
    assert code == 0, err
    code, out, _ = run_cli(capsys, "data", "status", "--json")
    acme = [s for s in json.loads(out)["symbols"] if s["symbol"] == "ACME"]
    assert acme and acme[0]["rows"] == 2


@pytest.mark.parametrize(
    ("toml", "message"),
    [("[risk]\nmax_positon = 3\n", "unknown configuration key 'risk.max_positon'"),
     ("[risk]\nmax_positions = \"many\"\n", "risk.max_positions"),
     ("colour = 'blue'\n", "unknown configuration key 'colour'")],
    ids=["unknown-key", "wrong-type", "unknown-top-level-key"],
)
def test_bad_desk_toml_names_the_key(home, tmp_path, capsys, toml, message):
    (tmp_path / "desk.toml").write_text(toml)
    before = store_fingerprint(home / "desk.sqlite")
    code, _, err = run_cli(capsys, "status")
    _assert_one_line_error(code, err)
    assert message in err
    assert store_fingerprint(home / "desk.sqlite") == before


def test_unwritable_desk_home_is_one_line(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("DESK_HOME", str(blocker / "home"))
    code, _, err = run_cli(capsys, "status")
    _assert_one_line_error(code, err)
    assert "cannot be written" in err


@pytest.mark.parametrize("var", ["DESK_FOO", "DESK_RISK__MAX_POSITON"])
def test_unknown_desk_environment_variable_is_named(home, capsys, monkeypatch, var):
    monkeypatch.setenv(var, "3")
    code, _, err = run_cli(capsys, "status")
    _assert_one_line_error(code, err)
    assert "unknown configuration key" in err and var.split("__")[-1].lower().replace("desk_", "") in err.lower()


def test_env_var_overrides_toml_and_flag_overrides_env(home, tmp_path, monkeypatch):
    from desk.config import load_settings

    (tmp_path / "desk.toml").write_text("[risk]\nmax_positions = 3\n")
    assert load_settings().risk.max_positions == 3
    monkeypatch.setenv("DESK_RISK__MAX_POSITIONS", "5")
    assert load_settings().risk.max_positions == 5
    other = tmp_path / "elsewhere"
    assert load_settings(home=other).home == other
