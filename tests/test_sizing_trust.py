"""Sizing and trust as pure functions: Kelly and its calibration, the cascade's tier at each gate, the track record
knows no future, Thompson weights are reproducible from a seed and drift cuts a weight, the moonshot cap holds."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.kelly import break_even, calibrated, full_kelly, kelly_share, state_fraction
from tools.moonshot import HARD_CAP, MoonshotCandidate, allocate, reward_risk
from tools.tiers import choose_tier
from tools.trust import AgentRecord, records, resolve, thompson
from vocab.terms import SizingTier, VolState

FRACTIONS = {VolState.CRISIS: 0.17, VolState.BEAR: 0.25, VolState.NEUTRAL: 0.50, VolState.BULL: 0.67}
GATES = dict(full_confidence=0.50, full_ic=0.05, blended_confidence=0.40, blended_ic=0.0)


# ---------------------------------------------------------------------- Kelly
def test_full_kelly_is_p_minus_q_over_b_and_no_edge_is_no_bet():
    assert full_kelly(0.6, 1.0) == pytest.approx(0.2)
    assert full_kelly(0.5, 2.0) == pytest.approx(0.25)
    assert full_kelly(0.4, 1.0) == 0.0 and full_kelly(0.5, 1.0) == 0.0
    assert full_kelly(float("nan"), 1.0) == 0.0


def test_the_confidence_prior_starts_at_the_stated_confidence_and_moves_to_the_record():
    none = calibrated(0.7, wins=0, resolved=0, mean_win=None, mean_loss=None, prior_strength=20, prior="confidence")
    assert none.p_win == pytest.approx(0.7) and none.payoff == 1.0
    poor = calibrated(0.7, wins=30, resolved=100, mean_win=0.02, mean_loss=0.04, prior_strength=20,
                      prior="confidence")
    assert poor.p_win == pytest.approx((14 + 30) / 120)
    assert poor.payoff == pytest.approx((20 + 100 * 0.5) / 120)
    assert poor.full_kelly == 0.0   # a record of losing more than it wins leaves no edge


@pytest.mark.parametrize("confidence", [0.0, 0.5, 0.9, 1.0])
def test_kelly_with_no_record_has_no_edge_whatever_the_agent_states(confidence):
    none = calibrated(confidence, wins=0, resolved=0, mean_win=None, mean_loss=None, prior_strength=20)
    assert none.p_win == pytest.approx(0.5) and none.payoff == 1.0 and none.full_kelly == 0.0


def test_the_no_edge_prior_sits_at_the_break_even_probability_for_the_payoff_and_the_record_moves_it():
    assert break_even(1.0) == 0.5 and break_even(3.0) == 0.25
    good = calibrated(0.9, wins=70, resolved=100, mean_win=0.03, mean_loss=0.03, prior_strength=20)
    assert good.prior_p == pytest.approx(0.5) and good.p_win == pytest.approx((10 + 70) / 120)
    assert good.full_kelly == pytest.approx(full_kelly((10 + 70) / 120, 1.0)) and good.full_kelly > 0
    coin = calibrated(0.9, wins=50, resolved=100, mean_win=0.03, mean_loss=0.03, prior_strength=20)
    assert coin.full_kelly == 0.0   # a coin-flip record is no edge, however confident the agent says it is


def test_kelly_from_a_single_winning_pick_never_reads_a_certain_win():
    one = calibrated(1.0, wins=1, resolved=1, mean_win=0.05, mean_loss=None, prior_strength=20)
    assert one.p_win < 0.6 and one.full_kelly < 0.2


def test_kelly_modifies_the_base_weight_between_its_floor_and_one():
    assert kelly_share(0.0, 0.20, 0.5)[0] == 0.5          # no edge: the floor, never nothing
    assert kelly_share(0.10, 0.20, 0.5)[0] == pytest.approx(0.75)
    assert kelly_share(0.50, 0.20, 0.5)[0] == 1.0         # never above the base weight
    assert kelly_share(0.0, 0.20, 0.0)[0] == 0.0          # kelly_floor = 0: pure Kelly, as before issue 18
    assert "floor 0.50" in kelly_share(0.0, 0.20, 0.5)[1] and "pure Kelly" in kelly_share(0.0, 0.20, 0.0)[1]


@pytest.mark.parametrize("state, share", [(VolState.CRISIS, 0.17), (VolState.BEAR, 0.25), (VolState.NEUTRAL, 0.5),
                                          (VolState.BULL, 0.67), (None, 0.25)])
def test_the_share_of_full_kelly_follows_the_volatility_state(state, share):
    value, why = state_fraction(state, FRACTIONS, unknown=0.25)
    assert value == share and ("unknown" in why if state is None else str(state) in why)


# ---------------------------------------------------------------------- the four tiers
def tier(mode="cascade", blocked=None, rl=True, confidence=0.6, ic=0.1):
    return choose_tier(mode, blocked=blocked, rl_usable=rl, rl_reason="not promoted: test", confidence=confidence,
                       ic=ic, **GATES)


@pytest.mark.parametrize("kw, expected", [
    (dict(), SizingTier.FULL_RL),
    (dict(confidence=0.50, ic=0.05), SizingTier.FULL_RL),                 # on the gates: passes
    (dict(confidence=0.45), SizingTier.BLENDED),                          # below full confidence
    (dict(ic=0.02), SizingTier.BLENDED),                                  # below full IC
    (dict(confidence=0.39), SizingTier.PURE_KELLY),                       # below blended confidence
    (dict(ic=-0.01), SizingTier.PURE_KELLY),                              # below blended IC
    (dict(ic=None), SizingTier.PURE_KELLY),                               # unknown IC fails closed
    (dict(rl=False), SizingTier.PURE_KELLY),                              # RL not promoted
    (dict(blocked="circuit breaker daily_loss"), SizingTier.EMERGENCY_FLAT),
    (dict(blocked="halted", rl=False, ic=None), SizingTier.EMERGENCY_FLAT),
    (dict(mode="kelly"), SizingTier.PURE_KELLY),
    (dict(mode="fixed"), SizingTier.FIXED),
    (dict(mode="rl", confidence=0.1, ic=None), SizingTier.FULL_RL),
])
def test_the_cascade_picks_its_tier_at_each_gate_and_says_why(kw, expected):
    chosen, gates = tier(**kw)
    assert chosen is expected
    assert gates and all(isinstance(g, str) and g for g in gates)
    if kw.get("ic", 0.1) is None and expected is SizingTier.PURE_KELLY:
        assert any("unknown" in g for g in gates)
    if expected is SizingTier.EMERGENCY_FLAT:
        assert "circuit breaker open" in gates[0]


# ---------------------------------------------------------------------- track records
def closes(n=80, seed=1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    index = pd.bdate_range("2015-01-01", periods=n)
    return pd.DataFrame({s: 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n))) for s in ("AAA", "BBB")}, index=index)


def rows_for(close: pd.DataFrame, agent="trend", version="v1", every=2, horizon=5):
    out = []
    for i in range(0, len(close) - 1, every):
        for s in close.columns:
            out.append({"as_of": close.index[i].date().isoformat(), "agent": agent, "symbol": s,
                        "horizon_days": horizon, "reference_price": float(close[s].iloc[i]),
                        "signal": float((i % 7) / 7), "model_version": version})
    return out


def test_a_track_record_on_a_date_is_the_same_with_every_later_close_removed():
    close = closes()
    rows = rows_for(close)
    day = close.index[50].date()
    full = records(resolve(rows, close, day), ["trend"], 50, trust_window=30, drift_window=10, min_ic_picks=5)
    cut = close.loc[:pd.Timestamp(day)]
    known = [r for r in rows if r["as_of"] <= day.isoformat()]
    trunc = records(resolve(known, cut, day), ["trend"], 50, trust_window=30, drift_window=10, min_ic_picks=5)
    assert full == trunc
    assert full["trend"].resolved == len(resolve(rows, close, day))
    assert 0 < full["trend"].resolved < len(known)   # picks made in the last 5 sessions have not resolved yet
    assert full["trend"].ic is not None


def test_a_pick_counts_only_once_its_horizon_has_passed():
    close = closes()
    rows = [{"as_of": close.index[10].date().isoformat(), "agent": "ema", "symbol": "AAA", "horizon_days": 5,
             "reference_price": float(close["AAA"].iloc[10]), "signal": 0.5, "model_version": "v1"}]
    assert len(resolve(rows, close, close.index[14].date())) == 0
    done = resolve(rows, close, close.index[15].date())
    assert len(done) == 1 and done.ret[0] == pytest.approx(close["AAA"].iloc[15] / close["AAA"].iloc[10] - 1)


def record(agent="trend", **kw) -> AgentRecord:
    return AgentRecord(**{"agent": agent, "resolved": 40, "wins": 20, "window_wins": 12, "window_losses": 8, **kw})


def test_thompson_weights_are_reproducible_from_the_seed_and_the_night():
    recs = {"trend": record(), "ema": record("ema", window_wins=3, window_losses=17), "mr": record("mr")}
    day = date(2016, 3, 1)
    a = thompson(recs, day, 13, margin=0.1, min_picks=10, drift_factor=0.5)
    b = thompson(recs, day, 13, margin=0.1, min_picks=10, drift_factor=0.5)
    assert a == b
    assert [w.weight for w in thompson(recs, day, 14, margin=0.1, min_picks=10, drift_factor=0.5)] != \
        [w.weight for w in a]
    assert sum(w.weight for w in a) == pytest.approx(len(a))   # mean weight 1
    assert {w.agent: (w.alpha, w.beta) for w in a}["ema"] == (4.0, 18.0)


def test_thompson_favours_the_agent_whose_picks_won_over_many_nights():
    recs = {"good": record("good", window_wins=40, window_losses=10),
            "poor": record("poor", window_wins=10, window_losses=40)}
    nights = [date(2016, 1, 4) + pd.Timedelta(days=i) for i in range(60)]
    mean = {a: np.mean([next(w.weight for w in thompson(recs, d, 13, margin=0.1, min_picks=10, drift_factor=0.5)
                             if w.agent == a) for d in nights]) for a in recs}
    assert mean["good"] > 1.3 > 0.7 > mean["poor"]


def test_an_agent_whose_live_hit_rate_drifts_below_its_reference_is_down_weighted_and_says_so():
    steady = record("ema", live_rate=0.55, live_n=15, reference_rate=0.56, reference_n=50)
    drifting = record("trend", live_rate=0.30, live_n=15, reference_rate=0.55, reference_n=50)
    out = {w.agent: w for w in thompson({"ema": steady, "trend": drifting}, date(2016, 3, 1), 13, margin=0.1,
                                        min_picks=10, drift_factor=0.5)}
    assert out["trend"].drift and "down-weighted until retrained" in out["trend"].reason
    assert not out["ema"].drift and "no drift" in out["ema"].reason
    same = {w.agent: w for w in thompson({"ema": steady, "trend": drifting.model_copy(update={"live_rate": 0.55})},
                                         date(2016, 3, 1), 13, margin=0.1, min_picks=10, drift_factor=0.5)}
    assert out["trend"].weight / out["ema"].weight == pytest.approx(0.5 * same["trend"].weight / same["ema"].weight)


def test_drift_is_not_judged_on_too_few_live_picks():
    few = record(live_rate=0.0, live_n=3, reference_rate=0.6, reference_n=50)
    (w,) = thompson({"trend": few}, date(2016, 3, 1), 13, margin=0.1, min_picks=10, drift_factor=0.5)
    assert not w.drift and "not judged" in w.reason


def test_a_retrained_agent_starts_its_live_record_afresh():
    close = closes(120)
    old = [r for r in rows_for(close, version="v1") if r["as_of"] < close.index[100].date().isoformat()]
    new = [r for r in rows_for(close, version="v2") if r["as_of"] >= close.index[100].date().isoformat()]
    rec = records(resolve(old + new, close, close.index[110].date()), ["trend"], 110, trust_window=60,
                  drift_window=30, min_ic_picks=5)["trend"]
    only_new = resolve(new, close, close.index[110].date())
    assert rec.live_n == len(only_new)   # the live window holds v1 picks too, but only v2's count as live


def test_thompson_without_evidence_takes_the_posterior_mean_so_no_noise_enters_the_sizes():
    recs = {"trend": record(window_wins=0, window_losses=0), "ema": record("ema", window_wins=0, window_losses=0)}
    nights = [date(2016, 1, 4) + pd.Timedelta(days=i) for i in range(20)]
    quiet = [[w.weight for w in thompson(recs, d, 13, margin=0.1, min_picks=10, drift_factor=0.5,
                                         min_draw_picks=10)] for d in nights]
    assert all(ws == [1.0, 1.0] for ws in quiet)
    out = thompson(recs, nights[0], 13, margin=0.1, min_picks=10, drift_factor=0.5, min_draw_picks=10)
    assert all("posterior mean 0.500" in w.reason and "0 resolved picks" in w.reason for w in out)
    noisy = [[w.weight for w in thompson(recs, d, 13, margin=0.1, min_picks=10, drift_factor=0.5,
                                         min_draw_picks=0)] for d in nights]
    assert any(abs(ws[0] - 1.0) > 0.05 for ws in noisy)   # min_draw_picks = 0 draws anyway (before issue 18)


def test_thompson_draws_once_the_window_holds_enough_evidence():
    recs = {"a": record("a", window_wins=12, window_losses=8), "b": record("b", window_wins=12, window_losses=8)}
    out = thompson(recs, date(2016, 3, 1), 13, margin=0.1, min_picks=10, drift_factor=0.5, min_draw_picks=10)
    assert all("Thompson draw" in w.reason for w in out) and out[0].weight != out[1].weight


def test_equal_mode_gives_every_agent_weight_one_and_still_reports_its_posterior():
    out = thompson({"a": record("a"), "b": record("b", window_wins=1)}, date(2016, 3, 1), 13, margin=0.1,
                   min_picks=10, drift_factor=0.5, mode="equal")
    assert [w.weight for w in out] == [1.0, 1.0] and out[1].alpha == 2.0


# ---------------------------------------------------------------------- moonshots
def test_reward_to_risk_needs_a_stop_below_and_a_target_above():
    assert reward_risk(100, 95, 130) == pytest.approx(6.0)
    assert reward_risk(100, None, 130) is None and reward_risk(100, 95, 99) is None


def candidate(symbol="AAA", **kw) -> MoonshotCandidate:
    return MoonshotCandidate(**{"symbol": symbol, "price": 100.0, "stop": 95.0, "target": 130.0, "score": 120.0,
                                "threshold": 150.0, "selected": False, **kw})


def test_a_moonshot_needs_five_to_one_and_a_modest_not_ignored_score():
    args = dict(min_rr=5, min_score_share=0.5, per_trade=0.005, total_cap=0.02)
    assert [m.symbol for m in allocate([candidate()], 0.0, **args)] == ["AAA"]
    assert allocate([candidate(target=120.0)], 0.0, **args) == []          # 4:1
    assert allocate([candidate(score=60.0)], 0.0, **args) == []            # ranked too low
    assert allocate([candidate(selected=True)], 0.0, **args) == []         # the main track has it


@settings(max_examples=200, deadline=None)
@given(n=st.integers(0, 30), held=st.floats(0, 0.05), per_trade=st.floats(0, 0.02), cap=st.floats(0, 0.02),
       rr=st.lists(st.floats(1, 50), min_size=30, max_size=30))
def test_moonshots_never_hold_more_than_two_percent_of_equity_in_all(n, held, per_trade, cap, rr):
    cands = [candidate(f"S{i}", target=100 + 5 * rr[i]) for i in range(n)]
    out = allocate(cands, held, min_rr=5, min_score_share=0.5, per_trade=per_trade, total_cap=cap)
    assert held + sum(m.weight for m in out) <= max(held, min(cap, HARD_CAP)) + 1e-12
    assert all(m.reward_risk >= 5 for m in out)


def test_agent_picks_read_back_as_a_fresh_store_reads_them_after_a_night_is_rerun(tmp_path):
    from memory.store import Store

    def row(agent, symbol):
        return {"agent": agent, "symbol": symbol, "horizon_days": 5, "reference_price": 10.0, "signal": 0.5,
                "model_version": "v1"}

    store = Store(tmp_path / "desk.sqlite")
    store.save_agent_picks("r1", date(2016, 1, 4), [row("trend", "AAA")])
    assert store.agent_picks_between(date(2016, 1, 1), date(2016, 1, 4))["symbol"] == ["AAA"]
    store.save_agent_picks("r2", date(2016, 1, 5), [row("trend", "BBB"), row("ema", "CCC")])
    store.save_agent_picks("r3", date(2016, 1, 4), [row("trend", "ZZZ")])    # a re-run replaces its night
    seen = store.agent_picks_between(date(2016, 1, 1), date(2016, 1, 5))
    fresh = Store(tmp_path / "desk.sqlite").agent_picks_between(date(2016, 1, 1), date(2016, 1, 5))
    assert seen == fresh and seen["symbol"] == ["ZZZ", "CCC", "BBB"]
    assert store.agent_picks_between(date(2016, 1, 5), date(2016, 1, 5))["symbol"] == ["CCC", "BBB"]


def test_the_information_coefficient_is_spearmans_rank_correlation_ties_included():
    from scipy.stats import spearmanr

    from tools.trust import _spearman

    rng = np.random.default_rng(3)
    x, y = rng.integers(0, 5, 60).astype(float), rng.normal(size=60)
    assert _spearman(x, y) == pytest.approx(spearmanr(x, y).statistic)


def test_stored_picks_read_as_arrays_equal_the_rows_and_follow_another_connections_writes(tmp_path):
    from memory.store import Store

    def agent_row(symbol, signal=0.5):
        return {"agent": "trend", "symbol": symbol, "horizon_days": 5, "reference_price": 10.0, "signal": signal,
                "model_version": "v1"}

    def pick_row(symbol, selected=1):
        return {"symbol": symbol, "score": 200.0, "threshold": 150.0, "selected": selected, "horizon_days": 5,
                "reference_price": 10.0, "payload": {}}

    store = Store(tmp_path / "desk.sqlite")
    store.save_agent_picks("r1", date(2016, 1, 4), [agent_row("AAA"), agent_row("BBB")])
    store.save_picks("r1", date(2016, 1, 4), [pick_row("AAA"), pick_row("BBB", selected=0)])
    lo, hi = date(2016, 1, 1), date(2016, 1, 8)
    rows, arrays = store.agent_picks_between(lo, hi), store.agent_picks_between(lo, hi, arrays=True)
    assert {k: [str(x) for x in v] for k, v in arrays.items()} == {k: [str(x) for x in v] for k, v in rows.items()}
    assert arrays["as_of"].dtype == "datetime64[D]"
    assert [r.symbol for r in store.picks_between(lo, hi)] == ["AAA"] == list(store.picks_between(lo, hi,
                                                                                                    arrays=True)["symbol"])
    other = Store(tmp_path / "desk.sqlite")        # another process re-runs the night: the first store must see it
    other.save_agent_picks("r2", date(2016, 1, 4), [agent_row("CCC")])
    other.save_picks("r2", date(2016, 1, 4), [pick_row("CCC")])
    assert list(store.agent_picks_between(lo, hi, arrays=True)["symbol"]) == ["CCC"]
    assert [r.symbol for r in store.picks_between(lo, hi)] == ["CCC"]
    store.save_picks("r3", date(2016, 1, 4), [pick_row("DDD")])            # and its own re-run, from memory
    assert [r.symbol for r in store.picks_between(lo, hi)] == ["DDD"] == [
        r.symbol for r in Store(tmp_path / "desk.sqlite").picks_between(lo, hi)]
    store.save_picks("r4", date(2016, 1, 6), [pick_row("EEE")])
    assert [r.symbol for r in store.picks_between(date(2016, 1, 5), hi)] == ["EEE"]   # a window moving on
    assert [r.symbol for r in store.picks_between(lo, hi)] == ["DDD", "EEE"]          # and one reaching back
    empty = store.picks_between(date(2017, 1, 1), date(2017, 2, 1), arrays=True)
    assert all(len(v) == 0 for v in empty.values())


def test_market_price_is_the_stored_close_or_none(home):
    from desk.config import load_settings
    from memory.store import Store
    from tools.market import MarketView

    settings = load_settings()
    store = Store(settings.store_path)
    market = MarketView(store, settings.data.universe, settings.data.benchmark)
    close = market.close
    day, sym = close.index[-10], "AAPL"
    assert market.price(sym, day.date()) == float(close.at[day, sym]) == market.price(sym, day.to_pydatetime())
    gap = close["RRC"].isna()                         # a symbol without a bar that day reads as no price
    if gap.any():
        assert market.price("RRC", close.index[gap.to_numpy()][0].date()) is None
    assert market.price("NOPE", day.date()) is None
    assert market.price(sym, date(1900, 1, 1)) is None
    store.close()


def test_a_rolled_back_night_leaves_no_picks_in_the_stores_memory(tmp_path):
    from memory.store import Store

    store = Store(tmp_path / "desk.sqlite")
    row = {"symbol": "AAA", "score": 200.0, "threshold": 150.0, "selected": 1, "horizon_days": 5,
           "reference_price": 10.0, "payload": {}}
    store.save_picks("r1", date(2016, 1, 4), [row])
    lo, hi = date(2016, 1, 1), date(2016, 1, 8)
    assert [r.symbol for r in store.picks_between(lo, hi)] == ["AAA"]
    try:
        with store.transaction():
            store.save_picks("r2", date(2016, 1, 4), [{**row, "symbol": "ZZZ"}])
            assert [r.symbol for r in store.picks_between(lo, hi)] == ["ZZZ"]
            raise RuntimeError("the night fails after its picks")
    except RuntimeError:
        pass
    assert [r.symbol for r in store.picks_between(lo, hi)] == ["AAA"]
