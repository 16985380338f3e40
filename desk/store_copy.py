"""`desk store copy`: move this home's SQLite desk into a PostgreSQL database (memory.copy does the moving)."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import ValidationError

from desk.config import Settings
from desk.errors import DeskError
from desk.actor import Actor
from desk.core.args import StoreCopyArgs
from desk.core.context import CommandContext
from graph.config import StoreSettings
from memory.copy import StoreCopy, copy_desk
from memory.locks import HomeLock, ServerLock
from memory.store import Store


def store_copy(settings: Settings, *, to: str, force: bool, actor: Actor,
               progress: Callable[[str], None] = lambda msg: None) -> StoreCopy:
    """Copy the home's store and checkpoints into ``to``; audited in the target. Both desks are held (the home's
    book and the target's) while it copies, so no run writes to either meanwhile."""
    try:
        url = StoreSettings(url=to).url
    except ValidationError:
        url = None
    if url is None:
        raise DeskError(f"--to must be a PostgreSQL URL (postgresql://user@host:5432/desk), not {to!r}")
    with HomeLock(settings.home, "book", "copying the store"), ServerLock(url, "book", "receiving a store copy"):
        result = copy_desk(settings.store_path, settings.checkpoint_path, url, force=force, progress=progress)
        target = Store(url)
        try:
            target.audit(str(actor), "store_copy", result.target,
                         f"copied from {result.source}" + (" (replacing the desk it held)" if result.replaced else ""),
                         {"rows": result.rows, "checkpoints": result.checkpoints})
        finally:
            target.close()
    return result


def store_copy_command(ctx: CommandContext, args: StoreCopyArgs) -> StoreCopy:
    """`store copy` for the command core."""
    return store_copy(ctx.settings, to=args.to, force=args.force, actor=ctx.actor, progress=ctx.progress)
