"""Night: the hard risk rules — the last word on every entry — and each entry's quantity in its broker's units.
Exits are never blocked."""

from __future__ import annotations

from collections import Counter

from langgraph.runtime import Runtime

from graph.config import DeskConfig
from graph.context import DeskContext
from graph.nodes.book import book_view
from graph.nodes.guard import entries_blocked
from graph.state import NightState
from tools.risk import EntryCandidate, RiskLimits, apply_hard_rules
from tools.units import entry_in_units
from vocab.contracts import Denial, SizingFactor


def limits(config: DeskConfig) -> RiskLimits:
    r = config.risk
    return RiskLimits(max_positions=r.max_positions, max_weight=r.max_weight, max_gross=r.max_gross,
                      min_order_value=r.min_order_value, cash_reserve=dict(r.cash_reserve))


def hard_rules(state: NightState, runtime: Runtime[DeskContext]) -> dict:
    ctx = runtime.context
    blocked = entries_blocked(ctx, state["as_of"])
    book = book_view(ctx, state["as_of"])
    candidates = [EntryCandidate(symbol=s.symbol, weight=s.weight, price=s.price, score=s.score)
                  for s in state["sized"]]
    approved, denied = apply_hard_rules(candidates, book, state["regime"], limits(ctx.config),
                                        halted=blocked is not None, halt_reason=blocked,
                                        stale=state.get("stale", {}))
    by_symbol = {a.symbol: a for a in approved}
    sized = []
    for s in state["sized"]:
        a = by_symbol.get(s.symbol)
        if a is not None:
            factors = s.factors
            if a.weight < s.weight - 1e-12:
                factors = [*factors, SizingFactor(name="hard_rules", multiplier=a.weight / s.weight if s.weight else 0,
                                                  weight_after=a.weight,
                                                  reason="; ".join(d.reason for d in a.clipped_by) or "clipped")]
            units = entry_in_units(a.quantity, a.weight, s.price, ctx.broker.quantity_rules(s.symbol),
                                   ctx.config.risk.min_order_value)
            if units.denial is not None:
                denied[s.symbol] = [*a.clipped_by, units.denial]
                continue
            if units.factor is not None:
                factors = [*factors, units.factor]
            sized.append(s.model_copy(update={"weight": units.weight, "quantity": units.quantity, "factors": factors,
                                              "clipped_by": list(a.clipped_by)}))
    return {"sized": sized, "denials": denied,
            "summary": f"{len(sized)} approved, {len(denied)} denied"
                       + (f" ({rule_counts(denied)})" if denied else "")
                       + (f" — entries blocked: {blocked}" if blocked else "")}


def rule_counts(denials: dict[str, list[Denial]]) -> str:
    """Which rule denied how many symbols (each symbol counted under its last, deciding rule)."""
    counts = Counter(ds[-1].rule for ds in denials.values() if ds)
    return ", ".join(f"{rule} {n}" for rule, n in counts.most_common())
