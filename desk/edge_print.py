"""The console view of an edge ledger: the desk per era, each layer's effect per era, what was not weighed.

Every column is ``no_wrap`` and the tables are printed at least as wide as they measure, so a narrow terminal wraps
whole lines instead of cutting a number or a word."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from evals.edge import EdgeLedger
from evals.edge_text import (
    COLUMNS,
    DESK_COLUMNS,
    desk_rows,
    fold_rows,
    layer_rows,
    skipped_rows,
)


def table(header: Sequence[str], rows: Sequence[Sequence[str]], title: str) -> Table:
    t = Table(title=title, title_justify="left")
    for i, h in enumerate(header):
        t.add_column(h, no_wrap=True, justify="left" if i == 0 or h in ("era", "layer", "why", "case", "verdict")
                     else "right")
    for r in rows:
        t.add_row(*(Text(c) for c in r))
    return t


def show(console: Console, t: Table) -> None:
    """Print ``t`` whole: never narrower than it measures (the terminal wraps long lines; nothing is cut)."""
    need = Measurement.get(console, console.options.update_width(10_000), t).maximum
    if need <= console.width:
        console.print(t)
        return
    wide = Console(file=console.file, width=need, color_system="auto" if console.color_system else None,
                   force_terminal=console.is_terminal, no_color=console.no_color, highlight=False)
    wide.print(t)


def print_edge(console: Console, e: EdgeLedger) -> None:
    console.print(Text(f"Edge ledger {e.eval_id}: nights {e.start} .. {e.end}, {e.cases} replays, folds by year, "
                       f"paired bootstrap {e.level:.0%} over folds ({e.resamples:,} resamples), "
                       f"{e.seconds / 60:.1f} min", style="bold"), soft_wrap=True)
    if e.holdout:
        console.print(Text("includes the hold-out (2019 on): the one final report — choose nothing by it"))
    show(console, table(DESK_COLUMNS, desk_rows(e), "The desk (selection: CAGR minus its exposure-matched twin's; "
                                                    "random books: same weights, entries and exits, random names)"))
    show(console, table(COLUMNS, layer_rows(e), "Each layer: the desk minus the desk without it (positive: it helps)"))
    skipped = skipped_rows(e)
    if skipped:
        show(console, table(("layer", "why"), skipped, "Not weighed"))
    years, rows = fold_rows(e, "sharpe")
    show(console, table(("case", *years), rows, "Sharpe by fold (year)"))
    if e.short_folds:
        console.print(Text(f"years left out (under a trading month of sessions): {', '.join(e.short_folds)}"))
    console.print(Text(f"ledger: desk report {e.eval_id}", style="dim"), soft_wrap=True)
