"""The base of every record the store returns: a frozen, typed row (pydantic), never a ``dict``.

Trading dates are ``date``; times the desk wrote are UTC ISO text (``now_utc()``: they carry their zone); flags are
``bool``; a JSON column is returned parsed, as the typed value it holds where there is one. Each aggregate's
records live in its own module beside the code that reads and writes them (``memory/runs.py``, ``memory/book.py``,
…), with a ``Protocol`` naming that part of the store's interface.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

R = TypeVar("R", bound="Record")


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @classmethod
    def from_row(cls: type[R], row: Mapping[str, Any]) -> R:
        return cls.model_validate(row)

    @classmethod
    def from_rows(cls: type[R], rows: Sequence[Mapping[str, Any]]) -> list[R]:
        return [cls.model_validate(r) for r in rows]
