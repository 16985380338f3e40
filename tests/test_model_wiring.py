"""The models as the night uses them: only a usable (promoted, purged) version decides; an agent whose model is out
stays out and says why; the regime ensemble's disagreement cuts sizes; asset health moves the bar and can sell a
holding; the direction model weighs on trend longs and the proposal says which drove it; every tool is listed."""

from __future__ import annotations

import json
from datetime import date

import pytest

from graph.nodes import picks, sizing, weather
from models.api import DirectionResult, DirectionScore, HealthResult, HealthScore, ModelAvailability, RegimeResult
from models.errors import NoData
from models.registry import ModelRegistry
from tests import kit
from tests.kit import run_cli
from tools.agents import AgentToolkit
from vocab.terms import Action

DAY = date(2017, 3, 1)


class FakeModels:
    """Model tools that answer what the test says: usable models and their outputs, typed as the real ones."""

    tools = ()

    def __init__(self, *, regime=None, health=None, direction=None) -> None:
        self._regime, self._health, self._direction = regime, health or {}, direction or {}

    def availability(self, name, day):
        usable = {"regime": self._regime is not None, "health": bool(self._health),
                  "direction": bool(self._direction)}.get(name, False)
        return ModelAvailability(model=name, as_of=day, usable=usable, model_version=f"{name}-test" if usable else None,
                                 cutoff=date(2016, 12, 1) if usable else None,
                                 reason="promoted: test" if usable else f"no {name} model in this test")

    def _stamp(self, name, day):
        return dict(model=name, model_version=f"{name}-test", cutoff=date(2016, 12, 1), as_of=day, session=day)

    def regime(self, args):
        if isinstance(self._regime, Exception):
            raise self._regime
        regime, disagreement = self._regime
        probs = {r: (0.6 if r == regime else 0.1) for r in ("calm_uptrend", "risk_on_trend", "choppy",
                                                           "risk_off_trend", "high_vol_panic")}
        return RegimeResult(**self._stamp("regime", args.as_of), regime=regime, probabilities=probs, gru=probs,
                            transformer=probs, disagreement=disagreement)

    def health(self, args):
        return HealthResult(**self._stamp("health", args.as_of), validated_heads=["health"], scores=[
            HealthScore(symbol=s, available=s in self._health, health=self._health.get(s)) for s in args.symbols])

    def direction(self, args):
        return DirectionResult(**self._stamp("direction", args.as_of), horizon_days=21, scores=[
            DirectionScore(symbol=s, available=s in self._direction, p_up=self._direction.get(s))
            for s in args.symbols])

    def mean_reversion(self, args):
        raise AssertionError("not usable in these tests")

    def prepare(self, day):
        return []

    def check(self, day):
        pass


def _desk(home, fake: FakeModels):
    base = kit.desk(home)
    m = base.ctx.config.models
    tools = AgentToolkit(base.ctx.market, base.ctx.registry, m.retrain_months, m.train_years, m.horizon_days,
                         models=fake)
    return kit.desk(home, tools=tools)


def test_an_agent_whose_model_is_out_holds_every_symbol_and_says_why(home):
    d = _desk(home, FakeModels())
    out = d.night(DAY)
    mr = [p for p in out["proposals"] if p.agent == "mean_reversion"]
    assert mr and all(p.action == Action.HOLD for p in mr)
    assert all("out of tonight's decisions: no mean_reversion model in this test" in p.rationale for p in mr)


def test_the_regime_ensembles_disagreement_cuts_every_size(home):
    calm = kit.run_nodes(_desk(home, FakeModels()), [weather.weather], {"run_id": "t", "as_of": DAY})["weather"]
    d = _desk(home, FakeModels(regime=("calm_uptrend", 0.3)))
    snap = kit.run_nodes(d, [weather.weather], {"run_id": "t", "as_of": DAY})["weather"]
    assert snap.sizing_modifier == pytest.approx(max(0.25, calm.sizing_modifier * 0.7))
    assert any("disagreement 0.30" in n for n in snap.notes) and not any("not yet available" in n for n in snap.notes)
    assert snap.regime == calm.regime  # the ensemble informs; the rules' regime stands
    wild = kit.run_nodes(_desk(home, FakeModels(regime=("choppy", 0.95))), [weather.weather],
                         {"run_id": "t", "as_of": DAY})["weather"]
    assert wild.sizing_modifier == pytest.approx(max(0.25, calm.sizing_modifier * 0.5))  # at most halved


def test_a_regime_ensemble_whose_inputs_are_incomplete_tonight_stays_out_and_the_night_goes_on(home):
    calm = kit.run_nodes(_desk(home, FakeModels()), [weather.weather], {"run_id": "t", "as_of": DAY})["weather"]
    missing = NoData("regime inputs incomplete on 2017-03-01: the 21-session window lacks ['macro_credit']")
    d = _desk(home, FakeModels(regime=missing))
    snap = kit.run_nodes(d, [weather.weather], {"run_id": "t", "as_of": DAY})["weather"]
    assert snap.sizing_modifier == calm.sizing_modifier and snap.regime == calm.regime
    assert any("regime ensemble out tonight" in n and "macro_credit" in n for n in snap.notes)
    assert not any("not yet available" in n for n in snap.notes)
    out = d.night(DAY)
    assert d.store.run(out["run_id"]).status == "ok"


def test_asset_health_moves_a_symbols_bar_and_a_collapse_sells_the_holding(home):
    d = _desk(home, FakeModels(health={"KO": 0.1, "PG": 0.9}))
    price = d.ctx.market.price("KO", DAY)
    kit.hold(d, "KO", 10.0, price, stop=price * 0.5, peak=price)
    state = kit.run_nodes(d, [weather.weather], {"run_id": "t", "as_of": DAY, "stale": {}})
    props = [kit.proposal(symbol=s, as_of=DAY, strength=0.9, confidence=0.9) for s in ("KO", "PG")]
    state = kit.run_nodes(d, [picks.picks], {**state, "proposals": props, "verdicts": [kit.verdict(p) for p in props]})
    bars = {p.symbol: p.threshold for p in state["picks"]}
    assert bars["KO"] == pytest.approx(150 + 50 * 0.4) and bars["PG"] == pytest.approx(150 - 50 * 0.4)
    out = sizing.exits({**state, "run_id": "t"}, kit.runtime(d))
    assert [(e.symbol, e.trigger) for e in out["exits"]] == [("KO", "health_collapse")]


def test_the_direction_model_weighs_on_trend_longs_and_the_proposal_says_which_drove_it(home):
    plain = [p for p in _desk(home, FakeModels()).night(DAY)["proposals"]
             if p.agent == "trend" and p.action == Action.BUY_LONG]
    assert plain
    against = {p.symbol: 0.3 for p in plain}
    weighed = {p.symbol: p for p in _desk(home, FakeModels(direction=against)).night(DAY)["proposals"]
               if p.agent == "trend" and p.action == Action.BUY_LONG}
    for p in plain:
        w = weighed[p.symbol]
        assert w.confidence == pytest.approx(p.confidence * 0.5)
        assert "against the direction model (P(up 21d)=0.30)" in w.rationale
        assert w.model_version.endswith("+direction-test") and w.inputs["p_up_21d"] == 0.3


def test_a_run_trains_its_mean_reversion_walk_forward_and_only_a_promoted_version_decides(home):
    d = kit.desk(home)
    out = d.night(date(2018, 9, 4))
    [ready] = [s.summary for s in d.store.steps(out["run_id"]) if s.node == "models"]
    table = {r["version"]: r for r in ModelRegistry(home / "models").snapshot().table()}
    mr = [p for p in out["proposals"] if p.agent == "mean_reversion"]
    used = {p.model_version for p in mr if p.action != Action.HOLD}
    assert used <= {v for v, r in table.items() if r["status"] == "promoted"}
    if not used:  # the block's model was rejected: the agent said so on every symbol
        assert "mean_reversion out" in ready and all("out of tonight's decisions" in p.rationale for p in mr)


def test_desk_tools_lists_every_tool_with_its_argument_schema(home, capsys):
    code, out, err = run_cli(capsys, "tools", "--json")
    assert code == 0, err
    tools = {t["name"]: t for t in json.loads(out)["tools"]}
    assert {"trend_momentum", "ema_crossover", "mean_reversion_lgbm", "regime_ensemble", "asset_health",
            "direction_cfc", "mean_reversion_p_up"} <= set(tools)
    assert set(tools["asset_health"]["args"]["properties"]) == {"as_of", "symbols"}


def test_desk_models_lists_versions_with_their_fate_after_a_run(home, capsys):
    kit.desk(home).night(DAY)
    code, out, err = run_cli(capsys, "models", "--json")
    assert code == 0, err
    rows = json.loads(out)["models"]
    assert rows and all(r["status"] in ("promoted", "rejected") and r["reason"] for r in rows
                        if r["name"] == "mean_reversion")


def test_desk_train_refuses_an_unknown_model_in_one_line(home, capsys):
    code, _, err = run_cli(capsys, "train", "--models", "regime,oracle")
    assert code == 2 and "unknown model(s) oracle" in err and len(err.strip().splitlines()) == 1


from tests.model_kit import market, model_inputs, promoted, trained  # noqa: E402,F401  (fixtures)


def test_a_run_infers_from_a_window_of_history_exactly_as_from_all_of_it(promoted, market):
    from models.api import AsOfArgs, ModelService, SymbolsArgs
    from tools.model_tools import ModelTools

    view = market["view"]
    day = date(2012, 6, 1)
    windowed = ModelTools(view, promoted, 3, train_in_run=())
    full = ModelService(promoted, windowed.inputs.until(date(2012, 12, 31)))
    windowed._inputs = None  # infer as a run does: from the window only
    symbols = list(view.tradable)
    for name in ("regime", "health", "direction"):
        assert windowed.availability(name, day).usable, windowed.availability(name, day).reason
    assert windowed.regime(AsOfArgs(as_of=day)).probabilities == pytest.approx(
        full.regime(AsOfArgs(as_of=day)).probabilities)
    a, b = windowed.direction(SymbolsArgs(as_of=day, symbols=symbols)), full.direction(
        SymbolsArgs(as_of=day, symbols=symbols))
    assert [s.p_up for s in a.scores] == pytest.approx([s.p_up for s in b.scores])
    h, g = windowed.health(SymbolsArgs(as_of=day, symbols=symbols)), full.health(
        SymbolsArgs(as_of=day, symbols=symbols))
    assert [s.health for s in h.scores] == pytest.approx([s.health for s in g.scores])
