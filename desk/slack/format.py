"""Block Kit messages. Every text that comes from data, a user or a model is escaped and placed in ``plain_text``
objects: an operator's reason, a step summary or an LLM narrative can never become a mention (``<!channel>``), a
link (``<https://…|click>``) or formatting. The desk's own labels are its own text.

Limits kept: a section's text ≤ 3000 characters, a header ≤ 150, at most 50 blocks per message.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from desk.core.render import Rendered
from desk.results import OverrideResult
from memory.overrides import ApprovalRequest

MAX_SECTION, MAX_HEADER, MAX_BLOCKS, MAX_TEXT = 3000, 150, 50, 3000
APPROVE, REJECT, VETO = "desk_approve", "desk_reject", "desk_veto"
PHASE_ICON = {"night": "🌙", "morning": "☀️"}
STATUS_ICON = {"ok": "✅", "error": "❌", "paused": "⏸️", "running": "⏳"}


def when(iso: str | None, zone: str, *, day: bool = True) -> str:
    """A stored UTC time (ISO text) in the desk's time zone: ``2017-03-02 09:45:03 EST`` (``day`` off: the time)."""
    if not iso:
        return "-"
    try:
        at = datetime.fromisoformat(iso).astimezone(ZoneInfo(zone))
    except ValueError:
        return str(iso)
    return at.strftime(f"{'%Y-%m-%d ' if day else ''}%H:%M:%S %Z")


def esc(text: str) -> str:
    """Slack's three control characters as entities: nothing a user typed is read as a mention, link or command."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def plain(text: str, n: int = MAX_SECTION) -> dict[str, Any]:
    return {"type": "plain_text", "text": _cut(esc(text), n) or " ", "emoji": False}


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": plain(text)}


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": plain(text, MAX_HEADER)}


def context(*texts: str) -> dict[str, Any]:
    return {"type": "context", "elements": [plain(t, 300) for t in texts if t][:10] or [plain(" ")]}


def message(fallback: str, blocks: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """A message payload: the notification text (escaped, plain) and its blocks (at most 50)."""
    out = list(blocks)
    if len(out) > MAX_BLOCKS:
        out = out[: MAX_BLOCKS - 1] + [context(f"… {len(out) - MAX_BLOCKS + 1} more not shown")]
    return {"text": _cut(esc(fallback), MAX_TEXT), "blocks": out}


def lines_blocks(lines: list[str]) -> list[dict[str, Any]]:
    """Lines grouped into sections of at most 3000 characters."""
    blocks, chunk = [], ""
    for line in lines:
        if chunk and len(chunk) + len(line) + 1 > MAX_SECTION - 100:
            blocks.append(section(chunk))
            chunk = ""
        chunk = f"{chunk}\n{line}" if chunk else line
    if chunk:
        blocks.append(section(chunk))
    return blocks


# ---------------------------------------------------------------------- runs and steps
def run_parent(run_id: str, kind: str, as_of: str, status: str, lines: Iterable[str] = ()) -> dict[str, Any]:
    icon = PHASE_ICON.get(kind, "⚙️")
    title = f"{icon} {kind} {as_of} — {status}"
    return message(f"{kind} {as_of}: {status}",
                   [header(title), *lines_blocks(list(lines)), context(f"run {run_id}")])


def step(run_id: str, node: str, status: str, summary: str, warnings: list[str], started: str,
         ended: str, zone: str = "America/New_York") -> dict[str, Any]:
    mark = {"ok": "✓", "warning": "⚠"}.get(status, "✗")
    blocks = [section(f"{mark} {node} — {summary}")]
    if warnings:
        blocks += lines_blocks([f"⚠ {w}" for w in warnings])
    blocks.append(context(f"{run_id} · {when(started, zone)} → {when(ended, zone, day=False)}"))
    return message(f"{node}: {summary}", blocks)


def note(text: str, *more: str) -> dict[str, Any]:
    return message(text, [section(text), *lines_blocks(list(more))])


def failure(run_id: str, where: str, why: str) -> dict[str, Any]:
    return message(f"{run_id} failed at {where}: {why}",
                   [header(f"❌ {run_id} failed"), section(f"{where}: {why}")])


# ---------------------------------------------------------------------- approvals
def approval_request(asked: ApprovalRequest, zone: str = "America/New_York") -> dict[str, Any]:
    """The intents of a paused morning with Approve / Reject, and Veto on each entry."""
    run_id = asked.run_id
    entries = [i for i in asked.intents if i.side == "buy"]
    exits = [i for i in asked.intents if i.side == "sell"]
    blocks = [header(f"⏸️ morning {asked.session} waits for approval"),
              section(f"{len(entries)} entries wait for an operator until {when(asked.deadline, zone)}; "
                      f"{len(exits)} exits and stops run whatever is decided. Unapproved by the deadline, no entry "
                      f"is executed.")]
    for n, it in enumerate(entries[:40]):
        price = f" @ ~{it.price:.2f}" if it.price else ""
        blocks.append({"type": "section", "text": plain(f"{it.symbol}: buy {it.quantity:g}{price} "
                                                        f"({it.weight:.1%}) — {it.why}", 600),
                       "accessory": {"type": "button", "action_id": f"{VETO}:{n}", "style": "danger",
                                     "text": plain("Veto", 75), "value": it.intent_id}})
    if exits:
        blocks.append(section("Exits: " + ", ".join(f"{i.symbol} sell {i.quantity:g}" for i in exits)))
    blocks.append({"type": "actions", "block_id": f"approval:{run_id}"[:255], "elements": [
        {"type": "button", "action_id": APPROVE, "style": "primary", "text": plain("Approve", 75), "value": run_id},
        {"type": "button", "action_id": REJECT, "style": "danger", "text": plain("Reject", 75), "value": run_id,
         "confirm": {"title": plain("Reject these entries?", 100), "text": plain(
             "No entry of this morning will be executed; exits and stops still run.", 300),
             "confirm": plain("Reject", 30), "deny": plain("Back", 30)}}]})
    blocks.append(context(f"run {run_id}", "or: /desk approve RUN · /desk reject RUN · desk ops approve RUN"))
    return message(f"morning {asked.session}: {len(entries)} entries wait for approval", blocks)


def approval_decided(asked: ApprovalRequest, zone: str = "America/New_York") -> dict[str, Any]:
    """The approval message once decided: the same intents, no buttons, who decided."""
    entries = [i for i in asked.intents if i.side == "buy"]
    said = {"approve": "✅ approved", "reject": "🚫 rejected", "expired": "⌛ not approved by the deadline"}.get(
        asked.decision, asked.decision)
    lines = [f"{i.symbol}: buy {i.quantity:g}" for i in entries]
    return message(f"morning {asked.session}: {said} by {asked.actor}",
                   [header(f"morning {asked.session}: {said}"),
                    section(f"by {asked.actor} at {when(asked.decided, zone)}" + (f": {asked.reason}"
                                                                             if asked.reason else "")),
                    *lines_blocks(lines), context(f"run {asked.run_id}")])


# ---------------------------------------------------------------------- commands and overrides
def override_echo(r: OverrideResult, zone: str = "America/New_York") -> dict[str, Any]:
    """Who, when, what, why and the effect of an override, for the channel."""
    return message(f"override: {r.action} {r.target} by {r.actor}",
                   [section(f"🛂 {r.action} {r.target} — by {r.actor} at {when(r.at, zone)}"),
                    *lines_blocks(([f"why: {r.reason}"] if r.reason else []) + [f"effect: {r.effect}", *r.details])])


def reply(r: Rendered) -> dict[str, Any]:
    return message(r.title, [section(r.title), *lines_blocks(r.lines)])


def refusal(text: str) -> dict[str, Any]:
    return message(f"refused: {text}", [section(f"⛔ {text}")])
