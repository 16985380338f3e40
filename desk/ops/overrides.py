"""Operators' overrides: veto / unveto an intent, halt / resume the desk, flatten a holding or the book.

Each takes an ``Actor``, refuses with a one-line reason when it cannot take effect, and returns an
``OverrideResult`` saying who, when, what, why and the effect; the caller (``desk.ops.core``) audits and echoes it.
"""

from __future__ import annotations

from desk import commands
from desk.errors import DeskError
from desk.ops.results import OverrideResult
from desk.results import Actor
from memory.decisions import IntentRecord
from memory.overrides import ALL, Overrides
from memory.store import Store, now_utc

NO_REASON = "(no reason given)"


def _result(action: str, target: str, reason: str | None, effect: str, actor: Actor,
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
        raise DeskError(f"{sym} has {len(pending)} pending intents: name one of {', '.join(r.intent_id for r in pending)}")
    raise DeskError(f"no intent {target!r} (and no pending intent for a symbol of that name); see `intents`")


def veto(store: Store, target: str, reason: str | None, actor: Actor) -> OverrideResult:
    row = find_intent(store, target)
    iid = row.intent_id
    if row.side != "buy":
        raise DeskError(f"{iid} is an exit ({row.kind}): exits are never blocked, so they cannot be vetoed; "
                        f"`halt` stops new entries only")
    if row.status != "pending":
        raise DeskError(f"{iid} is {row.status}" + (f" ({row.status_reason})" if row.status_reason else "")
                        + ": only a pending intent can be vetoed")
    overrides = Overrides(store)
    existing = overrides.vetoes([iid]).get(iid)
    if existing is not None:
        raise DeskError(f"{iid} is already vetoed by {existing.actor} at {existing.at}: {existing.reason}")
    why = (reason or "").strip() or NO_REASON
    overrides.veto(iid, str(actor), why)
    return _result("veto", iid, why, f"{row.symbol} {row.side} {row.quantity:g} will not be executed",
                   actor)


def unveto(store: Store, target: str, actor: Actor) -> OverrideResult:
    row = find_intent(store, target)
    iid = row.intent_id
    overrides = Overrides(store)
    existing = overrides.vetoes([iid]).get(iid)
    if existing is None:
        raise DeskError(f"{iid} is not vetoed")
    if row.status != "pending":
        raise DeskError(f"{iid} is already {row.status}: the morning acted on the veto, it cannot be lifted")
    overrides.unveto(iid)
    return _result("unveto", iid, None, f"{row.symbol} {row.side} {row.quantity:g} is back for the next "
                                        f"execution (veto by {existing.actor} lifted)", actor)


def halt(store: Store, reason: str | None, actor: Actor) -> OverrideResult:
    if not (reason or "").strip():
        raise DeskError("a halt needs a reason: halt REASON")
    done = commands.halt(store, reason, actor)
    return _result("halt", "desk", done.reason, "new entries are blocked until `resume` (exits and stops still run; "
                                                "the halt survives restarts)", actor)


def resume(store: Store, actor: Actor) -> OverrideResult:
    done = commands.resume(store, actor)
    cleared = f"; {done.breakers_cleared} circuit breaker(s) cleared" if done.breakers_cleared else ""
    return _result("resume", "desk", None, "new entries are allowed again" + cleared, actor)


def flatten(store: Store, target: str, reason: str | None, actor: Actor) -> OverrideResult:
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
    why = (reason or "").strip() or NO_REASON
    overrides.request_flatten(sym, str(actor), why)
    what = "every holding (" + ", ".join(sorted(held)) + ")" if everything else f"{sym} ({held[sym].quantity:g})"
    extra = "; that morning's new entries are skipped" if everything else f"; no new entry in {sym} that morning"
    return _result("flatten", "all" if everything else sym, why,
                   f"{what} will be sold at the next execution{extra}", actor)
