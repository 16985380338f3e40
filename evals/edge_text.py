"""The edge ledger as text: the cells the console table and the markdown summary share, and the markdown itself
(the summary committed under ``evals/edge/`` when a ledger decided the defaults)."""

from __future__ import annotations

from collections.abc import Sequence

from evals.edge import ERA_NAMES, METRICS, EdgeLedger, Effect, Figures

HEADLINE = "ΔSharpe"
COLUMNS = ("layer", "era", "ΔSharpe (era)", "fold mean [95% CI]", "helped", "ΔCAGR", "Δmax DD", "Δselection",
           "verdict")
DESK_COLUMNS = ("era", "folds", "Sharpe", "CAGR", "max DD", "twin Sharpe", "selection", "random books p")


def points(x: float) -> str:
    """A difference of two rates in percentage points."""
    return f"{x * 100:+.2f} pt"


def pct(x: float) -> str:
    return f"{x:+.2%}"


def fmt(metric: str, x: float | None) -> str:
    if x is None:
        return "–"
    return f"{x:+.2f}" if metric == "sharpe" else points(x)


def interval(metric: str, e: Effect) -> str:
    if e.fold_mean is None:
        return "no fold"
    if e.ci_low is None or e.ci_high is None:
        return f"{fmt(metric, e.fold_mean)} (one fold: no interval)"
    return f"{fmt(metric, e.fold_mean)} [{fmt(metric, e.ci_low)}, {fmt(metric, e.ci_high)}]"


def verdict(helps: bool | None, era: str, identical: bool = False) -> str:
    if identical:
        return "identical to the desk: changed nothing"
    if helps is None or era == "holdout":
        return ""
    return "helps in both eras" if helps else "not in both eras"


def layer_rows(ledger: EdgeLedger) -> list[tuple[str, ...]]:
    """One row per (layer, era) weighed, then one per layer not weighed."""
    rows: list[tuple[str, ...]] = []
    for row in ledger.layers:
        for i, le in enumerate(row.eras):
            s = le.effects["sharpe"]
            rows.append((row.layer if i == 0 else "", ERA_NAMES[le.era].split(" (")[0], fmt("sharpe", s.effect),
                         interval("sharpe", s), f"{s.helped}/{s.folds}", fmt("cagr", le.effects["cagr"].effect),
                         fmt("max_drawdown", le.effects["max_drawdown"].effect),
                         fmt("selection", le.effects["selection"].effect),
                         verdict(row.helps_both_eras, le.era, row.identical) if i == 0 else ""))
    return rows


def skipped_rows(ledger: EdgeLedger) -> list[tuple[str, str]]:
    return [(row.layer, row.reason) for row in ledger.layers if row.case is None]


def desk_rows(ledger: EdgeLedger) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for d in ledger.desk:
        f: Figures = d.desk
        p = d.permutation
        out.append((ERA_NAMES[d.era].split(" (")[0], str(d.folds), f"{f.sharpe:.2f}", pct(f.cagr),
                    f"{f.max_drawdown:.2%}", f"{f.twin_sharpe:.2f}", points(f.selection),
                    f"{p.p_value:.3f} ({p.books} books, excess {points(p.excess)}/yr)" if p else "–"))
    return out


def fold_rows(ledger: EdgeLedger, metric: str = "sharpe") -> tuple[list[str], list[tuple[str, ...]]]:
    """Years as columns, one row per case: ``metric`` in each fold."""
    years = sorted({y for folds in ledger.folds.values() for y in folds})
    rows = []
    for label, folds in ledger.folds.items():
        rows.append((label, *(f"{getattr(folds[y], metric):+.2f}" if metric == "sharpe" and y in folds
                              else pct(getattr(folds[y], metric)) if y in folds else "–" for y in years)))
    return years, rows


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def esc(x: str) -> str:
        return x.replace("|", "\\|")

    lines = ["| " + " | ".join(esc(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def ledger_markdown(ledger: EdgeLedger) -> str:
    """The whole ledger as markdown (every figure of the console table, the desk's folds and each case's)."""
    held = " — includes the hold-out: reported once, nothing chosen by it" if ledger.holdout else ""
    parts = [
        f"# Edge ledger {ledger.eval_id}",
        "",
        (f"Nights {ledger.start} .. {ledger.end}{held}. {ledger.cases} replays (the desk and the ablation of each "
        f"layer it uses), each one continuous replay cut into folds by calendar year and paired by year; "
        f"intervals are the paired bootstrap ({ledger.resamples:,} resamples, {ledger.level:.0%}) of the mean fold "
        f"effect. Wall time {ledger.seconds / 60:.1f} min, training included. Created {ledger.created}."),
        "",
        "## The desk",
        "",
        _table(DESK_COLUMNS, desk_rows(ledger)),
        "",
        ("Selection: CAGR minus the exposure-matched twin's (the equal-weight universe at the desk's daily invested "
        "fraction). Random books: the desk's holdings given random names at the same weights, entries and exits "
        "(one-sided p of the desk's holdings return)."),
        "",
        "## Layers: the desk minus the desk without the layer (positive: the layer helps)",
        "",
        _table(COLUMNS, layer_rows(ledger)),
        "",
    ]
    skipped = skipped_rows(ledger)
    if skipped:
        parts += ["Not weighed:", "", _table(("layer", "why"), skipped), ""]
    if ledger.short_folds:
        parts += [f"Years left out (under a trading month of sessions): {', '.join(ledger.short_folds)}.", ""]
    for metric, title in (("sharpe", "Sharpe"), ("selection", "selection (CAGR minus the exposure-matched twin's)")):
        years, rows = fold_rows(ledger, metric)
        parts += [f"## Folds: {title} by year", "", _table(("case", *years), rows), ""]
    parts += ["Metrics: " + ", ".join(METRICS) + "; Δ is the desk's figure minus the ablation's; for max drawdown "
              "a positive Δ is a shallower drawdown with the layer.", ""]
    return "\n".join(parts)
