"""Operators' overrides: veto / unveto an intent, halt / resume the desk, flatten a holding or the book.

Each refuses with a one-line reason when it cannot take effect, and returns an ``OverrideResult`` saying who, when,
what, why and the effect; the core (``desk.core.core``) audits and echoes it, whichever door it came through.
"""

from __future__ import annotations

from desk.actor import Actor
from desk.core.args import FlattenArgs, HaltArgs, NoArgs, UnvetoArgs, VetoArgs
from desk.core.context import CommandContext
from desk.results import OverrideResult
from graph.errors import DeskError
from memory.decisions import IntentRecord
from memory.overrides import ALL, Overrides
from memory.store import Store, now_utc

NO_REASON = "(no reason given)"


def result(action: str, target: str, reason: str | None, effect: str, actor: Actor,
           details: list[str] | None = None) -> OverrideResult:
    return OverrideResult(action=action, target=target, reason=reason, effect=effect, actor=str(actor), at=now_utc(),
                          details=details or [])


def find_intent(store: Store, target: str) -> IntentRecord:
    """An intent by id, or the one pending entry of a symbol; else a one-line error naming the candidates."""
    row = store.intent(target)
    if row is not None:
        return row
    sym = target.upper()
    pending = [r for r in store.intents(status="pending") if r.symbol == sym]
    if len(pending) == 1:
        return pending[0]
    if len(pending) > 1:
        raise DeskError(f"{sym} has {len(pending)} pending intents: name one of "
                        f"{', '.join(r.intent_id for r in pending)}")
    raise DeskError(f"no intent {target!r} (and no pending intent for a symbol of that name); see `intents`")


def veto(ctx: CommandContext, args: VetoArgs) -> OverrideResult:
    row = find_intent(ctx.store, args.intent)
    iid = row.intent_id
    if row.side != "buy":
        raise DeskError(f"{iid} is an exit ({row.kind}): exits are never blocked, so they cannot be vetoed; "
                        f"`halt` stops new entries only")
    if row.status != "pending":
        raise DeskError(f"{iid} is {row.status}" + (f" ({row.status_reason})" if row.status_reason else "")
                        + ": only a pending intent can be vetoed")
    overrides = Overrides(ctx.store)
    existing = overrides.vetoes([iid]).get(iid)
    if existing is not None:
        raise DeskError(f"{iid} is already vetoed by {existing.actor} at {existing.at}: {existing.reason}")
    why = (args.reason or "").strip() or NO_REASON
    overrides.veto(iid, str(ctx.actor), why)
    return result("veto", iid, why, f"{row.symbol} {row.side} {row.quantity:g} will not be executed",
                  ctx.actor)


def unveto(ctx: CommandContext, args: UnvetoArgs) -> OverrideResult:
    row = find_intent(ctx.store, args.intent)
    iid = row.intent_id
    overrides = Overrides(ctx.store)
    existing = overrides.vetoes([iid]).get(iid)
    if existing is None:
        raise DeskError(f"{iid} is not vetoed")
    if row.status != "pending":
        raise DeskError(f"{iid} is already {row.status}: the morning acted on the veto, it cannot be lifted")
    overrides.unveto(iid)
    return result("unveto", iid, None, f"{row.symbol} {row.side} {row.quantity:g} is back for the next "
                                       f"execution (veto by {existing.actor} lifted)", ctx.actor)


def halt(ctx: CommandContext, args: HaltArgs) -> OverrideResult:
    ctx.store.set_halted(True, args.reason, str(ctx.actor))
    return result("halt", "desk", args.reason, "new entries are blocked until `resume` (exits and stops still run; "
                                               "the halt survives restarts)", ctx.actor)


def resume(ctx: CommandContext, _: NoArgs) -> OverrideResult:
    """Lift an operator's halt and clear any circuit breaker early (both audited)."""
    store = ctx.store
    halted, breakers = store.desk_state().halted, store.breakers()
    if not halted and not breakers:
        raise DeskError("the desk is not halted and no circuit breaker is set")
    if halted:
        store.set_halted(False, None, str(ctx.actor))
    cleared = store.clear_breakers(str(ctx.actor), "operator resume")
    more = f"; {cleared} circuit breaker(s) cleared" if cleared else ""
    return result("resume", "desk", None, "new entries are allowed again" + more, ctx.actor)


def flatten(ctx: CommandContext, args: FlattenArgs) -> OverrideResult:
    store, target = ctx.store, args.target
    held = store.positions()
    everything = target.lower() == "all"
    sym = ALL if everything else target.upper()
    if everything and not held:
        raise DeskError("nothing is held: there is nothing to flatten")
    if not everything and sym not in held:
        raise DeskError(f"{sym} is not held" + (f"; holdings: {', '.join(sorted(held))}" if held else
                                                 "; nothing is held"))
    overrides = Overrides(store)
    for req in overrides.open_flattens():
        if req.symbol in (sym, ALL):
            raise DeskError(f"a flatten of {'the book' if req.symbol == ALL else req.symbol} is already "
                            f"pending (asked by {req.actor} at {req.at})")
    why = (args.reason or "").strip() or NO_REASON
    overrides.request_flatten(sym, str(ctx.actor), why)
    what = "every holding (" + ", ".join(sorted(held)) + ")" if everything else f"{sym} ({held[sym].quantity:g})"
    extra = "; that morning's new entries are skipped" if everything else f"; no new entry in {sym} that morning"
    return result("flatten", "all" if everything else sym, why,
                  f"{what} will be sold at the next execution{extra}", ctx.actor)
