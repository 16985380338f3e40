"""A chat line (``/desk …`` in Slack, ``desk ops …``) → a command's name and its arguments. Words are split on white
space; a free-text reason or question is the rest of the line as typed (quotes and apostrophes kept). The arguments
are checked by the command's own model, as every door's are (``desk.core.core.checked``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from desk.core.catalog import CHAT_COMMANDS, COMMANDS
from desk.core.command import Command
from desk.core.core import command
from graph.errors import DeskError

if TYPE_CHECKING:
    from desk.actor import Actor
    from desk.core.core import Core

RUN_ID = re.compile(r"^(night|morning)-\d{4}-\d{2}-\d{2}-[0-9a-f]{6}$")


@dataclass(frozen=True)
class Request:
    name: str
    args: dict[str, Any]
    said: str = ""  # the line after the command's name, as typed

    @property
    def command(self) -> Command:
        return COMMANDS[self.name]


def parse(text: str) -> Request:
    """`why XOM`, `veto 2017-03-01:XOM:buy:entry news pending`, `reject the Fed speaks` → a request."""
    words = text.split()
    if not words:
        return Request("help", {})
    cmd = command(words[0])
    if cmd.name not in CHAT_COMMANDS:
        raise DeskError(f"unknown command {words[0]!r} in chat (`help` lists them)")
    given = words[1:]
    most = None if cmd.rest else len(cmd.words)
    if len(given) < cmd.least or (most is not None and len(given) > most):
        raise DeskError(f"usage: {cmd.usage}")
    rest_of_line = text.strip().split(None, 1)[1].strip() if len(given) else ""
    fields: dict[str, Any] = dict(cmd.fixed)
    if cmd.name == "reject" and given and not RUN_ID.match(given[0]):
        fields["reason"] = rest_of_line  # `reject REASON`: no run named, the whole line is the reason
        return Request(cmd.name, fields, rest_of_line)
    taken = min(len(given), len(cmd.words))
    fields.update(zip(cmd.words[:taken], given[:taken], strict=True))
    if cmd.rest:
        rest = rest_of_line
        for _ in range(taken):  # drop the positional words, keep the rest as typed
            rest = rest.split(None, 1)[1] if len(rest.split(None, 1)) > 1 else ""
        if rest.strip():
            fields[cmd.rest] = rest.strip()
    return Request(cmd.name, fields, rest_of_line)


def run_line(core: Core, text: str, actor: Actor, channel: str | None = None) -> Any:
    """Parse a chat line and execute it through ``core``: what `desk ops` and Slack's quick commands do."""
    request = parse(text)
    return core.execute(request.name, request.args, actor, channel=channel)
