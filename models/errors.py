"""Errors the model API raises: each says what is wrong and what to do, in one line."""

from __future__ import annotations

import difflib
from collections.abc import Sequence


class ModelError(ValueError):
    """Base of every error a model tool reports to its caller (a ValueError, so CLIs print one line)."""


class UnknownSymbol(ModelError):
    """A symbol the inputs do not hold."""

    def __init__(self, symbol: str, known: Sequence[str]) -> None:
        close = difflib.get_close_matches(symbol.upper(), list(known), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        super().__init__(f"unknown symbol {symbol!r}{hint}; known symbols: {', '.join(sorted(known))}")
        self.symbol = symbol


class NoModel(ModelError):
    """No promoted model may be used on the date asked; the message says why."""

    def __init__(self, name: str, as_of: object, reason: str) -> None:
        super().__init__(f"no usable {name} model on {as_of}: {reason}")
        self.name, self.as_of, self.reason = name, as_of, reason


class NoData(ModelError):
    """The inputs cannot feed the model on that date (before the data starts, or its window is incomplete)."""


class ModelFileError(ModelError):
    """A saved model cannot be read or written whole (a damaged file, a full disk): says which folder and what to
    do."""
