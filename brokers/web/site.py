"""A site's selector map: where each page lives, how to recognise it, and where each value sits on it.

``load_site("sandbox")`` reads the map shipped in ``brokers/web/sites/``; ``load_site(path)`` reads any TOML file of
the same shape. Unknown keys are refused, so a typo in a map fails at start, not in the middle of a morning.
"""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from brokers.base import WHOLE_SHARES, BrokerError, QuantityRules

ORDER_STATES = ("accepted", "partially_filled", "filled", "rejected", "cancelled")


class _Map(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FieldSpec(_Map):
    """A value: the ``attr`` attribute (or, without one, the text) of ``css`` inside the row (or the row itself)."""

    css: str = ""
    attr: str = ""


class Paths(_Map):
    login: str
    instruments: str
    instruments_query: str
    ticket: str
    ticket_symbol: str
    blotter: str
    blotter_query: str
    portfolio: str


class Pages(_Map):
    app: str
    login: str
    code: str
    maintenance: str
    instruments: str
    ticket: str
    confirmation: str
    blotter: str
    portfolio: str


class LoginMap(_Map):
    user: str
    password: str
    submit: str
    code: str
    code_submit: str
    error: str


class Summary(_Map):
    symbol: str
    side: str
    quantity: str
    reference: str


class TicketMap(_Map):
    symbol: str
    side: str
    quantity: str
    order_type: str
    reference: str
    review: str
    dialog: str
    confirm: str
    back: str
    error: str
    market_value: str
    side_values: dict[str, str]
    summary: Summary


class Pattern(_Map):
    pattern: str
    max_length: int = Field(64, ge=1)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression ({exc})") from None
        return v

    def check(self, what: str, value: str) -> str | None:
        """None when ``value`` fits, else why not."""
        if len(value) > self.max_length:
            return f"{what} {value[:80]!r} is longer than {self.max_length} characters"
        if not re.fullmatch(self.pattern, value):
            return f"{what} {value[:80]!r} does not match {self.pattern}"
        return None


class Table(_Map):
    row: str
    fields: dict[str, FieldSpec]


class OrdersMap(Table):
    confirmation_row: str
    cancel: str
    newest_first: bool
    status_map: dict[str, str]
    side_map: dict[str, str]

    @field_validator("status_map")
    @classmethod
    def _states(cls, v: dict[str, str]) -> dict[str, str]:
        bad = sorted(s for s in v.values() if s not in ORDER_STATES)
        if bad:
            raise ValueError(f"status_map maps to {bad}; use only {', '.join(ORDER_STATES)}")
        return v


class AccountMap(_Map):
    element: str
    fields: dict[str, FieldSpec]


class SiteMap(_Map):
    name: str
    paths: Paths
    pages: Pages
    login: LoginMap
    ticket: TicketMap
    reference: Pattern
    symbols: Pattern
    instruments: Table
    orders: OrdersMap
    account: AccountMap
    positions: Table
    quantities: QuantityRules = Field(WHOLE_SHARES, description="what the ticket accepts: whole shares unless the "
                                                                "site allows fractions (decimals), a minimum notional")


def load_site(site: str | Path) -> SiteMap:
    """The selector map named ``site`` (shipped with the desk) or read from the TOML file at that path."""
    text = str(site)
    if text.endswith(".toml") or "/" in text:
        path = Path(text)
        if not path.is_file():
            raise BrokerError(f"selector map {path} not found")
        raw = path.read_text()
    else:
        shipped = resources.files("brokers.web").joinpath("sites", f"{text}.toml")
        if not shipped.is_file():
            known = sorted(p.name.removesuffix(".toml") for p in resources.files("brokers.web").joinpath("sites")
                           .iterdir() if p.name.endswith(".toml"))
            raise BrokerError(f"no selector map for site {text!r}; shipped: {', '.join(known)} (or pass a .toml path)")
        raw, path = shipped.read_text(), Path(text)
    try:
        return SiteMap.model_validate(tomllib.loads(raw))
    except tomllib.TOMLDecodeError as exc:
        raise BrokerError(f"selector map {path}: not valid TOML ({exc})") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        raise BrokerError(f"selector map {path}: {'.'.join(map(str, err['loc']))}: {err['msg']}") from None
