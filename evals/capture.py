"""A provider wrapper that keeps what each role was shown and answered, night by night: the raw material of
prompt eval cases (``evals.prompt_cases``). It changes no answer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from evals.prompt_cases import Night
from graph.providers.base import BookEntry, BookSummary, OverlayProvider, review_all
from vocab.contracts import BookReview, Proposal, Verdict, WeatherSnapshot, WeatherView


class Capturing:
    def __init__(self, inner: OverlayProvider) -> None:
        self.inner = inner
        self.name = inner.name
        self.nights: dict[date, Night] = {}

    def _night(self, day: date) -> Night:
        return self.nights.setdefault(day, Night(day=day))

    def weather(self, snapshot: WeatherSnapshot) -> WeatherView:
        view = self.inner.weather(snapshot)
        n = self._night(snapshot.as_of)
        n.snapshot, n.nudge = snapshot, view.regime_nudge
        return view

    def review(self, proposal: Proposal, snapshot: WeatherSnapshot, features: Mapping[str, float]) -> Verdict:
        return self.review_all([proposal], snapshot, {proposal.symbol: features})[0]

    def review_all(self, proposals: Sequence[Proposal], snapshot: WeatherSnapshot,
                   features: Mapping[str, Mapping[str, float]]) -> list[Verdict]:
        verdicts = review_all(self.inner, proposals, snapshot, features)
        n = self._night(snapshot.as_of)
        n.proposals += list(proposals)
        n.features.update({s: dict(f) for s, f in features.items() if any(p.symbol == s for p in proposals)})
        n.verdicts.update({v.proposal_key: v.decision for v in verdicts})
        return verdicts

    def review_book(self, entries: Sequence[BookEntry], snapshot: WeatherSnapshot, book: BookSummary) -> BookReview:
        review = self.inner.review_book(entries, snapshot, book)
        n = self._night(snapshot.as_of)
        n.entries, n.book, n.book_snapshot = list(entries), book, snapshot
        n.review = {**{s: "shrink" for s, m in review.shrink.items() if m < 1}, **{s: "veto" for s in review.veto}}
        return review
