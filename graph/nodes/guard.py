"""Why new entries are blocked on a date, if they are: an operator's halt or an active circuit breaker."""

from __future__ import annotations

from datetime import date

from graph.context import DeskContext
from tools.breakers import active


def entries_blocked(ctx: DeskContext, day: date) -> str | None:
    desk = ctx.store.desk_state()
    reasons = [f"desk halted: {desk.reason}"] if desk.halted else []
    reasons += active(ctx.store.breakers(), day, ctx.market.sessions)
    return "; ".join(reasons) or None
