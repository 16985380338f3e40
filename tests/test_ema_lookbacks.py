"""The EMA agent's lookbacks are settings (`agents.ema_*`), searched by `desk tune` like the engine's thresholds:
the panel's defaults and other spans come from one EMA function, causally, and the agent says which it used."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from desk.config import load_settings
from evals import tune as engine
from graph.config import AgentSettings, DeskConfig
from memory.store import Store
from tools.agents import AgentToolkit, ema_crossover
from tools.features import EMA_SPANS, ema_blocks
from tools.market import MarketView

DAY = date(2016, 6, 1)


@pytest.fixture
def market(home):
    settings = load_settings(home=home)
    store = Store(settings.store_path)
    view = MarketView(store, tuple(settings.data.universe), settings.data.benchmark, cache_dir=settings.cache_dir)
    yield view
    store.close()


def test_the_default_spans_computed_apart_equal_the_panel(market):
    apart = market.ema_rows(DAY, EMA_SPANS)
    panel = market.feature_dicts(DAY)
    assert apart and set(apart) <= set(panel)
    for sym, row in apart.items():
        for name, value in row.items():
            assert value == pytest.approx(panel[sym][name], rel=1e-12, abs=1e-15)


def test_other_spans_are_the_ewm_of_the_closes_to_that_day_only(market):
    spans = (8, 30, 40, 150)
    got = market.ema_rows(DAY, spans)["AAPL"]
    close = market.close["AAPL"].dropna()
    to_day = close.loc[:pd.Timestamp(DAY)]
    ema = lambda n: to_day.ewm(span=n, adjust=False, min_periods=n).mean().iloc[-1]
    assert got["ema_cross"] == pytest.approx((ema(8) - ema(30)) / to_day.iloc[-1], rel=1e-9)
    assert got["ema_trend"] == pytest.approx((ema(40) - ema(150)) / to_day.iloc[-1], rel=1e-9)
    cut = ema_blocks(close.loc[:pd.Timestamp(DAY)].to_frame(), spans)     # later sessions removed: the same value
    assert cut["ema_cross"].iloc[-1, 0] == pytest.approx(got["ema_cross"], rel=1e-12)


def test_the_agent_uses_the_configured_spans_and_says_so(market, home):
    from models.registry import ModelRegistry

    settings = load_settings(home=home).model_copy(update={"agents": AgentSettings(
        ema_fast=8, ema_slow=30, ema_trend_fast=40, ema_trend_slow=150)})
    kit = AgentToolkit.from_config(settings, market, ModelRegistry(settings.models_dir))
    tool = next(t for t in kit.tools if t.name == "ema_crossover")
    out = tool.invoke({"as_of": DAY, "symbols": list(market.tradable)})
    assert {p.model_version for p in out} == {"ema-rules-v1@8-30-40-150"}
    spoke = [p for p in out if p.action != "HOLD"]
    assert spoke and all("EMA8" in p.rationale and "40" in p.rationale for p in spoke)
    custom = market.ema_rows(DAY, (8, 30, 40, 150))
    for p in spoke:
        assert p.inputs["ema_cross"] == round(custom[p.symbol]["ema_cross"], 6)
    default = AgentToolkit.from_config(load_settings(home=home), market, ModelRegistry(settings.models_dir))
    plain = next(t for t in default.tools if t.name == "ema_crossover").invoke(
        {"as_of": DAY, "symbols": list(market.tradable)})
    assert {p.model_version for p in plain} == {"ema-rules-v1"}
    assert [p.action for p in plain] == [p.action for p in ema_crossover(market.feature_dicts(DAY), DAY)]


def test_spans_out_of_order_are_refused_in_one_line(home, monkeypatch, capsys):
    from tests.kit import run_cli

    monkeypatch.setenv("DESK_AGENTS__EMA_FAST", "30")
    monkeypatch.setenv("DESK_AGENTS__EMA_SLOW", "20")
    code, _, err = run_cli(capsys, "status")
    assert code == 2 and "ema_fast" in err and len(err.strip().splitlines()) == 1


def test_tune_searches_the_ema_lookbacks_and_writes_them_where_settings_read_them(home):
    from desk.tuning import _toml

    assert {"ema_fast", "ema_slow", "ema_trend_fast", "ema_trend_slow"} <= set(engine.SPACE)
    for name in ("ema_fast", "ema_slow", "ema_trend_fast", "ema_trend_slow"):
        assert engine.SPACE[name][0] == "agents" and engine.SPACE[name][4] == "int"
    lows, highs = {n: engine.SPACE[n][2] for n in engine.SPACE}, {n: engine.SPACE[n][3] for n in engine.SPACE}
    assert highs["ema_fast"] < lows["ema_slow"] and highs["ema_trend_fast"] < lows["ema_trend_slow"]  # always ordered
    base = DeskConfig(home="/tmp/x")
    assert engine.incumbent(base)["ema_fast"] == 12 and engine.incumbent(base)["ema_trend_slow"] == 200
    params = {"ema_fast": 9, "ema_slow": 35, "ema_trend_fast": 60, "ema_trend_slow": 250}
    assert engine.apply(base, params).agents.ema_spans == (9, 35, 60, 250)
    (home / "tuned.toml").write_text(_toml(load_settings(home=home), params))
    assert load_settings(home=home).agents.ema_spans == (9, 35, 60, 250)


def test_every_draw_of_the_search_space_is_a_valid_configuration():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    base = DeskConfig(home="/tmp/x")
    for _ in range(25):
        params = engine.suggest(study.ask())
        cfg = engine.apply(base, params)
        assert cfg.agents.ema_fast < cfg.agents.ema_slow and cfg.agents.ema_trend_fast < cfg.agents.ema_trend_slow


def test_a_damaged_adopted_file_is_named_in_one_line(home, capsys):
    from tests.kit import run_cli

    (home / "tuned.toml").write_text('[agents]\nema_fast = "x\n')
    code, _, err = run_cli(capsys, "status")
    assert code == 2 and "tuned.toml" in err and len(err.strip().splitlines()) == 1
