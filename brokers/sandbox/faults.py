"""The sandbox's fault switches: a typed value parsed from ``slow,reject=0.3,...`` and switchable at run time.

| switch              | value (default)        | what the app does                                                      |
| ------------------- | ---------------------- | ---------------------------------------------------------------------- |
| ``slow``            | seconds (0.3)          | every app page answers after this delay                                |
| ``rerender``        | none                   | pages re-render their content after load and on first interaction, so  |
|                     |                        | element references taken before go stale (typed values survive)        |
| ``lost_confirmation`` | none                 | an order is booked, then a gateway error page (502, not the app's)     |
|                     |                        | comes instead of the confirmation                                      |
| ``reject``          | probability (0.5)      | orders are rejected at random with a reason (seeded, reproducible)     |
| ``expire``          | pages per session (5)  | a session expires after this many pages; the user must log in again    |
| ``maintenance``     | none                   | every app page is a maintenance page (HTTP 503)                        |
| ``partial``         | fill ratio (0.5)       | market orders fill this share at once and stay working for the rest    |
"""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

_FLAGS = ("rerender", "lost_confirmation", "maintenance")
_VALUED = {"slow": 0.3, "reject": 0.5, "expire": 5, "partial": 0.5}


class FaultError(ValueError):
    """A fault spec that cannot be parsed; the message says which switch and what is allowed."""


class Faults(BaseModel):
    """Which faults are on. ``None`` / ``False`` is off."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    slow: float | None = Field(None, gt=0, le=120)
    rerender: bool = False
    lost_confirmation: bool = False
    reject: float | None = Field(None, gt=0, le=1)
    expire: int | None = Field(None, ge=1)
    maintenance: bool = False
    partial: float | None = Field(None, gt=0, lt=1)

    @classmethod
    def parse(cls, spec: str | None) -> Faults:
        """``"slow,reject=0.3"`` → Faults(slow=0.3 default, reject=0.3). Empty or None is no fault."""
        values: dict[str, Any] = {}
        for raw in (spec or "").split(","):
            item = raw.strip()
            if not item:
                continue
            name, _, value = (p.strip() for p in item.partition("="))
            if name not in _FLAGS and name not in _VALUED:
                hint = difflib.get_close_matches(name, [*_FLAGS, *_VALUED], n=1)
                raise FaultError(f"unknown fault {name!r}" + (f"; did you mean {hint[0]!r}?" if hint else "")
                                 + f"; known: {', '.join([*_VALUED, *_FLAGS])}")
            if name in _FLAGS:
                if value:
                    raise FaultError(f"fault {name!r} takes no value (got {value!r})")
                values[name] = True
            else:
                values[name] = value if value else _VALUED[name]
        try:
            return cls(**values)
        except ValidationError as exc:
            err = exc.errors()[0]
            raise FaultError(f"fault {err['loc'][0]!r}: {err['msg']} (got {err['input']!r})") from None

    def spec(self) -> str:
        """The spec string that parses back to these faults."""
        parts = [n for n in _FLAGS if getattr(self, n)]
        parts += [f"{n}={getattr(self, n)}" for n in _VALUED if getattr(self, n) is not None]
        return ",".join(sorted(parts))

    def active(self) -> list[str]:
        return [n for n in (*_VALUED, *_FLAGS) if getattr(self, n) not in (None, False)]
