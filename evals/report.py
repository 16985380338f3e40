"""A decision eval in pictures: one self-contained HTML file (plotly's JavaScript embedded, so it opens offline),
and the same figures as JSON beside it.

Charts: equity against the benchmarks (log scale), drawdown, Sharpe by period with its bootstrap interval
(in-sample, validation and hold-out apart), monthly returns of the first case, the regime timeline, exposure,
per-agent contribution, the overlay's effect (what confirmed, adjusted and vetoed entries went on to do), LLM cost.
An eval that was an edge ledger (``edge.json`` beside its result) also gets the ledger's section: the desk per era,
each layer's effect per era with its paired bootstrap interval, and a chart of the layers' Sharpe effects.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from pydantic import BaseModel, ConfigDict

from evals import edge as ledgers
from evals.case import CaseResult
from evals.edge_text import COLUMNS, DESK_COLUMNS, desk_rows, layer_rows, skipped_rows
from vocab.terms import REGIME_ORDER

PERIODS = ("in_sample", "validation", "holdout")
REGIME_COLOURS = {"calm_uptrend": "#2e7d32", "risk_on_trend": "#9ccc65", "choppy": "#fdd835",
                  "risk_off_trend": "#fb8c00", "high_vol_panic": "#c62828"}


class ReportFiles(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    eval_id: str
    html: str
    json_path: str
    charts: list[str]


def _dates(c: CaseResult) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(c.series.dates)


def equity(cases: list[CaseResult]) -> go.Figure:
    fig = go.Figure()
    first = cases[0]
    for name, values, dash in (("S&P 500 buy & hold", first.series.sp500_buy_hold, "dot"),
                               ("equal-weight universe", first.series.equal_weight, "dash")):
        fig.add_scatter(x=first.series.dates, y=values, name=name, line={"dash": dash, "color": "#888"})
    for c in cases:
        fig.add_scatter(x=c.series.dates, y=c.series.desk, name=f"{c.label}")
        fig.add_scatter(x=c.series.dates, y=c.series.exposure_matched, name=f"{c.label}: exposure-matched",
                        line={"dash": "dashdot", "width": 1}, visible="legendonly" if len(cases) > 1 else True)
    fig.update_yaxes(type="log", title="equity (log scale)")
    fig.update_layout(title="Equity against the benchmarks")
    return fig


def drawdown(cases: list[CaseResult]) -> go.Figure:
    fig = go.Figure()
    for c in cases:
        v = np.asarray(c.series.desk)
        fig.add_scatter(x=c.series.dates, y=v / np.maximum.accumulate(v) - 1, name=c.label, fill="tozeroy")
    fig.update_yaxes(tickformat=".0%", title="drawdown")
    fig.update_layout(title="Drawdown")
    return fig


def sharpe_by_period(cases: list[CaseResult]) -> go.Figure:
    fig = go.Figure()
    for c in cases:
        got = [p for p in PERIODS if p in c.sharpe]
        s = [c.sharpe[p] for p in got]
        fig.add_bar(x=got, y=[x.sharpe for x in s], name=c.label, error_y={
            "type": "data", "symmetric": False, "array": [x.ci_high - x.sharpe for x in s],
            "arrayminus": [x.sharpe - x.ci_low for x in s]},
            customdata=[x.deflated_sharpe for x in s],
            hovertemplate="%{x}: Sharpe %{y:.2f}, deflated %{customdata:.2f}<extra>" + c.label + "</extra>")
    fig.update_layout(title="Sharpe by period, 95% bootstrap interval (hold-out: reported, never tuned on)",
                      barmode="group")
    return fig


def monthly(cases: list[CaseResult]) -> go.Figure:
    c = cases[0]
    curve = pd.Series(c.series.desk, index=_dates(c))
    ends = curve.resample("ME").last()
    rets = ends.pct_change()
    rets.iloc[0] = ends.iloc[0] / curve.iloc[0] - 1
    table = pd.DataFrame({"year": rets.index.year, "month": rets.index.month, "r": rets.to_numpy()})
    grid = table.pivot(index="year", columns="month", values="r").reindex(columns=range(1, 13))
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    z = grid.to_numpy()
    fig = go.Figure(go.Heatmap(z=np.where(np.isnan(z), None, z), x=months, y=[str(y) for y in grid.index],
                               colorscale="RdYlGn", zmid=0, texttemplate="%{z:.1%}", colorbar={"tickformat": ".0%"}))
    fig.update_layout(title=f"Monthly returns: {c.label}")
    return fig


def regimes(cases: list[CaseResult]) -> go.Figure:
    fig = go.Figure()
    for c in cases:
        known = [(d, r) for d, r in zip(c.series.dates, c.series.regime, strict=True) if r]
        for regime in REGIME_ORDER:
            days = [d for d, r in known if r == str(regime)]
            if days:
                fig.add_scatter(x=days, y=[c.label] * len(days), mode="markers", name=str(regime),
                                legendgroup=str(regime), showlegend=c is cases[0],
                                marker={"symbol": "square", "size": 9, "color": REGIME_COLOURS[str(regime)]})
    fig.update_layout(title="Regime timeline (the night's regime, after the analyst's nudge)")
    return fig


def exposure(cases: list[CaseResult]) -> go.Figure:
    fig = go.Figure()
    for c in cases:
        fig.add_scatter(x=c.series.dates, y=c.series.invested, name=c.label)
        for f in c.flat_stretches:   # flat stretches shaded, each with the rule that kept the book empty
            fig.add_vrect(x0=f.start, x1=f.end, fillcolor="#d62728", opacity=0.12, line_width=0,
                          annotation_text=f"flat {f.sessions} sessions: {f.cause[:60]}", annotation_position="top left",
                          annotation_font_size=9)
    fig.update_yaxes(tickformat=".0%", title="invested fraction of equity", range=[0, 1.05])
    fig.update_layout(title="Exposure")
    return fig


def agents(cases: list[CaseResult]) -> go.Figure:
    fig = go.Figure()
    for c in cases:
        names = list(c.agents)
        fig.add_bar(x=names, y=[c.agents[a].contribution_pct for a in names], name=c.label,
                    customdata=[c.agents[a].hit_rate for a in names],
                    hovertemplate="%{x}: %{y:.2%} of capital; entry hit rate %{customdata:.0%}<extra></extra>")
    fig.update_yaxes(tickformat=".1%", title="P&L of the positions it opened, of capital")
    fig.update_layout(title="Per-agent contribution", barmode="group")
    return fig


def overlay(cases: list[CaseResult]) -> go.Figure:
    fig = go.Figure()
    for c in cases:
        fig.add_bar(x=[o.decision for o in c.overlay], y=[o.mean_forward_return or 0.0 for o in c.overlay],
                    name=c.label, text=[f"n={o.entries}" for o in c.overlay], textposition="outside")
    fig.update_yaxes(tickformat=".1%", title="mean return over the proposal's horizon")
    fig.update_layout(title="The overlay's effect: what confirmed, adjusted and vetoed entries went on to do",
                      barmode="group")
    return fig


def llm_cost(cases: list[CaseResult]) -> go.Figure:
    fig = go.Figure()
    for c in cases:
        fig.add_scatter(x=c.series.dates, y=np.cumsum(c.series.llm_usd), name=c.label)
    fig.update_yaxes(title="cumulative US$ (answers served from the record cost nothing)", rangemode="tozero")
    fig.update_layout(title="LLM cost")
    return fig


CHARTS = {"equity": equity, "drawdown": drawdown, "sharpe_by_period": sharpe_by_period, "monthly_returns": monthly,
          "regimes": regimes, "exposure": exposure, "agents": agents, "overlay": overlay, "llm_cost": llm_cost}


def edge_chart(ledger: ledgers.EdgeLedger) -> go.Figure:
    """Each weighed layer's Sharpe effect per era (era-long), with the paired bootstrap interval of its fold mean."""
    fig = go.Figure()
    for era in ledger.eras:
        rows = [(r.layer, e.effects["sharpe"]) for r in ledger.layers for e in r.eras if e.era == era]
        fig.add_bar(x=[name for name, _ in rows], y=[x.effect for _, x in rows], name=ledgers.ERA_NAMES[era],
                    customdata=[[x.fold_mean, x.ci_low, x.ci_high, x.helped, x.folds] for _, x in rows],
                    hovertemplate="%{x}: ΔSharpe %{y:+.2f}; fold mean %{customdata[0]:+.2f} "
                                  "[%{customdata[1]:+.2f}, %{customdata[2]:+.2f}], helped in %{customdata[3]} of "
                                  "%{customdata[4]} folds<extra></extra>")
    fig.update_yaxes(title="Sharpe: desk minus desk without the layer")
    fig.update_layout(title="Edge ledger: what each layer adds to the Sharpe, by era", barmode="group")
    return fig


def figures(cases: list[CaseResult], ledger: ledgers.EdgeLedger | None = None) -> dict[str, go.Figure]:
    charts = dict(CHARTS)
    out = {name: build(cases).update_layout(template="plotly_white", height=420) for name, build in charts.items()}
    if ledger is not None:
        out = {"edge": edge_chart(ledger).update_layout(template="plotly_white", height=420), **out}
    return out


def _html_table(header, rows) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def edge_section(ledger: ledgers.EdgeLedger) -> str:
    """The ledger's tables, as HTML (every text escaped)."""
    skipped = skipped_rows(ledger)
    held = "<p><b>Includes the hold-out (2019 on): the one final report; nothing is chosen by it.</b></p>" \
        if ledger.holdout else ""
    return (f'<section id="edge"><h2>Edge ledger</h2>{held}'
            f"<p>Nights {ledger.start} .. {ledger.end}; {ledger.cases} replays cut into folds by year and paired by "
            f"year; intervals: paired bootstrap of the mean fold effect ({ledger.resamples:,} resamples, "
            f"{ledger.level:.0%}).</p>"
            f"<h3>The desk</h3>{_html_table(DESK_COLUMNS, desk_rows(ledger))}"
            f"<h3>Each layer: the desk minus the desk without it (positive: it helps)</h3>"
            f"{_html_table(COLUMNS, layer_rows(ledger))}"
            + (f"<h3>Not weighed</h3>{_html_table(('layer', 'why'), skipped)}" if skipped else "")
            + "</section>")


def render(eval_id: str, cases: list[CaseResult], figs: dict[str, go.Figure],
           ledger: ledgers.EdgeLedger | None = None) -> str:
    """One HTML document; the first chart carries plotly.js inline, so nothing is fetched when it opens."""
    parts = []
    for i, (name, fig) in enumerate(figs.items()):
        parts.append(pio.to_html(fig, include_plotlyjs=i == 0, full_html=False, div_id=f"chart-{name}",
                                 config={"displaylogo": False, "responsive": True}))
    rows = "".join(
        f"<tr><td>{html.escape(c.label)}</td><td>{c.replay.start} .. {c.replay.end}</td>"
        f"<td>{c.replay.desk.cagr:+.2%}</td><td>{c.replay.desk.sharpe:.2f}</td>"
        f"<td>{c.sharpe['all'].deflated_sharpe:.2f}</td><td>{c.replay.desk.max_drawdown:.2%}</td>"
        f"<td>{c.decomposition.timing:+.2%}</td><td>{c.decomposition.selection:+.2%}</td></tr>"
        for c in cases if "all" in c.sharpe)
    names = {"in_sample": "in-sample (to 2014)", "validation": "validation (2015–2018)",
             "holdout": "hold-out (2019 on: reported, never tuned on)"}
    periods = "".join(
        f"<tr><td>{html.escape(c.label)}</td><td>{names[p]}</td><td>{m.start} .. {m.end}</td>"
        f"<td>{m.cagr:+.2%}</td><td>{c.sharpe[p].sharpe:.2f} [{c.sharpe[p].ci_low:.2f}, {c.sharpe[p].ci_high:.2f}]"
        f"</td><td>{c.sharpe[p].deflated_sharpe:.2f}</td><td>{m.max_drawdown:.2%}</td>"
        f"<td>{c.replay.benchmark_periods['exposure_matched'][p].cagr:+.2%}</td>"
        f"<td>{f'{c.permutation[p].p_value:.3f}' if p in c.permutation else '-'}</td></tr>"
        for c in cases for p, m in c.replay.periods.items()
        if p in c.sharpe and p in c.replay.benchmark_periods.get("exposure_matched", {}))
    bases = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in cases[0].bases.items())
    flats = "".join(f"<tr><td>{html.escape(c.label)}</td><td>{f.start} .. {f.end}</td><td>{f.sessions}</td>"
                    f"<td style='text-align:left'>{html.escape(f.cause)} ({f.nights_with_cause} nights)</td></tr>"
                    for c in cases for f in c.flat_stretches) or "<tr><td colspan=4>none</td></tr>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>desk eval {html.escape(eval_id)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}td:first-child{{text-align:left}}</style></head>
<body><h1>Decision eval {html.escape(eval_id)}</h1>
<table><tr><th>case</th><th>range</th><th>CAGR</th><th>Sharpe</th><th>deflated</th><th>max DD</th>
<th>timing</th><th>selection</th></tr>{rows}</table>
<h2>By period</h2>
<table><tr><th>case</th><th>period</th><th>range</th><th>CAGR</th><th>Sharpe [95% CI]</th><th>deflated</th>
<th>max DD</th><th>exposure-matched CAGR</th><th>random books p</th></tr>{periods}</table>
<h2>Flat stretches (nothing invested for two weeks or more) and the rule behind each</h2>
<table><tr><th>case</th><th>sessions</th><th>count</th><th>cause</th></tr>{flats}</table>
<ul>{bases}<li>{html.escape(cases[0].risk_free)}</li></ul>
{edge_section(ledger) if ledger is not None else ""}
{''.join(parts)}
</body></html>"""


def write_report(evaluation) -> ReportFiles:
    """Write ``report.html`` and ``report.json`` beside the eval's result; their paths."""
    cases = list(evaluation.cases)
    folder = Path(evaluation.path).parent
    ledger = ledgers.load(folder)
    figs = figures(cases, ledger)
    html_path, json_path = folder / "report.html", folder / "report.json"
    html_path.write_text(render(evaluation.eval_id, cases, figs, ledger), encoding="utf-8")
    json_path.write_text(json.dumps({name: json.loads(fig.to_json()) for name, fig in figs.items()}),
                         encoding="utf-8")
    return ReportFiles(eval_id=evaluation.eval_id, html=str(html_path), json_path=str(json_path), charts=list(figs))
