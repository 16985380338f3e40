"""The operations command core, apart from transport: parse a command line, authorise the actor, call the command,
audit and echo an override. Slack (``desk.slack``) and the command line (``desk ops …``) only parse transport and
format the typed result (``desk.ops.render``).

Who may do what (DESIGN §5.6): a mutating command only from an operator (``slack.operators``, Slack user ids); a
read-only one from an operator, a reader (``slack.readers``: user ids) or in a reader channel (``slack.readers``:
channel ids). The command line's user owns DESK_HOME and may do everything; so may the scheduler. A refusal says who
and why, and is written to the audit log.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from desk.commands import parse_date, why
from desk.config import Settings
from desk.errors import DeskError
from desk.ops import overrides, read, runs
from desk.ops.results import AskResult, CommandInfo, HelpResult, OpsResult, OverrideResult
from desk.results import Actor
from graph.reporting import Reporter
from memory.store import Store, open_store

log = logging.getLogger("desk.ops")
Chat = Callable[[Settings, str], str]
Listener = Callable[[OverrideResult], None]
TRUSTED = ("cli", "scheduler")  # the machine's own user and the desk's own clock


@dataclass(frozen=True)
class Spec:
    name: str
    usage: str
    help: str
    mutating: bool = False
    long: bool = False  # acknowledged at once, answered when done (runs a graph or asks an LLM)
    least: int = 0
    most: int | None = 0  # None: the rest of the line is one free-text argument


SPECS = {s.name: s for s in (
    Spec("help", "help", "the commands and who may use them"),
    Spec("status", "status", "halted or not, breakers, the book, runs waiting for approval, pending overrides"),
    Spec("positions", "positions", "holdings with their latest close, P&L and stop"),
    Spec("intents", "intents [DATE]", "the night's intents and what became of them", most=1),
    Spec("why", "why SYMBOL|INTENT", "the full reason chain behind an intent", least=1, most=1),
    Spec("weather", "weather", "the latest night's regime, layers and narrative"),
    Spec("agents", "agents", "each agent's proposals and the overlay's verdicts on the latest night"),
    Spec("pnl", "pnl [day|week|month|ytd|all]", "the book's change over a period", most=1),
    Spec("runs", "runs [N]", "the latest runs and their status", most=1),
    Spec("veto", "veto INTENT [REASON]", "skip a pending entry at the next execution", True, least=1, most=None),
    Spec("unveto", "unveto INTENT", "lift a veto before the morning acts on it", True, least=1, most=1),
    Spec("approve", "approve [RUN]", "let a morning paused for approval execute its entries", True, True, most=1),
    Spec("reject", "reject [RUN] [REASON]", "run a paused morning's exits and stops only", True, True, most=None),
    Spec("halt", "halt REASON", "block new entries until resume (exits and stops still run)", True, least=1,
         most=None),
    Spec("resume", "resume", "allow new entries again; clears tripped circuit breakers", True),
    Spec("flatten", "flatten SYMBOL|all [REASON]", "sell a holding (or all) at the next execution", True, least=1,
         most=None),
    Spec("run", "run night|morning [DATE]", "run a graph for a date (once: a finished run is not repeated)", True,
         True, least=1, most=2),
    Spec("ask", "ask QUESTION", "a free question to the chat agent (needs an LLM provider)", long=True, least=1,
         most=None),
)}


@dataclass(frozen=True)
class Request:
    name: str
    args: tuple[str, ...]
    rest: str  # the text after the first argument, as typed (free-text reasons and questions)

    @property
    def spec(self) -> Spec:
        return SPECS[self.name]


class Refused(DeskError):
    """The actor may not use this command here."""


def parse(text: str) -> Request:
    """A command line (`why XOM`, `veto 2017-03-01:XOM:buy:entry news pending`) → a checked request. Words are split
    on white space; a free-text reason or question is the rest of the line as typed (quotes and apostrophes kept)."""
    words = text.split()
    if not words:
        return Request("help", (), "")
    name = words[0].lower()
    if name not in SPECS:
        hint = difflib.get_close_matches(name, SPECS, n=1)
        raise DeskError(f"unknown command {_short(words[0])!r}" + (f": did you mean {hint[0]}?" if hint else "")
                        + " (`help` lists them)")
    spec, args = SPECS[name], tuple(words[1:])
    if len(args) < spec.least or (spec.most is not None and len(args) > spec.most):
        raise DeskError(f"usage: {spec.usage}")
    rest = text.strip().split(None, 1)
    return Request(name, args, rest[1].strip() if len(rest) > 1 else "")


def _short(text: str, n: int = 40) -> str:
    return text if len(text) <= n else text[:n] + "…"


def authorize(settings: Settings, actor: Actor, spec: Spec, channel: str | None = None) -> None:
    if actor.via in TRUSTED:
        return
    slack = settings.slack
    if actor.who in slack.operators:
        return
    if spec.mutating:
        raise Refused(f"only operators may `{spec.name}`: {actor.who} is not in slack.operators (ask an operator, "
                      f"or have one add your member id)")
    if actor.who in slack.readers or (channel is not None and channel in slack.readers):
        return
    raise Refused(f"{actor.who} may not read the desk" + (f" in {channel}" if channel else "")
                  + ": neither the user nor the channel is in slack.readers")


class Ops:
    """The command core of one home, with the parts it is handed: the chat agent ``ask`` uses, the reporters a run
    started from here reports to, and listeners that hear every override (the Slack echo)."""

    def __init__(self, settings: Settings, *, chat: Chat | None = None, reporters: Sequence[Reporter] = (),
                 listeners: Sequence[Listener] = ()) -> None:
        self.settings = settings
        self.chat = chat
        self.reporters = list(reporters)
        self.listeners = list(listeners)

    def check(self, request: Request, actor: Actor, channel: str | None = None) -> None:
        """Authorise ``actor``; a refusal is audited and raised (a transport checks before acknowledging a long
        command)."""
        try:
            authorize(self.settings, actor, request.spec, channel)
        except Refused as refused:
            store = open_store(self.settings)
            try:
                store.audit(str(actor), "refused", request.name, str(refused),
                            {"args": list(request.args), "channel": channel})
            finally:
                store.close()
            raise

    def handle(self, request: Request, actor: Actor, channel: str | None = None) -> OpsResult:
        """Authorise, run, audit: the one door every transport goes through."""
        self.check(request, actor, channel)
        store = open_store(self.settings)
        try:
            result = self._call(store, request, actor)
            if isinstance(result, OverrideResult):
                store.audit(str(actor), "override", f"{result.action} {result.target}", result.reason,
                            {"effect": result.effect, "via": actor.via, "channel": channel, "at": result.at})
        finally:
            store.close()
        if isinstance(result, OverrideResult):
            for listen in self.listeners:
                try:
                    listen(result)
                except Exception as exc:  # an echo that fails never undoes the override
                    log.warning("override listener %s failed: %s", listen, exc)
        return result

    def run_text(self, text: str, actor: Actor, channel: str | None = None) -> OpsResult:
        return self.handle(parse(text), actor, channel)

    def _call(self, store: Store, r: Request, actor: Actor) -> OpsResult:
        a, s = r.args, self.settings
        rest_after_first = r.rest.split(None, 1)[1] if len(r.rest.split(None, 1)) > 1 else None
        match r.name:
            case "help":
                return HelpResult(commands=[CommandInfo(name=x.name, usage=x.usage, help=x.help, mutating=x.mutating,
                                                        long=x.long) for x in SPECS.values()])
            case "status":
                return read.status(store, s)
            case "positions":
                return read.positions(store)
            case "intents":
                return read.intents(store, parse_date(a[0]) if a else None)
            case "why":
                return why(store, a[0])
            case "weather":
                return read.weather(store, s)
            case "agents":
                return read.agents(store)
            case "pnl":
                return read.pnl(store, a[0] if a else None, s.broker.initial_cash)
            case "runs":
                return read.runs(store, _count(a[0]) if a else 10)
            case "veto":
                return overrides.veto(store, a[0], rest_after_first, actor)
            case "unveto":
                return overrides.unveto(store, a[0], actor)
            case "halt":
                return overrides.halt(store, r.rest, actor)
            case "resume":
                return overrides.resume(store, actor)
            case "flatten":
                return overrides.flatten(store, a[0], rest_after_first, actor)
            case "approve":
                return runs.decide(s, a[0] if a else None, "approve", actor, reporters=self.reporters)
            case "reject":
                run_id = a[0] if a and store.run(a[0]) is not None else None
                reason = rest_after_first if run_id else (r.rest or None)
                return runs.decide(s, run_id, "reject", actor, reason, reporters=self.reporters)
            case "run":
                return runs.run_once(s, a[0].lower(), parse_date(a[1]) if len(a) > 1 else None, actor,
                                     reporters=self.reporters)
            case "ask":
                return ask(s, r.rest, self.chat)
        raise DeskError(f"unknown command {r.name!r}")  # unreachable: parse checked the name


def _count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise DeskError(f"not a number of runs: {text!r}") from None
    if not 1 <= n <= 200:
        raise DeskError("runs N: N from 1 to 200")
    return n


def ask(settings: Settings, question: str, chat: Chat | None = None) -> AskResult:
    """A free question for the chat agent — the same as `desk ask` (``desk.commands.ask``: a tool-calling LLM over
    the desk's record and tools), or ``chat`` when one is injected. Without an LLM provider: refused in one line."""
    if chat is not None:
        return AskResult(question=question, answer=chat(settings, question))
    from desk.commands import ask as desk_ask

    got = desk_ask(settings, question)
    tools = f" (tools: {', '.join(got.tools_used)})" if got.tools_used else ""
    return AskResult(question=question, answer=got.answer + tools)
