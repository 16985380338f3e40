"""The command core: every door (the command line, ``desk ops``, Slack, the dashboard's API, an MCP server) calls
``Core.execute`` with a command's name, its arguments and an ``Actor``, and renders the typed result it gets back or
the one-line ``DeskError`` it raises. Authorising, auditing and echoing happen here, once, the same for every door.

Who may do what (``slack.operators``, ``slack.readers``): a mutating command (an override or a job) only from an
operator; a read-only one from an operator, a reader (a user id) or in a reader channel (a channel id). The command
line's user owns DESK_HOME and may do everything; so may the scheduler. A refusal says who and why, and is audited.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from desk.actor import Actor
from desk.config import Settings
from desk.core.catalog import COMMANDS
from desk.core.command import Command
from desk.core.context import CommandContext, Progress, quiet
from desk.results import OverrideResult, Result
from graph.errors import DeskError

if TYPE_CHECKING:
    from graph.reporting import Reporter

log = logging.getLogger("desk.core")
Listener = Callable[[OverrideResult], None]
TRUSTED = ("cli", "scheduler")  # the machine's own user and the desk's own clock
LOOPBACK_VIEWER = "loopback"  # the dashboard's reader on a loopback address when nobody logged in (reads only)


class Refused(DeskError):
    """The actor may not use this command here; the message says who and why."""


def command(name: str) -> Command:
    """The command called ``name``; an unknown one is one line with the closest name."""
    found = COMMANDS.get(name.lower())
    if found is None:
        hint = difflib.get_close_matches(name.lower(), COMMANDS, n=1)
        shown = name if len(name) <= 40 else name[:40] + "…"
        raise DeskError(f"unknown command {shown!r}" + (f": did you mean {hint[0]}?" if hint else "")
                        + " (`help` lists them)")
    return found


def checked(cmd: Command, args: BaseModel | Mapping[str, Any] | None) -> BaseModel:
    """``args`` as the command's argument model: a mapping (JSON, a chat line's fields) is validated; a value that
    does not fit is one line."""
    if isinstance(args, cmd.args):
        return args
    try:
        return cmd.args.model_validate(dict(args or {}))
    except ValidationError as exc:
        e = exc.errors()[0]
        where = ".".join(str(p) for p in e["loc"])
        raise DeskError(f"{cmd.name}: {where + ': ' if where else ''}{e['msg']} (usage: {cmd.usage})") from None


def authorize(settings: Settings, actor: Actor, cmd: Command, channel: str | None = None) -> None:
    if actor.via not in cmd.doors:
        raise Refused(f"`{cmd.name}` is not served to {actor.via}: use the desk command line on its host")
    if actor.via in TRUSTED:
        return
    if actor.via == "web" and actor.who == LOOPBACK_VIEWER and not cmd.mutating:
        return  # the dashboard on a loopback address, nobody logged in: the host's own user, reading
    slack = settings.slack
    if actor.who in slack.operators:
        return
    if cmd.mutating:
        raise Refused(f"only operators may `{cmd.name}`: {actor.who} is not in slack.operators (ask an operator, "
                      f"or have one add your member id)")
    if actor.who in slack.readers or (channel is not None and channel in slack.readers):
        return
    raise Refused(f"{actor.who} may not read the desk" + (f" in {channel}" if channel else "")
                  + ": neither the user nor the channel is in slack.readers")


class Core:
    """The command core of one home, with the parts it is handed: the reporters a run started from here reports
    to, and listeners that hear every override (the Slack echo)."""

    def __init__(self, settings: Settings, *, reporters: Sequence[Reporter] = (),
                 listeners: Sequence[Listener] = (), clock: Callable[[], datetime] | None = None) -> None:
        self.settings = settings
        self.reporters = list(reporters)
        self.listeners = list(listeners)
        self.clock = clock  # the wall clock (tests hand in their own; None: the real one)

    def check(self, name: str, actor: Actor, channel: str | None = None) -> Command:
        """Authorise ``actor`` for ``name``; a refusal is audited and raised (a door checks before acknowledging a
        long command)."""
        cmd = command(name)
        try:
            authorize(self.settings, actor, cmd, channel)
        except Refused as refused:
            self._audit(actor, "refused", cmd.name, str(refused), {"channel": channel})
            raise
        return cmd

    def execute(self, name: str, args: BaseModel | Mapping[str, Any] | None, actor: Actor, *,
                channel: str | None = None, progress: Progress = quiet) -> Result | BaseModel:
        """Authorise, run, audit, echo: the one way in for every door."""
        cmd = self.check(name, actor, channel)
        given = checked(cmd, args)
        payload = {"args": given.model_dump(mode="json", exclude=set(cmd.private)), "channel": channel}

        def begin(c: CommandContext, target: str) -> None:
            self._audit(actor, cmd.name, target, None, payload, c)

        ctx = CommandContext(self.settings, actor, channel, self.reporters, progress,
                             now=self.clock() if self.clock else None,
                             on_begin=begin if cmd.effect == "job" else None)
        try:
            result: Result | BaseModel = cmd.run(ctx, given)
            if cmd.effect == "job" and not ctx.begun:
                ctx.begin(cmd.target(given))  # a job that did not say when it started is audited once it is done
            if isinstance(result, OverrideResult):
                self._audit(actor, "override", f"{result.action} {result.target}", result.reason,
                            {"effect": result.effect, "via": actor.via, "channel": channel, "at": result.at}, ctx)
        finally:
            ctx.close()
        if isinstance(result, OverrideResult):
            self.echo(result)
        return result

    def echo(self, result: OverrideResult) -> None:
        for listen in self.listeners:
            try:
                listen(result)
            except Exception as exc:  # noqa: BLE001 - an echo that fails never undoes the override
                log.warning("override listener %s failed: %s", listen, exc)

    def _audit(self, actor: Actor, action: str, target: str | None, reason: str | None,
               payload: Mapping[str, Any], ctx: CommandContext | None = None) -> None:
        own = ctx or CommandContext(self.settings, actor)
        try:
            own.store.audit(str(actor), action, target, reason, dict(payload))
        finally:
            if ctx is None:
                own.close()
