"""A broker's market clock, and why a morning waits for it: an API broker trades only the session that is open now,
by its own clock and calendar, and those must agree with the exchange calendar the desk plans on.

An optional broker method, ``market_clock() -> MarketClock``; simulated brokers (paper, replay) have none and never
wait. ``why_wait(clock, session, exchange_has_session)`` is the reason a morning for ``session`` sends nothing now,
or None: checked in this order, the first that holds is the reason.

1. the broker's New York date is not the morning's session (a past session cannot be traded; a future one not yet);
2. the broker's calendar and the exchange calendar (XNYS) disagree on whether that date is a session;
3. the market is closed now (before the open, after the close): the orders wait for the next open.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

NEW_YORK = ZoneInfo("America/New_York")


class MarketClock(BaseModel):
    """The broker's time, whether its market is open, its next open and close, and whether its own calendar lists
    a session on its New York date."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    now: datetime
    is_open: bool
    next_open: datetime
    next_close: datetime
    session_today: bool

    @property
    def today(self) -> date:
        return self.now.astimezone(NEW_YORK).date()


def _at(t: datetime) -> str:
    return t.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M %Z")


def why_wait(clock: MarketClock, session: date, exchange_has_session: bool) -> str | None:
    """Why a morning for ``session`` sends nothing now (see the module docstring), or None when it may trade."""
    if clock.today != session:
        when = "has passed" if session < clock.today else "has not begun"
        return (f"the morning is for the session of {session}, which {when}: the broker's clock reads "
                f"{_at(clock.now)} and it trades only the session that is open now")
    if clock.session_today != exchange_has_session:
        broker, xnys = (("lists", "does not") if clock.session_today else ("does not list", "does"))
        return (f"the broker's calendar {broker} a session on {session} and the exchange calendar (XNYS) {xnys}: "
                "nothing is sent until they agree")
    if not clock.is_open:
        return f"the market is closed at the broker ({_at(clock.now)}); it opens at {_at(clock.next_open)}"
    return None
