"""Each result as a title and plain lines of text: what the command line prints and what Slack shows (as plain
text: no user- or data-supplied text is ever read as markup by either). The command line draws a run's and the
offline jobs' tables itself (desk/summary.py, desk/eval_print.py); every other result reads the same at every door."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import singledispatch

from desk.results import (AgentsResult, AskResult, BookResult, CandidatesResult, DataLoadResult, DataStatusResult,
                          FlushResult, HelpResult, HoldingsResult, IntentsResult, OrdersResult, OutboxResult,
                          OverrideResult, PnlResult, PositionsResult, RegimesResult, RunResult, RunsResult, StatusResult,
                          WeatherResult, WhyResult)


@dataclass(frozen=True)
class Rendered:
    title: str
    lines: list[str] = field(default_factory=list)

    def text(self) -> str:
        return "\n".join([self.title, *self.lines])


def _money(x: float | None) -> str:
    return "-" if x is None else f"{x:,.2f}"


@singledispatch
def render(result: object) -> Rendered:
    raise TypeError(f"no rendering for {type(result).__name__}")


@render.register
def _(r: HelpResult) -> Rendered:
    return Rendered("Commands (⚑ operators only, ⏳ answered when done)",
                    [f"{c.usage}{'  ⚑' if c.mutating else ''}{'  ⏳' if c.long else ''} — {c.help}"
                     for c in r.commands])


@render.register
def _(r: StatusResult) -> Rendered:
    s = r
    head = s.headline
    lines = [f"needs an operator: {a}" for a in s.alerts[1 if not s.halted else 0:]]
    lines += [f"book {_money(s.equity)}, cash {_money(s.cash)} as of {s.as_of or '-'}; data until "
              f"{s.data_until or '-'}{s.data_age}; {s.symbols} symbols, stale: {', '.join(s.stale) or 'none'}"]
    lines += [f"circuit breaker {b.name} tripped {b.tripped} for {b.sessions} sessions: {b.reason}" for b in s.breakers]
    lines += [f"{sym}: {p.quantity:g} @ {p.avg_price:.2f}, stop {p.stop:.2f}" for sym, p in s.positions.items()]
    lines += [f"waiting for approval: {p.run_id} (session {p.session}, {p.entries} entries, {p.exits} exits) until "
              f"{p.deadline}" for p in r.paused]
    lines += [f"vetoed, not yet executed: {', '.join(r.vetoed)}"] if r.vetoed else []
    lines += [f"flatten pending: {', '.join(r.flattening)}"] if r.flattening else []
    lines += [f"run {x.run_id} {x.status}" for x in s.last_runs]
    if r.outbox.get("pending") or r.outbox.get("dead"):
        lines.append(f"Slack outbox: {r.outbox.get('pending', 0)} waiting, {r.outbox.get('dead', 0)} refused")
    cap = f" of ${r.llm_usd_cap_day:.2f} (llm.max_usd_per_day)" if r.llm_usd_cap_day is not None else ""
    lines.append(f"LLM spend today (UTC): {r.llm_calls_today} call(s), ${r.llm_usd_today:.4f}{cap}")
    return Rendered(head, lines)


@render.register
def _(r: PositionsResult) -> Rendered:
    if not r.positions:
        return Rendered("No positions", [f"book {_money(r.equity)}, cash {_money(r.cash)} as of {r.as_of or '-'}"])
    lines = [f"{p.symbol}: {p.quantity:g} @ {p.avg_price:.2f} → {p.price if p.price is not None else '-'}"
             + (f", P&L {p.pnl:+,.2f} ({p.pnl_pct:+.1%})" if p.pnl is not None and p.pnl_pct is not None else "")
             + f", stop {p.stop:.2f}, since {p.entry_date}" for p in r.positions]
    return Rendered(f"{len(r.positions)} positions — book {_money(r.equity)}, cash {_money(r.cash)} as of {r.as_of}",
                    lines)


@render.register
def _(r: IntentsResult) -> Rendered:
    if r.as_of is None:
        return Rendered("No intents yet: run a night first")
    return Rendered(f"Intents of the night of {r.as_of}", [
        f"{i.intent_id}: {i.side} {i.quantity:g} {i.symbol} ({i.kind}) — {i.status}"
        + (f": {i.status_reason}" if i.status_reason else "") + (f" [vetoed by {i.vetoed_by}]" if i.vetoed_by and
                                                                  i.status == "pending" else "")
        for i in r.intents] or ["none"])


@render.register
def _(r: WhyResult) -> Rendered:
    lines = [f"• {x}" for x in r.reasons]
    lines += [f"⚙ {m.agent}: {m.action} by {m.model_version}" for m in r.models]
    if r.tier:
        lines.append(f"▸ sizing tier {r.tier}" + (" (moonshot track)" if r.track == "moonshot" else ""))
        lines += [f"  gate: {g}" for g in r.gates]
    lines += [f"× {f.name} {f.multiplier:.3f} → {f.weight_after:.2%}: {f.reason}" for f in r.sizing]
    lines += [f"overlay {v.decision} ×{v.size_multiplier:.2f} ({v.provenance.provider}): {v.reason}"
              for v in r.verdicts]
    lines += [f"! {d.rule}: {d.reason}" for d in r.denials]
    lines += [f"order {o.client_order_id} {o.status} {o.quantity:g} on {o.session}" for o in r.orders]
    lines += [f"filled {f.quantity:g} @ {f.price:.2f} on {f.session} ({f.price_source})" for f in r.fills]
    if r.not_entered:
        lines.append(f"since: on {r.not_entered.as_of} {r.symbol} was a selected pick (score "
                     f"{r.not_entered.score:.0f}), not bought:")
        lines += [f"! {d.rule}: {d.reason}" for d in r.not_entered.denials]
    if r.not_entered:
        lines.append(f"since: on {r.not_entered.as_of} a selected pick (score {r.not_entered.score:.0f}), not bought:")
        lines += [f"! {d.rule}: {d.reason}" for d in r.not_entered.denials]
    return Rendered(f"{r.intent_id}: {r.side} {r.quantity:g} {r.symbol} — {r.status}"
                    + (f" ({r.status_reason})" if r.status_reason else ""), lines)


@render.register
def _(r: WeatherResult) -> Rendered:
    lines = [r.narrative] if r.narrative else []
    lines.append(f"size ×{r.sizing_modifier:.2f}, risk throttle ×{r.risk_throttle:.2f}")
    lines += [f"{k}: {v.state or '-'}" + (f" ({v.score:+.2f})" if v.score is not None else "")
              + ("" if v.available else " — unavailable") for k, v in r.layers.items()]
    lines += [f"note: {n}" for n in r.notes]
    return Rendered(f"Weather {r.as_of}: {r.regime} (fused base {r.base_regime})", lines)


@render.register
def _(r: AgentsResult) -> Rendered:
    if r.as_of is None:
        return Rendered("No proposals yet: run a night first")
    lines = []
    for a in r.agents:
        made = ", ".join(f"{n} {k}" for k, n in sorted(a.proposals.items())) or "no proposals"
        said = "; verdicts " + ", ".join(f"{n} {k}" for k, n in sorted(a.verdicts.items())) if a.verdicts else ""
        lines.append(f"{a.agent}" + (f" ({a.style}, {a.model_version})" if a.style else "") + f": {made}{said}")
        if a.weight is not None:
            rate = "n/a" if a.hit_rate is None else f"{a.hit_rate:.2f}"
            ic = "n/a" if a.ic is None else f"{a.ic:+.3f}"
            lines.append(f"  weight {a.weight:.2f}  Beta({a.alpha:.0f}, {a.beta:.0f}) mean {a.posterior_mean:.2f}  "
                         f"{a.resolved} resolved, hit rate {rate}, IC {ic}" + ("  DRIFT" if a.drift else ""))
            lines.append(f"  {a.reason}")
    return Rendered(f"Agents on the night of {r.as_of} ({r.mode})", lines)


@render.register
def _(r: PnlResult) -> Rendered:
    if r.end is None:
        return Rendered(f"P&L ({r.period}): no book snapshot yet — run a morning first")
    if r.change is None:
        return Rendered(f"P&L ({r.period}): book {_money(r.end_equity)} on {r.end}; no earlier snapshot to compare",
                        [f"{r.trades} fills, commissions {_money(r.commissions)}"])
    return Rendered(f"P&L ({r.period}) {r.start} → {r.end}: {r.change:+,.2f}"
                    + (f" ({r.change_pct:+.2%})" if r.change_pct is not None else ""),
                    [f"book {_money(r.start_equity)} → {_money(r.end_equity)}",
                     f"{r.trades} fills, commissions {_money(r.commissions)}"])


@render.register
def _(r: RunsResult) -> Rendered:
    return Rendered("Latest runs", [f"{x.run_id}: {x.status}" + (f" — {x.note}" if x.note else "")
                                    + f" (started {x.started})" for x in r.runs] or ["no runs yet"])


@render.register
def _(r: OverrideResult) -> Rendered:
    return Rendered(f"{r.action} {r.target} by {r.actor} at {r.at}",
                    ([f"why: {r.reason}"] if r.reason else []) + [f"effect: {r.effect}", *r.details])


@render.register
def _(r: RunResult) -> Rendered:
    day = r.day.isoformat() if r.day else "latest"
    lines = [r.reason]
    if r.night is not None:
        n = r.night
        lines += [f"regime {n.regime}", f"{len(n.intents)} intents: "
                  + (", ".join(f"{i.side} {i.quantity:g} {i.intent_id.split(':')[1]}" for i in n.intents) or "none")]
    if r.morning is not None:
        lines += [f"{x.symbol} {x.side} {x.status}" + (f" {x.quantity:g} @ {x.price:.2f}" if x.price else "")
                  + (f" — {x.reason}" if x.reason and x.status != "filled" else "") for x in r.morning.results]
        lines += [f"book {r.morning.equity:,.0f}"] if r.morning.equity is not None else []
    return Rendered(f"{r.phase} {day}: {r.status}" + (f" ({r.run_id})" if r.run_id else ""), lines)


@render.register
def _(r: DataLoadResult) -> Rendered:
    lines = [f"rejected {sym}: {why}" for sym, why in r.rejected.items()]
    lines += [r.note] if r.note else []
    return Rendered(f"{sum(r.written.values()):,} bars written for {len(r.written)} symbols"
                    + (f" (store truncated at {r.until})" if r.until else ""), lines)


@render.register
def _(r: DataStatusResult) -> Rendered:
    lines = [f"{x.symbol:<6} {x.kind:<7} {x.source:<9} {x.first_date} .. {x.last_date} {x.rows:>6} rows"
             + ("  STALE" if x.stale else "") for x in r.symbols]
    lines += [f"{source}: {note}" for source, note in dict.fromkeys((x.source, x.note) for x in r.symbols if x.note)]
    if not r.symbols:
        lines.append(f"the store holds no market data: `desk data load` loads data.source ({r.source}), or "
                     f"`desk run` loads the bundled history first")
    return Rendered(f"store truncated at {r.data_until} (load again to extend)" if r.data_until else
                    f"{len(r.symbols)} symbols", lines)


@render.register
def _(r: FlushResult) -> Rendered:
    return Rendered(f"{r.sent} sent, {r.waiting} waiting, {r.dead} refused by Slack"
                    + (f" — {r.errors[-1]}" if r.errors else ""))


@render.register
def _(r: OutboxResult) -> Rendered:
    lines = [f"next attempt {r.next_attempt}" + (f" — {r.last_error}" if r.last_error else "")] \
        if r.next_attempt else []
    lines += [f"refused #{m.id} ({m.kind} to {m.channel}): {m.error}" for m in r.refused[-10:]]
    return Rendered(f"outbox: {r.pending} waiting, {r.sent} sent, {r.dead} refused", lines)


@render.register
def _(r: AskResult) -> Rendered:
    return Rendered(f"Q: {r.question}", [r.answer, f"({r.provider} {r.model}; {r.turns} model turn(s); tools: "
                                                   f"{', '.join(r.tools_used) or 'none'})"])


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+.2%}"


@render.register
def _(r: BookResult) -> Rendered:
    if r.as_of is None:
        return Rendered("The book: no session recorded yet", ["`desk run` records one"])
    return Rendered(f"The book since {r.inception} (to {r.as_of})", [
        f"equity {_money(r.equity)}, cash {_money(r.cash)}, exposure {_pct(r.exposure).lstrip('+')}",
        f"today {_money(r.day_change)} ({_pct(r.day_change_pct)})",
        f"since inception {_pct(r.total_return)}; {r.benchmark} {_pct(r.benchmark_return)}, equal-weight universe "
        f"{_pct(r.equal_weight_return)}; max drawdown {_pct(r.max_drawdown)}",
        *(f"{m.month}: {_pct(m.change_pct)}" for m in r.monthly[-12:])])


@render.register
def _(r: HoldingsResult) -> Rendered:
    if not r.holdings:
        return Rendered("Holdings: none", [])
    return Rendered(f"Holdings as of {r.as_of}", [
        f"{h.symbol}: {h.quantity:g} @ {h.avg_price:,.2f} since {h.entry_date}, now "
        f"{'n/a' if h.price is None else f'{h.price:,.2f}'}, P&L {_money(h.pnl)}, stop {h.stop:,.2f} "
        f"(trail {h.trail_pct:.0%}, tiers taken {h.tiers_hit}), {h.tier or 'no tier'}, "
        f"{', '.join(h.agents) or 'no agent'}, intent {h.intent_id or 'unknown'}" for h in r.holdings])


@render.register
def _(r: CandidatesResult) -> Rendered:
    if r.as_of is None:
        return Rendered("Candidates: no night has run yet", [])
    return Rendered(f"Candidates of the night of {r.as_of} (threshold {r.threshold})", [
        f"{c.symbol} {c.score:.0f}{' selected' if c.selected else ''} ({', '.join(c.agents)})"
        + (f" → {c.intent_id} {c.intent_status}" if c.intent_id else "")
        + "".join(f"; denied {d.rule}: {d.reason}" for d in c.denials) for c in r.candidates])


@render.register
def _(r: OrdersResult) -> Rendered:
    if r.session is None:
        return Rendered("Orders: none sent yet", [])
    return Rendered(f"Orders of the session of {r.session}", [
        f"{o.side} {o.quantity:g} {o.symbol} {o.status}"
        + (f", filled {o.filled:g} @ {o.price:,.2f} ({o.price_source})" if o.price is not None else "")
        + (f" — {o.detail}" if o.detail else "") for o in r.orders])


@render.register
def _(r: RegimesResult) -> Rendered:
    if not r.nights:
        return Rendered("Regimes: no night has run yet", [])
    return Rendered(f"The weather of the last {len(r.nights)} night(s)", [
        f"{n.as_of}: {n.regime} (models {n.base_regime}), size ×{n.sizing_modifier:.2f}" for n in r.nights])
