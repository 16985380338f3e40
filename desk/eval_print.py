"""The console view of a decision eval: the cases side by side, per period, then what drove each."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from desk.evals import DecisionEval

PERIODS = ("all", "in_sample", "validation", "holdout")


def print_eval(console: Console, e: DecisionEval) -> None:
    console.rule(Text(f"Decision eval {e.eval_id}: {len(e.cases)} case(s), {e.trials} trial(s) in the store",
                      style="bold"))
    t = Table("case", "period", "CAGR", "Sharpe [95% CI]", "deflated", "random books p", "max DD", "exposure",
              "turnover", "cost drag", title="In-sample (to 2014) / validation (2015–2018) / hold-out (2019+), apart")
    for c in e.cases:
        for period in PERIODS:
            m = c.replay.desk if period == "all" else c.replay.periods.get(period)
            s = c.sharpe.get(period)
            if m is None or s is None:
                continue
            t.add_row(c.label if period == "all" else "", period, f"{m.cagr:+.2%}",
                      f"{s.sharpe:.2f} [{s.ci_low:.2f}, {s.ci_high:.2f}]", f"{s.deflated_sharpe:.2f}",
                      f"{c.permutation[period].p_value:.3f}" if period in c.permutation else "-",
                      f"{m.max_drawdown:.2%}", f"{c.decomposition.average_invested:.0%}" if period == "all" else "",
                      f"{m.turnover:.2f}" if m.turnover is not None else "",
                      f"{c.costs.cost_drag:.2%}" if period == "all" else "")
    console.print(t)
    b = Table("case", "S&P 500", "equal-weight", "exposure-matched", "level", "timing", "selection",
              title="Benchmarks (CAGR) and the desk's CAGR = exposure level + timing + selection")
    for c in e.cases:
        r, d = c.replay, c.decomposition
        b.add_row(c.label, f"{r.sp500_buy_hold.cagr:+.2%}", f"{r.equal_weight.cagr:+.2%}",
                  f"{r.exposure_matched.cagr:+.2%}", f"{d.exposure_level:+.2%}", f"{d.timing:+.2%}",
                  f"{d.selection:+.2%}")
    console.print(b)
    a = Table("case", "agent", "entries", "hit rate", "mean fwd return", "positions", "contribution",
              title="Agents: entry hit rates over their horizon, and the P&L of the positions they opened")
    for c in e.cases:
        for i, (name, f) in enumerate(c.agents.items()):
            a.add_row(c.label if i == 0 else "", name, str(f.entries_proposed), _pct(f.hit_rate),
                      _pct(f.mean_forward_return, signed=True), str(f.positions), f"{f.contribution_pct:+.2%}")
    console.print(a)
    o = Table("case", "overlay", "entries", "hit rate", "mean fwd return",
              title="The overlay's effect: what confirmed, adjusted and vetoed entries went on to do")
    for c in e.cases:
        for i, x in enumerate(c.overlay):
            o.add_row(c.label if i == 0 else "", x.decision, str(x.entries), _pct(x.hit_rate),
                      _pct(x.mean_forward_return, signed=True))
    console.print(o)
    for c in e.cases:
        for f in c.flat_stretches:
            console.print(Text(f"  {c.label}: flat {f.start} .. {f.end} ({f.sessions} sessions): {f.cause}"),
                          soft_wrap=True)
    if e.cases:
        for name, basis in e.cases[0].bases.items():
            console.print(Text(f"  {name}: {basis}", style="dim"))
        console.print(Text(f"  {e.cases[0].risk_free}", style="dim"))
        console.print(Text("  random books p: the desk's holdings given random names at the same weights, entries "
                           "and exits (evals/permutation.py); small when its choice of names beat chance", style="dim"))
    if e.touches_holdout:
        console.print(Text("  hold-out nights (2019 on) are reported, never tuned on: choose nothing by them"))
    console.print(Text(f"result: {e.path}  (desk report {e.eval_id})", style="dim"), soft_wrap=True)


def _pct(x: float | None, signed: bool = False) -> str:
    if x is None:
        return "-"
    return f"{x:+.2%}" if signed else f"{x:.0%}"


def print_prompts(console: Console, e) -> None:
    """The version A/B table of a prompt eval: one column per prompt version."""
    versions = list(e.scores)
    t = Table("scorer", *versions,
              title=f"{e.role} prompts on {e.provider} {e.model}, cases {e.case_set} (llm.replay={e.replay})")
    rows = (("cases", lambda s: str(s.cases)), ("schema-valid", lambda s: f"{s.schema_valid_rate:.0%}"),
            ("bound violations", lambda s: str(s.bound_violations)), ("agreement", lambda s: _pct(s.agreement)),
            ("veto precision", lambda s: _pct(s.veto_precision)), ("veto recall", lambda s: _pct(s.veto_recall)),
            ("P&L impact", lambda s: "-" if s.pnl_impact is None else f"{s.pnl_impact:+.3%}"),
            ("calls", lambda s: str(s.calls)),
            ("latency ms", lambda s: "-" if s.latency_ms is None else f"{s.latency_ms:.0f}"),
            ("tokens", lambda s: str(s.tokens)), ("US$", lambda s: f"{s.usd:.4f}"))
    for name, cell in rows:
        t.add_row(name, *(cell(e.scores[v]) for v in versions))
    if e.gate is not None:
        t.add_row("gate", *("pass" if not e.gate.get(v) else "FAIL" for v in versions))
    console.print(t)
    for v, why in (e.gate or {}).items():
        for line in why:
            console.print(Text(f"  {v}: {line}"))
