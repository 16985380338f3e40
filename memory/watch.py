"""What an operator watches, read from the store: the book's figures from its snapshots (equity, cash, exposure, the
day's and the total P&L from inception, the drawdown from the peak), the benchmark's latest sessions (the data's age),
the last good run of each phase, the steps that warned, and the LLM calls by provider. ``/metrics``, ``/health`` and
``desk status`` read them here, whichever process wrote them."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
from pydantic import BaseModel, ConfigDict

from memory.store import Store


class BookFigures(BaseModel):
    """The book at its latest snapshot (``as_of``: its session). Total P&L is measured from inception — the cash the
    book started with — never from the first snapshot (already after the first morning's costs); ``drawdown`` is the
    share below the highest equity on record, the initial cash included (0 at a peak)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    as_of: date
    equity: float
    cash: float
    gross_exposure: float  # the holdings' gross value, in the book's currency
    positions: int
    day_pnl: float | None  # against the previous snapshot (None: this is the first)
    total_pnl: float
    total_return: float
    peak_equity: float
    drawdown: float
    initial_cash: float


class StepNote(BaseModel):
    """A step of a run that did not end plainly ``ok``: its node, status and one-line summary."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    node: str
    status: str
    summary: str


class LlmUse(BaseModel):
    """Calls sent to one real LLM provider (the rules provider sends none), by how they ended, and their cost."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: str
    status: str
    calls: int
    cost_usd: float


class Watch:
    def __init__(self, store: Store) -> None:
        self.db = store.db

    def book(self, initial_cash: float) -> BookFigures | None:
        """The latest snapshot's figures, None before the first morning."""
        rows = self.db.query("SELECT date, equity, cash, positions_value FROM snapshots ORDER BY date DESC LIMIT 2")
        if not rows:
            return None
        last = rows[0]
        equity, cash = float(last["equity"]), float(last["cash"])
        top = self.db.execute("SELECT max(equity) FROM snapshots").fetchone()[0]
        peak = max(initial_cash, float(top if top is not None else equity))
        held = self.db.execute("SELECT count(*) FROM positions WHERE quantity <> 0").fetchone()[0]
        return BookFigures(
            as_of=date.fromisoformat(last["date"]), equity=equity, cash=cash,
            gross_exposure=abs(float(last["positions_value"])), positions=int(held),
            day_pnl=None if len(rows) < 2 else equity - float(rows[1]["equity"]),
            total_pnl=equity - initial_cash, total_return=equity / initial_cash - 1, peak_equity=peak,
            drawdown=max(0.0, 1 - equity / peak) if peak > 0 else 0.0, initial_cash=initial_cash)

    def sessions(self, benchmark: str, limit: int = 400) -> pd.DatetimeIndex:
        """The benchmark's latest ``limit`` stored sessions (the market's calendar as the data knows it), oldest
        first: enough to measure the data's age without reading every bar."""
        rows = self.db.execute("SELECT date FROM bars WHERE symbol = ? ORDER BY date DESC LIMIT ?",
                               [benchmark, limit]).fetchall()
        return pd.DatetimeIndex(sorted(pd.Timestamp(r[0]) for r in rows))

    def key_runs(self, kind: str, as_of: date) -> list[tuple[str, str, str | None]]:
        """(run id, status, its error if it failed) of each run of the key (``kind``, ``as_of``), latest first."""
        rows = self.db.query(f"SELECT run_id, status, summary FROM runs WHERE kind = ? AND as_of = ? "
                             f"ORDER BY started DESC{self.db.newest_last}", [kind, as_of.isoformat()])
        return [(r["run_id"], r["status"], _error(r["summary"])) for r in rows]

    def run_end(self, run_id: str) -> tuple[str, str | None] | None:
        """How the run ``run_id`` ended (or ``running``) and its error if it failed; None if there is no such run."""
        rows = self.db.query("SELECT status, summary FROM runs WHERE run_id = ?", [run_id])
        return (rows[0]["status"], _error(rows[0]["summary"])) if rows else None

    def last_ok(self) -> dict[str, str]:
        """Each kind of run -> when its latest successful run ended (UTC ISO text)."""
        return {k: t for k, t in self.db.execute(
            "SELECT kind, max(ended) FROM runs WHERE status = 'ok' AND ended IS NOT NULL GROUP BY kind")}

    def notes(self, run_id: str) -> list[StepNote]:
        """The steps of ``run_id`` that warned or failed, in order."""
        return [StepNote(node=n, status=s, summary=t or "") for n, s, t in self.db.execute(
            "SELECT node, status, summary FROM steps WHERE run_id = ? AND status <> 'ok' ORDER BY id", [run_id])]

    def trade_pnl(self, client_order_id: str) -> float | None:
        """The realized P&L of a sell: its filled quantity times its price, less the average cost of the holding it
        sold from (the symbol's fills before it, at average cost) and its commission. None for a buy, an order
        without a fill, or a sell from no recorded holding."""
        rows = self.db.query("SELECT client_order_id, side, quantity, price, commission FROM fills WHERE symbol = "
                             "(SELECT symbol FROM fills WHERE client_order_id = ? LIMIT 1) ORDER BY session, side",
                             [client_order_id])
        held = cost = 0.0
        for r in rows:
            q, price = float(r["quantity"]), float(r["price"])
            if r["client_order_id"] == client_order_id:
                if r["side"] != "sell" or held <= 0:
                    return None
                sold = [x for x in rows if x["client_order_id"] == client_order_id]
                qty = sum(float(x["quantity"]) for x in sold)
                value = sum(float(x["quantity"]) * float(x["price"]) for x in sold)
                return value - qty * cost / held - sum(float(x["commission"]) for x in sold)
            if r["side"] == "buy":
                held, cost = held + q, cost + q * price
            elif held > 0:
                cost -= min(q, held) * cost / held
                held = max(0.0, held - q)
        return None

    def llm_use(self) -> list[LlmUse]:
        """Every call the LLM record holds, by provider and status (a call served from the record or skipped by the
        budget costs nothing, and says so by its status)."""
        return [LlmUse(provider=p, status=s, calls=int(n), cost_usd=float(c or 0)) for p, s, n, c in self.db.execute(
            "SELECT provider, status, count(*), coalesce(sum(cost_usd), 0) FROM llm_calls "
            "GROUP BY provider, status ORDER BY provider, status")]


def _error(summary: str | None) -> str | None:
    try:
        data = json.loads(summary) if summary else {}
    except ValueError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    return str(error) if error else None
