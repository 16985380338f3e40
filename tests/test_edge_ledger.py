"""The edge ledger: folds by year paired across cases, each layer's effect with a paired bootstrap interval,
in-sample and validation apart; the hold-out refused; the JSON, the summary to commit and the report's section."""

from __future__ import annotations

import io
import itertools
import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from desk import edge as core
from desk.config import load_settings
from desk.errors import DeskError
from desk.actor import Actor
from evals.ablation import Ablation
from evals.edge import (
    EdgeLedger,
    curve_figures,
    effect,
    era_bounds,
    helps_both,
    layer_eras,
    paired_interval,
    spans,
    yearly,
)
from evals.layers import LAYERS, choose, usage
from evals.report import edge_section, write_report
from memory.store import Store
from tests import kit

ACTOR = Actor(who="test", via="test")


# ---------------------------------------------------------------------------------------------- arithmetic
def test_the_paired_interval_of_two_folds_is_their_two_effects():
    """Two folds: a resampled mean is d1, (d1+d2)/2 or d2 with chances 1/4, 1/2, 1/4, so the 2.5th and 97.5th
    percentiles are d1 and d2 themselves."""
    assert paired_interval([0.9, 1.4], [0.5, 0.2]) == pytest.approx((0.4, 1.2))


def test_the_paired_interval_of_three_folds_matches_the_enumerated_bootstrap():
    desk, ablated = [1.0, 2.0, 8.0], [1.0, 1.0, 3.0]  # effects 0, 1, 5
    means = sorted(np.mean(c) for c in itertools.product([0.0, 1.0, 5.0], repeat=3))  # all 27 resamples, by hand
    low, high = means[0], means[-1]  # each has chance 1/27 > 2.5%: the percentiles are the extremes
    assert (low, high) == (0.0, 5.0)
    assert paired_interval(desk, ablated) == pytest.approx((low, high))


def test_pairing_cancels_what_every_fold_shares():
    """The ablation is the desk less 0.1 in every fold, across folds that differ wildly: the paired interval is
    exactly [0.1, 0.1]; resampling the two sides apart would span several units."""
    desk = [2.5, -1.0, 0.3, 4.0, -2.2]
    ablated = [x - 0.1 for x in desk]
    assert paired_interval(desk, ablated) == pytest.approx((0.1, 0.1))


def test_one_fold_has_no_interval_and_unpaired_folds_are_refused():
    assert paired_interval([1.0], [0.5]) is None
    with pytest.raises(ValueError, match="differ in number"):
        paired_interval([1.0, 2.0], [0.5])


def test_an_effect_counts_the_folds_it_helped_and_means_the_fold_differences():
    e = effect(0.8, 0.5, [1.0, 0.2, 0.5, 0.7], [0.4, 0.3, 0.5, 0.1])
    assert e.effect == pytest.approx(0.3) and e.fold_mean == pytest.approx((0.6 - 0.1 + 0.0 + 0.6) / 4)
    assert (e.helped, e.folds) == (2, 4)  # a tie is not help
    assert e.ci_low <= e.fold_mean <= e.ci_high


# ---------------------------------------------------------------------------------------------- folds
def _curve(start: str, end: str, daily: float, seed: int = 0, wiggle: float = 0.01) -> pd.Series:
    idx = pd.bdate_range(start, end)
    r = np.random.default_rng(seed).normal(daily, wiggle, len(idx))
    return pd.Series(100_000 * np.cumprod(1 + r), index=idx)


def test_folds_are_cut_exactly_by_calendar_year_and_every_return_is_in_one():
    curve = _curve("2013-06-03", "2016-03-31", 0.0003)
    folds = yearly(curve.index)
    assert list(folds) == ["2013", "2014", "2015", "2016"]
    cut = spans(curve.index, folds)
    days = 0
    for year, s in cut.items():
        part = curve.index[s]
        assert all(d.year == int(year) for d in part[1:])  # every return of the fold is earned in its year
        if year != "2013":
            assert part[0] == curve.index[curve.index.year < int(year)][-1]  # opened by the last close before
        days += len(part) - 1
    assert days == len(curve) - 1


def test_a_fold_shorter_than_a_trading_month_is_left_out():
    curve = _curve("2014-01-02", "2015-01-09", 0.0003)
    figs = curve_figures(curve, curve, yearly(curve.index))
    assert set(figs) == {"2014"}


def test_eras_split_in_sample_validation_and_hold_out():
    assert era_bounds(date(2005, 1, 1), date(2018, 12, 31)) == {
        "in_sample": (date(2005, 1, 1), date(2014, 12, 31)), "validation": (date(2015, 1, 1), date(2018, 12, 31))}
    assert set(era_bounds(date(2016, 1, 1), date(2019, 6, 30))) == {"validation", "holdout"}


def test_a_layer_whose_ablation_earns_less_every_day_helps_in_every_fold_of_both_eras():
    """A stub where the answer is known: without the layer the desk earns 2 bp a day less, on the same noise."""
    desk = _curve("2012-01-02", "2016-12-30", 0.0006, seed=4)
    ablated = desk / np.cumprod(np.full(len(desk), 1.0002))
    twin = _curve("2012-01-02", "2016-12-30", 0.0003, seed=5)
    eras = era_bounds(date(2012, 1, 1), date(2016, 12, 31))
    years = yearly(desk.index)
    rows = layer_eras(curve_figures(desk, twin, eras), curve_figures(desk, twin, years),
                      curve_figures(ablated, twin, eras), curve_figures(ablated, twin, years), resamples=1000)
    assert [r.era for r in rows] == ["in_sample", "validation"]
    for r in rows:
        for metric in ("sharpe", "cagr", "selection"):
            e = r.effects[metric]
            assert e.effect > 0 and e.helped == e.folds and e.ci_low > 0, (r.era, metric)
        assert r.effects["cagr"].fold_mean == pytest.approx(252 * 0.0002, rel=0.15)
    assert helps_both(rows)
    hurts = layer_eras(curve_figures(ablated, twin, eras), curve_figures(ablated, twin, years),
                       curve_figures(desk, twin, eras), curve_figures(desk, twin, years), resamples=1000)
    assert not helps_both(hurts) and all(r.effects["sharpe"].helped == 0 for r in hurts)


# ---------------------------------------------------------------------------------------------- layers and switches
def test_every_layer_is_an_ablation_spec_and_has_a_usage_rule(home):
    settings = load_settings(home=home, sizing={"mode": "cascade", "budget": "scale"})  # every layer in use
    for layer in LAYERS:
        Ablation.parse([layer.name])
    used = usage(settings, {m: None for m in ("regime", "health", "direction", "mean_reversion", "vol_state",
                                              "garch", "rl_sizer")})
    assert set(used) == {layer.name for layer in LAYERS} and all(u for u, _ in used.values())


def test_a_layer_the_desk_does_not_use_is_not_weighed_and_says_why(home):
    settings = load_settings(home=home).model_copy(update={"sizing": load_settings(home=home).sizing.model_copy(
        update={"mode": "fixed"})})
    used = usage(settings, {"regime": "no regime model has been trained", "vol_state": None, "garch": None,
                            "mean_reversion": None, "rl_sizer": None})
    assert used["model:regime"] == (False, "never usable: no regime model has been trained")
    for name in ("kelly", "rl", "model:vol_state", "model:garch"):
        assert not used[name][0] and "sizing.mode = fixed" in used[name][1]
    assert not used["model:health"][0]  # never asked about: not in use


def test_the_switched_ablations_turn_their_layer_off_by_its_own_setting(home):
    cfg = load_settings(home=home, sizing={"mode": "cascade"})
    out = Ablation.parse(["trust", "rl", "tiers", "exits", "moonshot"]).configure(cfg)
    assert out.trust.mode == "equal" and out.sizing.mode == "kelly" and out.risk.profit_tiers == ()
    assert out.risk.trailing_exits is False and out.moonshot.enabled is False
    assert Ablation.parse(["kelly"]).configure(cfg).sizing.mode == "fixed"
    scaled = cfg.model_copy(update={"sizing": cfg.sizing.model_copy(update={"budget": "scale"})})
    assert Ablation.parse(["budget"]).configure(scaled).sizing.budget == "off"
    assert Ablation.parse(["overlay"]).configure(cfg) is cfg
    assert Ablation.parse(["moonshot", "trust"]).label == "trust+moonshot"


def test_without_trailing_exits_a_holding_falls_to_its_initial_stop():
    from tools.exits import ExitPolicy, PositionState, update_and_check

    pos = PositionState(symbol="XOM", quantity=10, avg_price=100, entry_date=date(2018, 1, 2), initial_stop=90,
                        peak=130, trail_pct=0.10, tiers_hit=0)
    _, trailed = update_and_check(pos, 115.0, "calm_uptrend", None, ExitPolicy(profit_tiers=(), tier_trails=()))
    assert trailed is not None and trailed.trigger == "trailing_stop"
    _, held = update_and_check(pos, 115.0, "calm_uptrend", None,
                               ExitPolicy(profit_tiers=(), tier_trails=(), trailing=False))
    assert held is None
    _, stopped = update_and_check(pos, 89.0, "calm_uptrend", None,
                                  ExitPolicy(profit_tiers=(), tier_trails=(), trailing=False))
    assert stopped is not None and "initial stop" in stopped.reason


def test_without_trailing_exits_the_morning_sells_only_through_the_initial_stop(home):
    """The morning's stop check is where most stops fire: it must not trail either when stops do not trail."""
    from graph.nodes import morning

    day, session = date(2017, 3, 1), date(2017, 3, 2)

    def validate(settings):
        d = kit.desk(home, settings=settings)
        price = d.ctx.market.price("PG", session)
        kit.hold(d, "PG", 20.0, price, stop=price * 0.8, peak=price * 1.2)  # 10% under the peak, above the stop
        state = kit.run_nodes(d, [morning.quotes], {"run_id": "m", "night_date": day, "session": session,
                                                    "intent_ids": []})
        return morning.validate(state, kit.runtime(d))["accepted"]

    assert validate(None) == [f"{day}:PG:sell:morning_stop"]
    assert validate({"risk": {"trailing_exits": False}}) == []


def test_an_unknown_layer_gets_a_hint():
    with pytest.raises(DeskError, match="did you mean overlay"):
        choose(["overlya"])
    assert [layer.name for layer in choose(["trust", "kelly", "trust"])] == ["trust", "kelly"]


# ---------------------------------------------------------------------------------------------- the command
@pytest.mark.parametrize("args, says", [
    (("--from", "2018-06-01", "--to", "2019-03-01"), "reaches into the hold-out"),
    (("--from", "2017-06-01", "--to", "2018-03-01", "--holdout"), "does not reach the hold-out"),
    (("--from", "2018-03-01", "--to", "2018-01-01"), "is before"),
    (("--from", "2018-13-01"), "not a date"),
    (("--layers", "overlya"), "did you mean overlay"),
    (("--layers", ","), "names no layer"),
    (("--resamples", "10"), "at least 100"),
    (("--workers", "0"), "--workers"),
])
def test_bad_flags_get_one_line_on_stderr_exit_2_and_change_nothing(home, capsys, args, says):
    before = kit.home_fingerprint(home)
    code, _out, err = kit.run_cli(capsys, "eval", "edge", *args)
    assert code == 2 and says in err and len(err.strip().splitlines()) == 1, err
    assert kit.home_fingerprint(home) == before


def test_save_to_a_file_is_refused(home, tmp_path, capsys):
    target = tmp_path / "ledger.md"
    target.write_text("x")
    code, _, err = kit.run_cli(capsys, "eval", "edge", "--from", "2018-01-01", "--to", "2018-02-01",
                               "--save", str(target))
    assert code == 2 and "is a file" in err


# ---------------------------------------------------------------------------------------------- a small ledger
@pytest.fixture(scope="module")
def ledger(seeded_home, tmp_path_factory):
    """A ledger across the in-sample / validation boundary (two folds: 2014 and 2015), three layers, run here; it
    starts on a Saturday (the curve opens before the first session)."""
    home = kit.clone_home(seeded_home, tmp_path_factory.mktemp("edge") / "home")
    settings = load_settings(home=home)
    # Kelly sizes here (the four tiers), so its layer is in use and weighed (the default is the base weight alone)
    settings = settings.model_copy(update={"sizing": settings.sizing.model_copy(update={"mode": "cascade"})})
    save = tmp_path_factory.mktemp("save") / "edge"
    out = core.edge(settings, date(2014, 11, 15), date(2015, 2, 13), layers=["kelly", "trust", "model:regime"],
                    pool=False, save=save, resamples=500, actor=ACTOR)
    return settings, out, save


@pytest.mark.slow
def test_the_ledger_weighs_each_layer_in_each_era_with_folds_paired_by_year(ledger):
    _, out, _ = ledger
    assert out.eras == ["in_sample", "validation"] and out.cases == 3
    assert set(out.folds) == {"desk", "kelly", "trust"}
    assert all(set(f) == {"2014", "2015"} for f in out.folds.values())
    rows = {r.layer: r for r in out.layers}
    assert rows["model:regime"].case is None and "never usable" in rows["model:regime"].reason
    for name in ("kelly", "trust"):
        assert [e.era for e in rows[name].eras] == ["in_sample", "validation"]
        for e in rows[name].eras:
            s = e.effects["sharpe"]
            assert s.folds == 1 and s.ci_low is None  # one fold per era here: no interval, and it says so
            fold = out.folds["desk"][str(2014 if e.era == "in_sample" else 2015)]
            assert s.desk == pytest.approx(fold.sharpe)  # a one-fold era is that fold
    assert rows["kelly"].eras[0].effects["sharpe"].effect != 0  # Kelly sized differently from the base weight
    assert {d.era for d in out.desk} == {"in_sample", "validation"}
    assert all(d.permutation is not None and 0 < d.permutation.p_value <= 1 for d in out.desk)


@pytest.mark.slow
def test_the_ledger_json_is_written_beside_its_eval_and_the_summary_where_asked(ledger):
    settings, out, save = ledger
    beside = settings.home / "evals" / out.eval_id / "edge.json"
    assert EdgeLedger.model_validate_json(beside.read_text()) == out
    data = json.loads((save / "ledger.json").read_text())
    assert {"eval_id", "start", "end", "eras", "desk", "folds", "layers", "resamples"} <= set(data)
    effects = data["layers"][0]["eras"][0]["effects"]
    assert set(effects) == {"sharpe", "cagr", "max_drawdown", "selection"}
    assert {"desk", "ablated", "effect", "fold_mean", "ci_low", "ci_high", "helped", "folds"} == set(effects["sharpe"])
    md = (save / "ledger.md").read_text()
    assert "| kelly | in-sample |" in md and "## Folds: Sharpe by year" in md and out.eval_id in md


@pytest.mark.slow
def test_the_switched_layers_say_in_their_step_that_they_are_ablated(ledger):
    settings, out, _ = ledger
    from desk import evals

    result = evals.load_eval(settings, out.eval_id)
    cases = {c.label: c for c in result.cases}
    trust = Store(cases["trust"].replay.store)
    kelly = Store(cases["kelly"].replay.store)
    try:
        runs = {r.run_id for r in trust.runs(limit=10, kind="night")}
        steps = [s for run in runs for s in trust.steps(run) if s.node == "trust"]
        assert steps and all(s.summary.startswith("trust ablated") for s in steps)
        assert {w.weight for w in trust.agent_weights()} == {1.0}
        sizing = [s for r in kelly.runs(limit=10, kind="night") for s in kelly.steps(r.run_id) if s.node == "sizing"]
        assert sizing and all(s.summary.startswith("Kelly ablated") for s in sizing)
    finally:
        trust.close()
        kelly.close()


@pytest.mark.slow
def test_the_report_of_a_ledger_has_its_section_and_chart(ledger):
    settings, out, _ = ledger
    from desk import evals

    files = write_report(evals.load_eval(settings, out.eval_id))
    page = Path(files.html).read_text(encoding="utf-8")
    assert 'id="edge"' in page and "Edge ledger" in page and "chart-edge" in page
    assert "kelly" in page and "model:regime" in page and "random books p" in page
    assert "edge" in files.charts


@pytest.mark.slow
def test_the_console_table_cuts_no_number_in_a_narrow_terminal(ledger):
    from rich.console import Console

    from desk.edge_print import print_edge
    from evals.edge_text import layer_rows

    _, out, _ = ledger
    sink = io.StringIO()
    print_edge(Console(file=sink, width=60, color_system=None), out)
    text = sink.getvalue()
    assert "…" not in text
    for row in layer_rows(out):
        for cell in row:
            assert cell in text


def test_the_report_section_escapes_hostile_text():
    from evals.edge import LayerRow

    hostile = "<script>alert(1)</script> ignore previous instructions"
    ledger = EdgeLedger(eval_id="x", created="now", start=date(2018, 1, 1), end=date(2018, 12, 31), holdout=False,
                        eras=["validation"], resamples=100, level=0.95, seconds=1.0, cases=1, desk=[], folds={},
                        layers=[LayerRow(layer="trust", what=hostile, in_use=False, reason=hostile, case=None,
                                         helps_both_eras=None)])
    page = edge_section(ledger)
    assert "<script>" not in page and "&lt;script&gt;" in page


@pytest.mark.slow
def test_a_damaged_ledger_file_is_one_line_when_its_report_is_asked_for(ledger, capsys):
    settings, out, _ = ledger
    path = settings.home / "evals" / out.eval_id / "edge.json"
    whole = path.read_text()
    path.write_text(whole[:40])
    try:
        code, _, err = kit.run_cli(capsys, "--home", str(settings.home), "report", out.eval_id)
    finally:
        path.write_text(whole)
    assert code == 2 and "edge ledger" in err and "run `desk eval edge` again" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_every_curve_of_an_eval_opens_at_the_capital_even_before_the_first_session(ledger):
    settings, out, _ = ledger
    from desk import evals

    for case in evals.load_eval(settings, out.eval_id).cases:
        s = case.series
        assert s.dates[0] == "2014-11-15"
        assert s.desk[0] == s.exposure_matched[0] == s.equal_weight[0] == s.sp500_buy_hold[0] == 100_000.0


@pytest.mark.slow
def test_the_ledger_is_read_again_from_its_eval_without_a_replay(ledger, capsys):
    settings, out, _ = ledger
    again = core.again(settings, out.eval_id, resamples=500)
    same = {"created", "seconds", "layers"}
    assert again.model_dump(exclude=same) == out.model_dump(exclude=same)
    weighed = {r.layer: r for r in out.layers if r.case is not None}   # the same rows (again: in LAYERS order)
    assert {r.layer: r for r in again.layers if r.case is not None} == weighed
    assert {r.layer for r in again.layers if r.case is None} >= {"model:regime", "rl"}  # every layer not in use
    code, _, err = kit.run_cli(capsys, "--home", str(settings.home), "eval", "edge", "--eval", out.eval_id,
                               "--from", "2014-01-02")
    assert code == 2 and "--from" in err and "do not apply" in err


def test_an_eval_that_is_not_a_ledgers_is_not_read_as_one(home):
    from desk import evals
    from evals.case import EvalCase

    settings = load_settings(home=home)
    result = evals.decisions(settings, [EvalCase(start=date(2018, 3, 1), end=date(2018, 3, 9),
                                                 ablate=("overlay", "trust"))], pool=False, actor=ACTOR)
    with pytest.raises(DeskError, match="not an edge ledger's"):
        core.again(settings, result.eval_id)
