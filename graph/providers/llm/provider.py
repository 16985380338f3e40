"""The LLM provider: the weather analyst, the overlay and the risk reviewer asked through one ``Exchanger``.

By default the overlay is one call per night for every entry proposal (``llm.overlay.calls = "per_night"``), so a
night costs at most three calls: weather, overlay, risk review. Exits and holds are never sent (the overlay never
blocks them). A role whose provider is ``rules`` is answered by the rules provider, with no call. An answer that is
missing or unusable raises ``LLMFailure``; the fallback wrapper answers with rules and says why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date

from graph.config import LLMSettings, Role
from graph.providers.base import BookEntry, BookSummary
from graph.providers.llm import bounds, fields
from graph.providers.llm.errors import LLMFailure
from graph.providers.llm.exchange import Exchange, Exchanger
from graph.providers.rules import RulesProvider
from memory.track_record import TrackRecord
from prompts.schemas import BookAnswer, OverlayAnswer, SingleVerdict, WeatherAnswer
from vocab.contracts import BookReview, Proposal, Verdict, WeatherSnapshot, WeatherView


class LLMProvider:
    """An ``OverlayProvider`` whose answers come from models, bounded, costed and recorded."""

    def __init__(self, settings: LLMSettings, exchanger: Exchanger,
                 track_record: Callable[[], TrackRecord | None] = lambda: None,
                 rules: RulesProvider | None = None) -> None:
        self.settings, self.exchanger = settings, exchanger
        self.name = settings.provider if settings.provider != "rules" else settings.role("overlay").provider
        self._track_record, self._record = track_record, None
        self._rules = rules or RulesProvider()

    def _uses_rules(self, role: Role) -> bool:
        return self.settings.role(role).provider == "rules"

    def _records(self, day: date, symbols: Sequence[str]) -> dict:
        if self._record is None:
            self._record = self._track_record()
        return {} if self._record is None else self._record.on(day, symbols)

    def _ask(self, role: Role, prompt: str, values: Mapping[str, str]) -> Exchange:
        exchange = self.exchanger.ask(role, prompt, values)
        if exchange.answer is None:
            raise LLMFailure(exchange.failure or "returned no answer", exchange.provenance)
        return exchange

    # ------------------------------------------------------------------ weather
    def weather(self, snapshot: WeatherSnapshot) -> WeatherView:
        if self._uses_rules("weather"):
            return self._rules.weather(snapshot)
        exchange = self._ask("weather", "weather_analyst", fields.weather(snapshot))
        assert isinstance(exchange.answer, WeatherAnswer)
        try:
            view, notes = bounds.weather_view(exchange.answer, exchange.provenance)
        except ValueError as exc:
            raise LLMFailure(f"returned invalid output ({exc})", exchange.provenance) from None
        self.exchanger.note_bounds(exchange.provenance, notes)
        return view

    # ------------------------------------------------------------------ the overlay
    @property
    def allow_reverse(self) -> bool:
        return self.settings.overlay.allow_reverse

    def review(self, proposal: Proposal, snapshot: WeatherSnapshot, features: Mapping[str, float]) -> Verdict:
        if self._uses_rules("overlay"):
            return self._rules.review(proposal, snapshot, features)
        record = self._records(proposal.as_of, [proposal.symbol]).get(proposal.symbol)
        exchange = self._ask("overlay", "overlay", fields.single(proposal, snapshot, features, record,
                                                                 allow_reverse=self.allow_reverse))
        assert isinstance(exchange.answer, SingleVerdict)
        out, notes = bounds.verdict(exchange.answer, proposal, exchange.provenance, allow_reverse=self.allow_reverse)
        self.exchanger.note_bounds(exchange.provenance, notes)
        return out

    def review_all(self, proposals: Sequence[Proposal], snapshot: WeatherSnapshot,
                   features: Mapping[str, Mapping[str, float]]) -> dict[str, Verdict | LLMFailure]:
        """Verdicts for the entry proposals by ``Proposal.key``: one call for all (the default), or one each. A
        proposal the answer leaves out maps to the failure that says so."""
        if not proposals:
            return {}
        if self._uses_rules("overlay") or self.settings.overlay.calls == "per_proposal":
            out: dict[str, Verdict | LLMFailure] = {}
            for p in proposals:
                try:
                    out[p.key] = self.review(p, snapshot, features.get(p.symbol, {}))
                except LLMFailure as failure:
                    out[p.key] = failure
            return out
        ids = {f"p{i}": p for i, p in enumerate(proposals, 1)}
        records = self._records(snapshot.as_of, sorted({p.symbol for p in proposals}))
        exchange = self._ask("overlay", "overlay_batch", fields.batch(ids, snapshot, features, records,
                                                                      allow_reverse=self.allow_reverse))
        assert isinstance(exchange.answer, OverlayAnswer)
        answers, notes = bounds.by_id(exchange.answer.verdicts, ids)
        result: dict[str, Verdict | LLMFailure] = {}
        for pid, p in ids.items():
            if pid not in answers:
                result[p.key] = LLMFailure(f"gave no verdict for {pid} ({p.key})", exchange.provenance)
                notes.append(f"no verdict for {pid}: rules answered")
                continue
            verdict, clamps = bounds.verdict(answers[pid], p, exchange.provenance, allow_reverse=self.allow_reverse)
            notes += [f"{pid}: {c}" for c in clamps]
            result[p.key] = verdict
        self.exchanger.note_bounds(exchange.provenance, notes)
        return result

    # ------------------------------------------------------------------ the risk reviewer
    def review_book(self, entries: Sequence[BookEntry], snapshot: WeatherSnapshot, book: BookSummary) -> BookReview:
        if self._uses_rules("risk") or not entries:
            return self._rules.review_book(entries, snapshot, book)
        records = self._records(snapshot.as_of, [e.symbol for e in entries])
        exchange = self._ask("risk", "risk_reviewer", fields.book(entries, snapshot, book, records))
        assert isinstance(exchange.answer, BookAnswer)
        review, notes = bounds.book_review(exchange.answer, entries, exchange.provenance)
        self.exchanger.note_bounds(exchange.provenance, notes)
        return review
