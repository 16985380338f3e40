"""Who asked: every command is called with an ``Actor``, which the command core authorises and audits."""

from __future__ import annotations

import getpass
import os

from pydantic import BaseModel, ConfigDict, Field

Via = str  # the door: cli, slack, scheduler, web, mcp


class Actor(BaseModel):
    """Who asked for a command, and through which door; written to the audit log with every mutating command."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    who: str = Field(min_length=1)
    via: Via = Field(min_length=1, description="cli, slack, scheduler, web, mcp")

    @classmethod
    def local(cls) -> Actor:
        """The user running the command line."""
        try:
            who = getpass.getuser()
        except (KeyError, OSError):  # a container user with no passwd entry
            who = f"uid{os.getuid()}"
        return cls(who=who, via="cli")

    def __str__(self) -> str:
        return f"{self.via}:{self.who}"
