"""What the core knows of one command: its typed input, its result, what it does to the desk, and who may call it.

``effect`` decides how the core treats a call, whichever door it came through:

| effect       | who may call it                                 | audited                              | echoed |
| ------------ | ----------------------------------------------- | ------------------------------------ | ------ |
| ``read``     | operators, readers (users or channels), the CLI | no (a refusal is)                    | no     |
| ``override`` | operators and the CLI's user                    | once it took effect, with the effect | yes    |
| ``job``      | operators, the CLI's user and the scheduler     | when its checks passed and its work  | no (it |
|              |                                                 | starts (``ctx.begin``), else once    | reports|
|              |                                                 | it is done; bad input is never       | itself)|
|              |                                                 | audited: it changes nothing          |        |

``doors`` says which doors (``Actor.via``) may call a command at all: the command line's long offline jobs are served
to the command line and the scheduler only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from desk.core.args import Args

if TYPE_CHECKING:
    from desk.core.context import CommandContext

Effect = Literal["read", "override", "job"]
CHAT = frozenset({"cli", "slack", "scheduler", "web", "mcp"})  # every door
LOCAL = frozenset({"cli", "scheduler"})                      # the machine's own user and clock only


@dataclass(frozen=True)
class Command:
    name: str
    args: type[Args]
    run: Callable[[CommandContext, Any], Any]
    effect: Effect
    usage: str
    help: str
    long: bool = False  # acknowledged at once, answered when done (runs a graph or asks an LLM)
    doors: frozenset[str] = CHAT
    words: tuple[str, ...] = ()   # a chat line's words, in order, fill these fields
    rest: str | None = None       # ... and the rest of the line, as typed, fills this one
    least: int = 0                # words a chat line must give
    fixed: dict[str, Any] = field(default_factory=dict)  # what a chat line always sets (run: once)
    target: Callable[[Any], str] = lambda args: ""       # what an audit row names
    private: frozenset[str] = frozenset()                 # arguments never written to the audit log (a URL's password)

    @property
    def mutating(self) -> bool:
        return self.effect != "read"
