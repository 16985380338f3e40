"""Graph state carries its own reducers: nodes return only what they add (their own denials, their own executions)
and the graph merges it; a run starts with its required keys and nothing else."""

from __future__ import annotations

import typing
from datetime import date

from graph.build import build_graph
from graph.state import MorningState, NightState, merge_denials
from tests import kit
from vocab.contracts import Denial, Execution

DAY = date(2017, 3, 1)


def _deny(rule: str, why: str) -> Denial:
    return Denial(rule=rule, reason=why)


def test_denials_from_several_nodes_are_merged_per_symbol_in_the_order_the_nodes_ran(home):
    first = lambda state, runtime: {"denials": {"XOM": [_deny("no_verdict", "a")]}}  # nodes inline
    second = lambda state, runtime: {"denials": {"XOM": [_deny("max_weight", "b")], "KO": [_deny("halted", "c")]}}
    third = lambda state, runtime: {"summary": "reads only", "regime": "choppy"}
    graph = build_graph(NightState, [("first", first), ("second", second), ("third", third)])
    out = graph.invoke({"run_id": "t", "as_of": DAY}, context=kit.desk(home).ctx)
    assert [d.rule for d in out["denials"]["XOM"]] == ["no_verdict", "max_weight"]
    assert [d.rule for d in out["denials"]["KO"]] == ["halted"]


def test_executions_from_validate_approval_and_execute_are_appended_not_replaced(home):
    def done(status):
        return lambda state, runtime: {"results": [Execution(intent_id=status, symbol="XOM", side="buy",
                                                             status=status, reason="")]}

    graph = build_graph(MorningState, [("validate", done("skipped")), ("approval", done("vetoed")),
                                       ("execute", done("filled"))])
    out = graph.invoke({"run_id": "t", "night_date": DAY, "session": DAY}, context=kit.desk(home).ctx)
    assert [r.status for r in out["results"]] == ["skipped", "vetoed", "filled"]


def test_the_reducer_keeps_what_was_there_and_copies_nothing_it_is_given():
    old = {"XOM": [_deny("halted", "x")]}
    new = {"XOM": [_deny("stale_data", "y")]}
    merged = merge_denials(old, new)
    assert [d.rule for d in merged["XOM"]] == ["halted", "stale_data"] and len(old["XOM"]) == 1
    assert merge_denials(None, new) == new and merge_denials(old, None) == old


def test_a_run_starts_with_its_required_keys_and_every_other_key_is_a_nodes_to_add():
    for state, required in ((NightState, {"run_id", "as_of"}), (MorningState, {"run_id", "night_date", "session"})):
        assert state.__required_keys__ == required
        hints = typing.get_type_hints(state, include_extras=True)
        assert set(hints) - required == set(state.__optional_keys__)
