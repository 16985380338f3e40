"""The Slack outbox from the command line: deliver it now, or see what waits and what Slack refused."""

from __future__ import annotations

from desk.core.args import FlushArgs, NoArgs
from desk.core.context import CommandContext
from desk.results import FlushResult, OutboxResult, RefusedMessage


def flush(ctx: CommandContext, args: FlushArgs) -> FlushResult:
    """Deliver the outbox now, honouring Slack's Retry-After within ``args.timeout`` seconds."""
    from desk.slack import wiring

    got = wiring.flush(ctx.settings, timeout=args.timeout, force=True, revive=args.revive)
    return FlushResult(sent=got.sent, waiting=got.waiting, dead=got.dead, errors=list(got.errors))


def outbox(ctx: CommandContext, _: NoArgs) -> OutboxResult:
    from memory.outbox import Outbox

    box = Outbox(ctx.store)
    depth = box.depth()
    waiting = box.pending(limit=1)
    return OutboxResult(
        pending=depth["pending"], sent=depth["sent"], dead=depth["dead"],
        next_attempt=waiting[0].next_attempt if waiting else None,
        last_error=waiting[0].last_error if waiting else None,
        refused=[RefusedMessage(id=r.id, kind=r.kind, channel=r.channel, error=r.last_error)
                 for r in box.rows() if r.status == "dead"])
