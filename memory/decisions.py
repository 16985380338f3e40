"""Intents and verdicts: what each night decided — the agents' proposals, the overlay's verdicts, the scored picks
and the intents the morning executes (each with its full reason chain in its payload)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from functools import cached_property
from typing import Any, Protocol

from memory.db import Database
from memory.records import Record
from vocab.contracts import Denial, Intent, Proposal, Verdict
from vocab.terms import Action, IntentKind, IntentStatus, Side, VerdictDecision


class ProposalRecord(Record):
    """An agent's (non-HOLD) proposal of one night; ``proposal`` is the whole Proposal."""

    key: str
    run_id: str
    as_of: date
    symbol: str
    agent: str
    action: Action
    strength: float
    confidence: float
    payload: str

    @cached_property
    def proposal(self) -> Proposal:
        return Proposal.model_validate_json(self.payload)


class VerdictRecord(Record):
    """The overlay's verdict on one proposal; ``verdict`` is the whole Verdict (provenance included)."""

    id: int
    run_id: str
    as_of: date
    proposal_key: str
    decision: VerdictDecision
    size_multiplier: float
    reason: str
    provider: str
    fallback: bool
    payload: str

    @cached_property
    def verdict(self) -> Verdict:
        return Verdict.model_validate_json(self.payload)


class PickRecord(Record):
    """A scored pick of one night (selected or not); ``detail`` is what the picks node recorded with it."""

    id: int
    run_id: str
    as_of: date
    symbol: str
    score: float
    threshold: float
    selected: bool
    horizon_days: int
    reference_price: float
    payload: str

    @cached_property
    def detail(self) -> dict[str, Any]:
        data = json.loads(self.payload)
        return data if isinstance(data, dict) else {}


class IntentRecord(Record):
    """An intent as the store holds it: its execution status beside the Intent (``intent``) the night wrote."""

    intent_id: str
    run_id: str
    as_of: date
    symbol: str
    side: Side
    kind: IntentKind
    quantity: float
    status: IntentStatus
    status_reason: str | None
    payload: str

    @cached_property
    def intent(self) -> Intent:
        return Intent.model_validate_json(self.payload)


class SelectedPick(Record):
    """A pick the night selected, as the adaptive threshold's hit rate reads it."""

    as_of: date
    symbol: str
    horizon_days: int
    reference_price: float
    score: float


class VerdictBrief(Record):
    decision: VerdictDecision
    size_multiplier: float
    reason: str
    provider: str
    fallback: bool


class NightProposal(Record):
    """One proposal of a night with the overlay's verdict on it (None when there is none)."""

    key: str
    symbol: str
    agent: str
    action: str
    strength: float
    confidence: float
    rationale: str | None
    verdict: VerdictBrief | None


class ProposalBrief(Record):
    """Who proposed what on a symbol one night, and with which model version."""

    agent: str
    action: str
    model_version: str | None


class DeniedPick(Record):
    """A selected pick that was not entered, and the denials that kept it out (``desk why`` on a symbol)."""

    as_of: date
    score: float
    denials: list[Denial]


class Decision(Record):
    """A reviewed entry proposal: the raw material of the desk's track record."""

    as_of: date
    symbol: str
    agent: str
    action: Action
    horizon_days: int | None
    decision: VerdictDecision
    size_multiplier: float


class DecisionStore(Protocol):
    """The store's record of what each night decided."""

    def save_proposals(self, run_id: str, as_of: date, proposals: Iterable[Proposal]) -> None: ...
    def save_verdicts(self, run_id: str, as_of: date, verdicts: Iterable[Verdict]) -> None: ...
    def save_picks(self, run_id: str, as_of: date, rows: Iterable[Mapping[str, Any]]) -> None: ...
    def save_intents(self, run_id: str, intents: Iterable[Intent]) -> None: ...
    def set_intent_status(self, intent_id: str, status: IntentStatus, reason: str | None) -> None: ...
    def proposals(self, as_of: date | None = None) -> list[ProposalRecord]: ...
    def verdicts(self, as_of: date | None = None) -> list[VerdictRecord]: ...
    def picks(self, as_of: date | None = None) -> list[PickRecord]: ...
    def save_pick_denials(self, as_of: date, denials: Mapping[str, Sequence[Mapping[str, str]]]) -> None: ...
    def latest_denied_pick(self, symbol: str) -> DeniedPick | None: ...
    def intents(self, as_of: date | None = None, status: str | None = None) -> list[IntentRecord]: ...
    def intent(self, intent_id: str) -> IntentRecord | None: ...
    def proposals_for(self, as_of: date, symbol: str) -> list[ProposalBrief]: ...
    def night_proposals(self, as_of: date) -> list[NightProposal]: ...
    def latest_night(self, *, finished: bool = False) -> date | None: ...
    def decisions_between(self, start: date, end: date) -> list[Decision]: ...


def _json(value: Any) -> str:
    return json.dumps(value, default=str, separators=(",", ":"))


class Decisions:
    """``DecisionStore`` over the store's database (a part of ``memory.store.Store``)."""

    db: Database
    _picks: Any   # the store's day memo of selected picks

    def transaction(self) -> Any: ...

    def _select(self, table: str, order: str, **equals: Any) -> list[dict[str, Any]]: ...

    def save_proposals(self, run_id: str, as_of: date, proposals: Iterable[Proposal]) -> None:
        """The night's proposals for ``as_of``; a re-run for the date replaces them (never counted twice)."""
        rows = [{"key": p.key, "run_id": run_id, "as_of": p.as_of.isoformat(), "symbol": p.symbol, "agent": p.agent,
                 "action": str(p.action), "strength": p.strength, "confidence": p.confidence,
                 "payload": p.model_dump_json()} for p in proposals]
        with self.transaction():
            self.db.execute("DELETE FROM proposals WHERE as_of = ?", [as_of.isoformat()])
            self.db.upsert("proposals", rows, ("key",))

    def save_verdicts(self, run_id: str, as_of: date, verdicts: Iterable[Verdict]) -> None:
        """The night's verdicts for ``as_of``; a re-run for the date replaces them."""
        rows = [{"run_id": run_id, "as_of": as_of.isoformat(), "proposal_key": v.proposal_key,
                 "decision": v.decision, "size_multiplier": v.size_multiplier, "reason": v.reason,
                 "provider": v.provenance.provider, "fallback": int(v.provenance.fallback),
                 "payload": v.model_dump_json()} for v in verdicts]
        with self.transaction():
            self.db.execute("DELETE FROM verdicts WHERE as_of = ?", [as_of.isoformat()])
            self.db.insert("verdicts", rows)

    _PICK_COLS = ("as_of", "symbol", "horizon_days", "reference_price", "score")

    def save_picks(self, run_id: str, as_of: date, rows: Iterable[Mapping[str, Any]]) -> None:
        """The night's picks for ``as_of``; a re-run for the date replaces them, so the hit rate counts each once."""
        with self.transaction():
            kept = self._picks.write(self.db)
            self.db.execute("DELETE FROM picks WHERE as_of = ?", [as_of.isoformat()])
            written = [{"run_id": run_id, "as_of": as_of.isoformat(),
                        **{k: v for k, v in r.items() if k != "payload"}, "payload": _json(r.get("payload", {}))}
                       for r in rows]
            self.db.insert("picks", written)
        if kept is not None:
            self._picks.rewrote(as_of, [tuple(r[c] for c in self._PICK_COLS) for r in written if r.get("selected")])

    def save_intents(self, run_id: str, intents: Iterable[Intent]) -> None:
        rows = [{"intent_id": i.intent_id, "run_id": run_id, "as_of": i.as_of.isoformat(), "symbol": i.symbol,
                 "side": i.side, "kind": i.kind, "quantity": i.quantity, "status": "pending", "status_reason": None,
                 "payload": i.model_dump_json()} for i in intents]
        self.db.upsert("intents", rows, ("intent_id",))

    def set_intent_status(self, intent_id: str, status: IntentStatus, reason: str | None) -> None:
        self.db.execute("UPDATE intents SET status=?, status_reason=? WHERE intent_id=?", [status, reason, intent_id])

    # ---------------------------------------------------------------- reading
    def proposals(self, as_of: date | None = None) -> list[ProposalRecord]:
        """Every recorded (non-HOLD) proposal, or one night's."""
        return ProposalRecord.from_rows(self._select("proposals", "as_of, key", as_of=as_of))

    def verdicts(self, as_of: date | None = None) -> list[VerdictRecord]:
        """Every recorded overlay verdict, or one night's."""
        return VerdictRecord.from_rows(self._select("verdicts", "as_of, id", as_of=as_of))

    def picks(self, as_of: date | None = None) -> list[PickRecord]:
        """Every scored pick (selected or not), or one night's."""
        return PickRecord.from_rows(self._select("picks", "as_of, id", as_of=as_of))

    def save_pick_denials(self, as_of: date, denials: Mapping[str, Sequence[Mapping[str, str]]]) -> None:
        """What became of the night's selected picks that were not entered: each one's denials (rule, reason) kept
        in its pick's payload, so ``desk why`` can say why a candidate was not bought, in a replay store too."""
        if not denials:
            return
        with self.transaction():
            for pick_id, symbol, payload in self.db.execute(
                    "SELECT id, symbol, payload FROM picks WHERE as_of = ? AND selected = 1",
                    [as_of.isoformat()]).fetchall():
                if symbol in denials:
                    body = {**json.loads(payload), "denials": list(denials[symbol])}
                    self.db.execute("UPDATE picks SET payload = ? WHERE id = ?", [_json(body), pick_id])

    def latest_denied_pick(self, symbol: str) -> DeniedPick | None:
        """The latest selected pick of ``symbol`` that was denied: as_of, score and its denials."""
        for as_of, score, payload in self.db.execute(
                "SELECT as_of, score, payload FROM picks WHERE symbol = ? AND selected = 1 AND payload LIKE ? "
                "ORDER BY as_of DESC", [symbol, '%"denials"%']).fetchall():
            found = json.loads(payload).get("denials")
            if found:
                return DeniedPick(as_of=as_of, score=score, denials=found)
        return None

    def picks_between(self, start: date, end: date, *, arrays: bool = False) -> Any:
        """The selected picks made in [start, end]: records (``SelectedPick``), or with ``arrays`` numpy columns
        (``as_of`` as datetime64[D]) for the nightly hit rate. Read through a per-day memo (``_DayMemo``): each night
        fetches only the new days."""
        found = self._picks.between(self.db, start, end, arrays)
        return found if arrays else [SelectedPick(as_of=d, symbol=s, horizon_days=h, reference_price=p, score=sc)
                                     for d, s, h, p, sc in found]

    def intents(self, as_of: date | None = None, status: str | None = None) -> list[IntentRecord]:
        return IntentRecord.from_rows(self._select("intents", "intent_id", as_of=as_of, status=status))

    def intent(self, intent_id: str) -> IntentRecord | None:
        rows = self.db.query("SELECT * FROM intents WHERE intent_id=?", [intent_id])
        return IntentRecord.from_row(rows[0]) if rows else None

    def proposals_for(self, as_of: date, symbol: str) -> list[ProposalBrief]:
        """The night's recorded (non-HOLD) proposals for one symbol: agent, action, model version."""
        return [ProposalBrief(agent=agent, action=action, model_version=json.loads(payload).get("model_version"))
                for agent, action, payload in self.db.execute(
                    "SELECT agent, action, payload FROM proposals WHERE as_of = ? AND symbol = ? ORDER BY agent",
                    [as_of.isoformat(), symbol]).fetchall()]

    def latest_night(self, *, finished: bool = False) -> date | None:
        """The last night with proposals recorded (``finished``: the last night run that ended ok)."""
        sql = ("SELECT max(as_of) FROM runs WHERE kind = 'night' AND status = 'ok'" if finished
               else "SELECT max(as_of) FROM proposals")
        row = self.db.execute(sql).fetchone()
        return date.fromisoformat(row[0]) if row and row[0] else None

    def night_proposals(self, as_of: date) -> list[NightProposal]:
        """Every proposal of one night with the overlay's verdict on it (``verdict``: None when there is none)."""
        day = as_of.isoformat()
        verdicts = {r.pop("proposal_key"): VerdictBrief.from_row(r) for r in self.db.query(
            "SELECT proposal_key, decision, size_multiplier, reason, provider, fallback FROM verdicts WHERE as_of = ?",
            [day])}
        return [NightProposal(key=r["key"], symbol=r["symbol"], agent=r["agent"], action=r["action"],
                              strength=r["strength"], confidence=r["confidence"],
                              rationale=json.loads(r["payload"]).get("rationale"), verdict=verdicts.get(r["key"]))
                for r in self.db.query(
                    "SELECT key, symbol, agent, action, strength, confidence, payload FROM proposals WHERE as_of = ? "
                    "ORDER BY key", [day])]

    def decisions_between(self, start: date, end: date) -> list[Decision]:
        """Every reviewed entry proposal from ``start`` up to (not including) ``end``: date, symbol, agent, action,
        horizon and the overlay's decision (the raw material of the desk's track record)."""
        cur = self.db.execute(
            f"SELECT p.as_of, p.symbol, p.agent, p.action, CAST({self.db.json_number('p.payload', 'horizon_days')} "
            "AS INTEGER), v.decision, v.size_multiplier FROM verdicts v JOIN proposals p ON p.key = v.proposal_key "
            "WHERE p.as_of >= ? AND p.as_of < ? AND p.action IN ('BUY_LONG', 'SELL_SHORT') ORDER BY p.as_of, p.key",
            [start.isoformat(), end.isoformat()])
        return [Decision(as_of=r[0], symbol=r[1], agent=r[2], action=r[3], horizon_days=r[4], decision=r[5],
                         size_multiplier=r[6]) for r in cur.fetchall()]
