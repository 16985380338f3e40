"""The four-tier cascade as the night runs it: each tier is chosen at its gate and recorded in the entry (and so in
every intent's reason chain and `desk why`); GARCH targets the volatility; an open breaker sizes flat and the hard
rules still deny; a moonshot is sized on its own track and the hard rules still have the last word."""

from __future__ import annotations

from datetime import date

import pytest

from graph.nodes import moonshot, picks, risk, sizing, trust, weather
from models.api import GarchResult, ModelAvailability, SizeResult, VolForecast, VolStateResult
from tests import kit
from tools.agents import AgentToolkit
from tools.trust import AgentRecord
from vocab.terms import SizingTier

DAY = date(2017, 3, 1)
NAMES = ("bull", "neutral", "bear", "crisis")


class Models:
    """Model tools that answer what the test says (typed as the real ones)."""

    tools = ()

    def __init__(self, *, usable=("vol_state", "garch"), state="neutral", vol=0.50, size=0.8):
        self.usable, self.state, self.vol, self.size = set(usable), state, vol, size
        self.asked: list[str] = []

    def availability(self, name, day):
        ok = name in self.usable
        return ModelAvailability(model=name, as_of=day, usable=ok, model_version=f"{name}-test" if ok else None,
                                 cutoff=date(2016, 12, 1) if ok else None,
                                 reason="promoted: test" if ok else f"no {name} model in this test")

    def _stamp(self, name, day):
        return dict(model=name, model_version=f"{name}-test", cutoff=date(2016, 12, 1), as_of=day, session=day)

    def vol_state(self, args):
        probs = {n: (0.7 if n == self.state else 0.1) for n in NAMES}
        return VolStateResult(**self._stamp("vol_state", args.as_of), state=self.state, probabilities=probs,
                              state_vols={n: 0.1 * (i + 1) for i, n in enumerate(NAMES)}, current_vol=0.15)

    def garch(self, args):
        return GarchResult(**self._stamp("garch", args.as_of), horizon_days=21,
                           forecasts=[VolForecast(symbol=s, available=True, vol=self.vol) for s in args.symbols])

    def rl_sizer(self, args):
        self.asked.append("rl")
        return SizeResult(**self._stamp("rl_sizer", args.as_of), size=self.size)

    def prepare(self, day):
        return []

    def check(self, day):
        pass


def desk_with(home, models: Models, **settings):
    """A desk with the given model tools, sizing by the four tiers and the book's budget (the cascade these tests
    are about; the defaults are the base weight alone and no budget, as the edge ledger decided)."""
    settings = {**settings, "sizing": {"mode": "cascade", "budget": "scale", **settings.get("sizing", {})}}
    base = kit.desk(home, settings=settings)
    m = base.ctx.config.models
    tools = AgentToolkit(base.ctx.market, base.ctx.registry, m.retrain_months, m.train_years, m.horizon_days,
                         models=models)
    return kit.desk(home, tools=tools, settings=settings)


def size_night(d, *, confidence=0.8, ic=0.2, records=None):
    state = kit.run_nodes(d, [weather.weather], {"run_id": "t", "as_of": DAY, "stale": {}})
    props = [kit.proposal(symbol=s, as_of=DAY, strength=0.9, confidence=confidence, agent="trend", stop=None)
             for s in ("KO", "PG")]
    recs = records or {"trend": AgentRecord(agent="trend", resolved=100, wins=60, mean_win=0.04, mean_loss=0.03,
                                            ic=ic)}
    state.update(proposals=props, verdicts=[kit.verdict(p) for p in props], regime=state["weather"].regime,
                 agent_records=recs, agent_weights={"trend": 1.0})
    return kit.run_nodes(d, [picks.picks, sizing.sizing, moonshot.moonshot, risk.hard_rules], state)


def test_pure_kelly_when_the_rl_sizer_is_not_promoted_scaled_by_the_state_and_vol_targeted_by_garch(home):
    out = size_night(desk_with(home, Models(state="bear", vol=0.50)))
    entry = out["sized"][0]
    f = {x.name: x for x in entry.factors}
    assert entry.tier is SizingTier.PURE_KELLY and any("RL sizer out" in g for g in entry.gates)
    b = (20 + 100 * 4 / 3) / 120
    p = (20 / (1 + b) + 60) / 120                        # the no-edge prior: break-even for the payoff
    kelly = (p - (1 - p) / b) * 0.25                    # bear: 25% of full Kelly
    assert f["tier"].multiplier == pytest.approx(0.5 + 0.5 * min(1.0, kelly / 0.20))   # a modifier above its floor
    assert "bear: 25% of full Kelly" in f["tier"].reason
    assert f["volatility"].multiplier == pytest.approx(0.25 / 0.50) and "GARCH" in f["volatility"].reason
    assert [x.name for x in entry.factors][:3] == ["base", "tier", "volatility"]


NO_RECORD = {"trend": AgentRecord(agent="trend", resolved=0, wins=0)}


def test_a_new_desk_with_no_record_sizes_kelly_at_its_floor_never_a_certain_win_nor_nothing(home):
    entry = size_night(desk_with(home, Models(state="bull")), confidence=1.0, records=NO_RECORD)["sized"][0]
    tier = {x.name: x for x in entry.factors}["tier"]
    assert entry.tier is SizingTier.PURE_KELLY and tier.multiplier == pytest.approx(0.5)
    assert "p 0.50, b 1.00 over 0 resolved (prior p 0.50, no edge) → f* 0.000" in tier.reason
    assert "floor 0.50" in tier.reason and "p 1.00" not in tier.reason


def test_the_old_kelly_reads_the_stated_confidence_as_a_certain_win_when_configured(home):
    d = desk_with(home, Models(state="bull"), sizing={"kelly_prior": "confidence", "kelly_floor": 0.0})
    tier = {x.name: x for x in size_night(d, confidence=1.0, records=NO_RECORD)["sized"][0].factors}["tier"]
    assert "p 1.00, b 1.00 over 0 resolved" in tier.reason and tier.multiplier == 1.0


def test_full_rl_when_promoted_and_both_gates_pass(home):
    models = Models(usable=("vol_state", "garch", "rl_sizer"), size=0.6)
    entry = size_night(desk_with(home, models), confidence=0.8, ic=0.2)["sized"][0]
    assert entry.tier is SizingTier.FULL_RL and models.asked
    assert {x.name: x for x in entry.factors}["tier"].multiplier == pytest.approx(0.6)


def test_blended_below_the_full_gate_is_half_rl_half_kelly(home):
    models = Models(usable=("vol_state", "garch", "rl_sizer"), size=0.6)
    entry = size_night(desk_with(home, models), confidence=0.45, ic=0.2)["sized"][0]
    assert entry.tier is SizingTier.BLENDED
    assert any("FULL_RL gate: confidence 0.45 < 0.50" in g for g in entry.gates)
    share = {x.name: x for x in entry.factors}["tier"].multiplier
    assert 0.3 < share < 0.8


def test_an_unknown_information_coefficient_falls_back_to_kelly_and_says_so(home):
    models = Models(usable=("vol_state", "garch", "rl_sizer"))
    entry = size_night(desk_with(home, models), ic=None)["sized"][0]
    assert entry.tier is SizingTier.PURE_KELLY and any("unknown" in g for g in entry.gates)


def test_an_open_circuit_breaker_sizes_flat_and_the_hard_rules_still_deny(home):
    d = desk_with(home, Models(usable=("vol_state", "garch", "rl_sizer")))
    d.store.trip_breaker("daily_loss", DAY, 5, "test drill")
    out = size_night(d)
    assert out["sized"] == []
    for sym in ("KO", "PG"):
        rules = [x.rule for x in out["denials"][sym]]
        assert "emergency_flat" in rules and "halted" in rules


def test_fixed_mode_is_the_base_weight_alone(home):
    entry = size_night(desk_with(home, Models(), sizing={"mode": "fixed"}))["sized"][0]
    assert entry.tier is SizingTier.FIXED and {x.name: x for x in entry.factors}["tier"].multiplier == 1.0


def test_trust_weights_are_persisted_and_the_same_night_samples_the_same_weights(home):
    d = kit.desk(home)
    props = [kit.proposal(agent=a, as_of=DAY) for a in ("ema", "trend", "mean_reversion")]
    one = kit.run_nodes(d, [trust.trust], {"run_id": "a", "as_of": DAY, "proposals": props})["agent_weights"]
    two = kit.run_nodes(d, [trust.trust], {"run_id": "b", "as_of": DAY, "proposals": props})["agent_weights"]
    assert one == two and set(one) == {"ema", "trend", "mean_reversion"}
    assert {r.agent: r.weight for r in d.store.agent_weights()} == pytest.approx(one)


def pick(symbol, price, *, score=100.0, threshold=150.0, stop=None, target=None, selected=False):
    from graph.state import Pick

    return Pick(symbol=symbol, score=score, threshold=threshold, selected=selected, agents=["trend"],
                proposal_keys=[], dissent=0.0, parts={}, explanation="test", price=price, vol_21d=0.2, ret_21d=0.0,
                stop=stop, horizon_days=21, target=target)


def test_a_moonshot_gets_its_own_capped_track_and_the_hard_rules_still_apply(home):
    d = kit.desk(home)
    state = kit.run_nodes(d, [weather.weather], {"run_id": "t", "as_of": DAY, "stale": {}})
    prices = {s: d.ctx.market.price(s, DAY) for s in ("KO", "PG", "XOM", "JNJ", "MRK")}
    shots = [pick(s, p, stop=p * 0.95, target=p * 1.5) for s, p in prices.items()]   # 10:1 each
    state.update(picks=shots, sized=[], regime=state["weather"].regime)
    out = kit.run_nodes(d, [moonshot.moonshot, risk.hard_rules], state)
    assert out["moonshots"] and sum(m.weight for m in out["moonshots"]) <= 0.02 + 1e-12
    assert all(s.track == "moonshot" and s.factors[0].name == "moonshot" for s in out["sized"])
    assert len(out["sized"]) == 4   # 0.5% each: the fifth would pass the 2% cap
    assert all(s.weight <= 0.005 + 1e-12 for s in out["sized"])


def test_the_moonshot_line_counts_an_episode_from_its_entry_to_flat():
    from evals.tracks import moonshot_line

    from memory.agents import Moonshot
    from memory.book import FillRecord, OrderRecord

    moon = [Moonshot(intent_id="2017-03-01:KO:buy:entry", as_of=date(2017, 3, 1), symbol="KO", weight=0.005)]
    orders = [OrderRecord(client_order_id=c, intent_id=i, run_id="r", symbol=i.split(":")[1], side=i.split(":")[2],
                          quantity=1.0, status="filled", session=date(2017, 3, 2), created="", updated="", detail=None)
              for c, i in (("c1", "2017-03-01:KO:buy:entry"), ("c2", "2017-03-09:KO:sell:exit"),
                           ("c3", "2017-03-02:PG:buy:entry"))]
    fills = [FillRecord(fill_id=f, client_order_id=c, symbol=sym, side=side, quantity=q, price=p, commission=1.0,
                        session=date.fromisoformat(d), price_source="next_open")
             for f, c, sym, side, q, p, d in (("1", "c1", "KO", "buy", 10, 40.0, "2017-03-02"),
                                              ("2", "c2", "KO", "sell", 10, 44.0, "2017-03-10"),
                                              ("3", "c3", "PG", "buy", 5, 90.0, "2017-03-03"))]
    line = moonshot_line(moon, orders, fills, {"KO": 45.0, "PG": 95.0}, 100_000)
    assert line.trades == 1 and line.open == 0 and line.wins == 1
    assert line.pnl == pytest.approx(10 * 4.0 - 2.0)   # the PG main-track trade is not in it


def test_desk_agents_shows_weights_posteriors_and_drift_from_the_nightly_record(home, capsys):
    import json

    d = kit.desk(home)
    props = [kit.proposal(agent=a, as_of=DAY) for a in ("ema", "trend")]
    weights = kit.run_nodes(d, [trust.trust], {"run_id": "a", "as_of": DAY, "proposals": props})["agent_weights"]
    d.store.close()
    code, out, err = kit.run_cli(capsys, "agents", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["as_of"] == DAY.isoformat() and data["mode"] == "thompson"
    assert {a["agent"]: a["weight"] for a in data["agents"]} == pytest.approx(weights)
    assert all(a["alpha"] >= 1 and a["beta"] >= 1 and "drift" in a["reason"] for a in data["agents"])
    code, out, _ = kit.run_cli(capsys, "agents")
    assert code == 0 and "Beta(" in out and "trend" in out


class BrokenRL(Models):
    def rl_sizer(self, args):
        raise RuntimeError("policy file unreadable")


def test_a_failing_rl_sizer_falls_back_to_kelly_and_says_so(home):
    entry = size_night(desk_with(home, BrokenRL(usable=("vol_state", "garch", "rl_sizer"))))["sized"][0]
    assert entry.tier is SizingTier.PURE_KELLY
    assert any("RL sizer failed (RuntimeError: policy file unreadable)" in g for g in entry.gates)
