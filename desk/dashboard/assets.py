"""The JavaScript the page needs from a library, served by the desk itself (the page opens with no network): plotly.js
from the installed plotly package, as ``evals/report.py`` embeds it."""

from __future__ import annotations

from functools import cache


@cache
def plotly_js() -> bytes:
    from plotly.offline import get_plotlyjs

    return str(get_plotlyjs()).encode("utf-8")
