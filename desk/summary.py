"""A run's summaries from its final state (typed: ``desk.results``), and how the command line draws them and a
replay's figures."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from desk.results import MorningSummary, NightIntent, NightSummary, PickLine, ProposalLine

if TYPE_CHECKING:
    from evals.replay import ReplayResult


def night_data(state: dict[str, Any]) -> NightSummary:
    verdicts = {v.proposal_key: v for v in state.get("verdicts", [])}
    return NightSummary(
        as_of=state["as_of"].isoformat(), run_id=state["run_id"], regime=state["regime"],
        base_regime=state["weather"].base_regime, narrative=state["view"].narrative,
        threshold=state.get("threshold"), threshold_reason=state.get("threshold_reason"),
        proposals=[ProposalLine(symbol=p.symbol, agent=p.agent, action=str(p.action), strength=round(p.strength, 3),
                                verdict=verdicts[p.key].decision if p.key in verdicts else None,
                                verdict_reason=verdicts[p.key].reason if p.key in verdicts else None,
                                rationale=p.rationale)
                   for p in state["proposals"] if str(p.action) != "HOLD"],
        picks=[PickLine(symbol=p.symbol, score=round(p.score, 1), selected=p.selected) for p in state["picks"]],
        intents=[NightIntent(intent_id=i.intent_id, side=i.side, kind=i.kind, quantity=round(i.quantity, 4),
                            weight=round(i.target_weight, 4), reasons=i.reasons) for i in state["intents"]],
        denials={sym: [f"{d.rule}: {d.reason}" for d in ds] for sym, ds in state.get("denials", {}).items()},
        freshness=state.get("freshness"), frozen=state.get("frozen"),
        **_llm(state),
    )


def _llm(state: dict[str, Any]) -> dict[str, Any]:
    """The night's LLM calls (one per call id; a batch's verdicts share theirs), dollars, and every fallback's cause."""
    answers = [("weather", state.get("view")), ("risk", state.get("review")),
               *(("overlay", v) for v in state.get("verdicts", []))]
    paid = {a.provenance.call_id: a.provenance.cost_usd for _, a in answers
            if a is not None and a.provenance.call_id and not a.provenance.replayed}
    causes = sorted({f"{role}: {a.provenance.fallback_reason}" for role, a in answers
                     if a is not None and a.provenance.fallback and a.provenance.fallback_reason})
    return {"llm_calls": len(paid), "llm_usd": round(sum(paid.values()), 6), "llm_fallbacks": causes}


def morning_data(state: dict[str, Any]) -> MorningSummary:
    return MorningSummary(
        session=state["session"].isoformat(), run_id=state["run_id"],
        quote_sources=sorted(set(state.get("quote_source", {}).values())),
        results=list(state.get("results", [])), equity=state.get("equity"), cash=state.get("cash"),
        waiting=(f"paused for approval: `desk ops approve {state['run_id']}` or `desk ops reject {state['run_id']}`"
                 if state.get("__interrupt__") else None))


def print_night(console: Console, data: NightSummary) -> None:
    console.rule(Text(f"Night {data.as_of}", style="bold"))
    console.print(Text.assemble("Regime ", (data.regime, "bold"), f" (fused base {data.base_regime})"))
    console.print(Text(data.narrative))
    if data.frozen:
        console.print(Text(f"Frozen — {data.frozen}: the night as it was planned, not planned again."))
    if data.freshness is not None and (data.freshness.live or data.freshness.stale):
        console.print(Text(("STALE — no new entries, exits planned: " if data.freshness.stale else "Data: ")
                           + data.freshness.reason))
    if data.llm_calls or data.llm_fallbacks:
        console.print(Text(f"LLM: {data.llm_calls} call(s), ${data.llm_usd:.4f}"))
    for cause in data.llm_fallbacks:
        console.print(Text(f"  fell back to rules — {cause}"))
    props = Table("symbol", "agent", "action", "strength", "verdict", "reason", title="Proposals and verdicts")
    for p in data.proposals:
        props.add_row(*map(Text, (p.symbol, p.agent, p.action, f"{p.strength:.2f}", p.verdict or "-",
                                  (p.verdict_reason or "")[:70])))
    console.print(props)
    console.print(Text(f"Picks threshold {data.threshold:.0f}: {data.threshold_reason}"))
    intents = Table("intent", "side", "qty", "weight", "why", title="Intents")
    for i in data.intents:
        intents.add_row(*map(Text, (i.intent_id, i.side, f"{i.quantity:.2f}", f"{i.weight:.1%}",
                                    i.reasons[0][:90])))
    console.print(intents if data.intents else Text("No intents tonight."))
    for sym, ds in sorted(data.denials.items()):
        console.print(Text(f"  denied {sym}: {'; '.join(ds)}"))


def print_morning(console: Console, data: MorningSummary) -> None:
    console.rule(Text(f"Morning {data.session}", style="bold"))
    if data.waiting:
        console.print(Text(f"Waiting for an operator — {data.waiting}"))
    if "latest_close" in data.quote_sources:
        console.print(Text(f"No bar for {data.session} yet: quoted and filled at the latest close."))
    t = Table("symbol", "side", "status", "qty", "price", "reason", title="Orders and fills")
    for r in data.results:
        t.add_row(*map(Text, (r.symbol, r.side, r.status, f"{r.quantity:.2f}",
                              f"{r.price:.2f}" if r.price else "-", (r.reason or "")[:70])))
    console.print(t if data.results else Text("No orders this morning."))
    if data.equity is not None:
        console.print(Text.assemble("Book value ", (f"{data.equity:,.2f}", "bold"), f" (cash {data.cash:,.2f})"))


def print_replay(console: Console, r: ReplayResult) -> None:
    console.rule(Text(f"Replay {r.start} .. {r.end} ({r.nights} nights, {r.days_per_second} days/s)", style="bold"))
    t = Table("", "CAGR", "vol", "Sharpe", "Sortino", "max DD", "trades", "turnover")
    for name, m in (("desk", r.desk), ("S&P 500 buy & hold", r.sp500_buy_hold), ("equal-weight universe", r.equal_weight),
                    ("equal-weight at the desk's exposure", r.exposure_matched)):
        t.add_row(name, f"{m.cagr:+.2%}", f"{m.volatility:.2%}", f"{m.sharpe:.2f}", f"{m.sortino:.2f}",
                  f"{m.max_drawdown:.2%}", str(m.trades if m.trades is not None else "-"),
                  f"{m.turnover:.2f}" if m.turnover is not None else "-")
    console.print(t)
    p = Table("period", "", "CAGR", "Sharpe", "max DD", title="In-sample / validation / hold-out (2019+)")
    for period, m in r.periods.items():
        rows = [("desk", m)] + [(name, r.benchmark_periods[key].get(period)) for name, key in
                                (("S&P 500", "sp500_buy_hold"), ("equal-weight", "equal_weight"),
                                 ("exposure-matched", "exposure_matched"))]
        for name, x in rows:
            if x is not None:
                p.add_row(f"{period} {x.start}..{x.end}" if name == "desk" else "", name, f"{x.cagr:+.2%}",
                          f"{x.sharpe:.2f}", f"{x.max_drawdown:.2%}")
    console.print(p)
    for period, days in r.short_periods.items():
        console.print(Text(f"  {period}: only {days} trading day(s) in range — not annualised"))
    ms = r.moonshot
    console.print(Text(f"moonshot track: {ms.trades} trade(s) ({ms.open} open, {ms.wins} won), P&L {ms.pnl:+,.2f} "
                       f"({ms.pnl_pct_of_initial:+.2%} of initial); main track P&L {r.main_pnl:+,.2f}"))
    console.print(Text(f"LLM: {r.llm_calls} call(s), ${r.llm_usd:.4f} (answers served from the record cost nothing)"))
    console.print(Text(f"store: {r.store}", style="dim"))
