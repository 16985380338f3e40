"""The fallback wrapper (ARCHITECTURE.md: invariants 1-2): a failure of the primary (an LLM) is never a trading failure,
and an answer outside the overlay's bounds (confirm, shrink, tighten or veto) is clamped, with the reason said."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from graph.providers.base import ENTRY_ACTIONS, BookEntry, BookSummary, OverlayProvider, finite
from graph.providers.llm.errors import LLMFailure, ReplayMiss
from vocab.contracts import BookReview, Proposal, Provenance, Verdict, WeatherSnapshot, WeatherView
from vocab.terms import Action


class InvalidOutput(ValueError):
    """A provider answer that parses but breaks the contract (wrong proposal, multiplier out of [0, 1])."""


def enforce_bounds(verdict: Verdict, proposal: Proposal, features: Mapping[str, float]) -> Verdict:
    """Hold a verdict to confirm / shrink / tighten / veto; exits are confirmed, a looser stop reverts."""
    if proposal.action not in ENTRY_ACTIONS:
        if verdict.decision == "confirm" and verdict.size_multiplier == 1 and verdict.stop is None:
            return verdict
        return verdict.model_copy(update={
            "decision": "confirm", "size_multiplier": 1.0, "stop": None,
            "reason": f"exits and holds are never blocked by the overlay; overruled {verdict.decision}: "
                      f"{verdict.reason}"})
    if verdict.decision == "veto":
        return verdict
    notes, stop = [], verdict.stop
    if stop is not None:
        problem = _stop_problem(proposal, stop, finite(features.get("close")))
        if problem:
            stop = proposal.stop
            notes.append(f"{problem}: kept the proposal's stop {_price(stop)}")
    decision = "adjust" if verdict.size_multiplier < 1 or stop not in (None, proposal.stop) else "confirm"
    if decision != verdict.decision:
        notes.append(f"recorded as {decision}: size x{verdict.size_multiplier:g}, stop {_price(stop)}")
    if not notes:
        return verdict
    return verdict.model_copy(update={"decision": decision, "stop": stop,
                                      "reason": "; ".join([verdict.reason, *notes])})


def _stop_problem(proposal: Proposal, stop: float, close: float | None) -> str | None:
    long = proposal.action is Action.BUY_LONG
    side = "long" if long else "short"
    if proposal.stop is not None and (stop < proposal.stop if long else stop > proposal.stop):
        return f"overlay stop {stop:.2f} is looser than the proposal's {proposal.stop:.2f} for a {side}"
    if close is not None and (stop >= close if long else stop <= close):
        return f"overlay stop {stop:.2f} is on the wrong side of close {close:.2f} for a {side}"
    return None


def _price(value: float | None) -> str:
    return "none" if value is None else f"{value:.2f}"


def bound_book_review(review: BookReview, entries: Sequence[BookEntry]) -> BookReview:
    """Keep a book review to the new entries: unknown symbols are dropped, a veto wins over a shrink."""
    known = {entry.symbol for entry in entries}
    stray = sorted((set(review.shrink) | set(review.veto)) - known)
    veto = {s: why for s, why in review.veto.items() if s in known}
    shrink = {s: m for s, m in review.shrink.items() if s in known and s not in veto}
    if not stray and shrink == review.shrink:
        return review
    summary = review.summary + (f"; ignored symbols that are not new entries: {', '.join(stray)}" if stray else "")
    return review.model_copy(update={"shrink": shrink, "veto": veto, "summary": summary})


_Answer = TypeVar("_Answer", WeatherView, Verdict, BookReview)
_TEXT_FIELD = {WeatherView: "reason", Verdict: "reason", BookReview: "summary"}


class FallbackProvider:
    """Asks ``primary``; on any exception, timeout or invalid output answers with ``fallback`` and says so."""

    def __init__(self, primary: OverlayProvider, fallback: OverlayProvider, timeout_s: float | None = None) -> None:
        self.primary, self.fallback, self.timeout_s = primary, fallback, timeout_s
        self.name = primary.name

    def weather(self, snapshot: WeatherSnapshot) -> WeatherView:
        return self._ask(WeatherView, lambda p: p.weather(snapshot))

    def review(self, proposal: Proposal, snapshot: WeatherSnapshot, features: Mapping[str, float]) -> Verdict:
        def check(verdict: Verdict) -> None:
            if verdict.proposal_key != proposal.key:
                raise InvalidOutput(f"verdict is for {verdict.proposal_key!r}, not {proposal.key!r}")

        verdict = self._ask(Verdict, lambda p: p.review(proposal, snapshot, features), check)
        return enforce_bounds(verdict, proposal, features)

    def review_book(self, entries: Sequence[BookEntry], snapshot: WeatherSnapshot, book: BookSummary) -> BookReview:
        def check(review: BookReview) -> None:
            for symbol, multiplier in review.shrink.items():
                if not 0 <= multiplier <= 1:
                    raise InvalidOutput(f"shrink for {symbol} is {multiplier}, outside [0, 1]")

        review = self._ask(BookReview, lambda p: p.review_book(entries, snapshot, book), check)
        return bound_book_review(review, entries)

    def review_all(self, proposals: Sequence[Proposal], snapshot: WeatherSnapshot,
                   features: Mapping[str, Mapping[str, float]]) -> list[Verdict]:
        """A verdict for every proposal but holds, in order: exits by the fallback (never blocked, never sent), the
        entries by the primary in one go when it can (``review_all``), each answer it misses by the fallback."""
        reviewed = [p for p in proposals if p.action != Action.HOLD]
        entries = [p for p in reviewed if p.action in ENTRY_ACTIONS]
        batch = getattr(self.primary, "review_all", None)
        answers: Mapping[str, object] = {}
        why: str | None = None
        started = time.perf_counter()
        if entries and batch is not None:
            try:
                answers = _within(lambda: batch(entries, snapshot, features), self.timeout_s)  # type: ignore[assignment]  # _within returns object
            except ReplayMiss:
                raise
            except Exception as exc:  # noqa: BLE001 - any primary failure falls back (ARCHITECTURE.md: invariant 2)
                why, spent = f"{self.primary.name} {_failure(exc)}", getattr(exc, "spent", None)
                answers = {p.key: _Failed(why, spent) for p in entries}
        out = []
        for p in reviewed:
            feats = features.get(p.symbol, {})
            if batch is None:  # a provider of one review at a time is asked about each, as it always was
                out.append(self.review(p, snapshot, feats))
            elif p.action not in ENTRY_ACTIONS:
                out.append(enforce_bounds(_validated(self.fallback.review(p, snapshot, feats), Verdict), p, feats))
            else:
                out.append(self._one(p, snapshot, feats, answers.get(p.key), started))
        return out

    def _one(self, p: Proposal, snapshot: WeatherSnapshot, feats: Mapping[str, float], answer: object,
             started: float) -> Verdict:
        """The primary's answer for one proposal of a batch, checked and bounded; or the fallback's, saying why."""
        try:
            if isinstance(answer, BaseException):
                raise answer
            if isinstance(answer, _Failed):
                raise answer.as_error()
            if answer is None:
                raise InvalidOutput(f"gave no verdict for {p.key}")
            verdict = _validated(answer, Verdict)
            if verdict.proposal_key != p.key:
                raise InvalidOutput(f"verdict is for {verdict.proposal_key!r}, not {p.key!r}")
            return enforce_bounds(verdict, p, feats)
        except _Reported as exc:
            why, spent = exc.why, exc.spent
        except ReplayMiss:
            raise
        except Exception as exc:  # noqa: BLE001 - any primary failure falls back (ARCHITECTURE.md: invariant 2)
            why, spent = f"{self.primary.name} {_failure(exc)}", getattr(exc, "spent", None)
        return self._fell_back(Verdict, lambda f: f.review(p, snapshot, feats), why, spent, started)

    def _ask(self, schema: type[_Answer], call: Callable[[OverlayProvider], object],
             check: Callable[[_Answer], None] | None = None) -> _Answer:
        started = time.perf_counter()
        try:
            answer = _validated(_within(lambda: call(self.primary), self.timeout_s), schema)
            if check:
                check(answer)
            return answer
        except ReplayMiss:  # an eval served from the record fails; it never quietly becomes a rules run
            raise
        except Exception as exc:  # noqa: BLE001 - any primary failure falls back (ARCHITECTURE.md: invariant 2)
            why, spent = f"{self.primary.name} {_failure(exc)}", getattr(exc, "spent", None)
        return self._fell_back(schema, call, why, spent, started)

    def _fell_back(self, schema: type[_Answer], call: Callable[[OverlayProvider], object], why: str,
                   spent: Provenance | None, started: float) -> _Answer:
        """The fallback's answer, marked as one, with the failed call's cost and record (it was paid for)."""
        answer = _validated(call(self.fallback), schema)
        update: dict[str, object] = {"fallback": True, "fallback_reason": why,
                                     "latency_ms": (time.perf_counter() - started) * 1000}
        if spent is not None:
            update.update(tokens=spent.tokens, cost_usd=spent.cost_usd, call_id=spent.call_id, replayed=spent.replayed,
                          latency_ms=spent.latency_ms)
        provenance = answer.provenance.model_copy(update=update)
        field = _TEXT_FIELD[schema]
        text = f"fallback to {self.fallback.name} ({why}): {getattr(answer, field)}"
        return answer.model_copy(update={"provenance": provenance, field: text})


class _Failed:
    """A batch member the primary could not answer: the reason (already one line) and what the call cost."""

    def __init__(self, why: str, spent: Provenance | None) -> None:
        self.why, self.spent = why, spent

    def as_error(self) -> _Reported:
        return _Reported(self.why, self.spent)


class _Reported(Exception):
    def __init__(self, why: str, spent: Provenance | None) -> None:
        super().__init__(why)
        self.why, self.spent = why, spent


def with_fallback(primary: OverlayProvider, fallback: OverlayProvider,
                  timeout_s: float | None = None) -> OverlayProvider:
    """Wrap ``primary`` so that its failures answer with ``fallback`` (the ML-only rules) and its answers stay bounded."""
    return FallbackProvider(primary, fallback, timeout_s)


def _validated(answer: object, schema: type[_Answer]) -> _Answer:
    """Re-validate an answer (a model, even one built without validation, or a mapping) against its schema."""
    if isinstance(answer, BaseModel):
        answer = answer.model_dump(warnings=False)
    if not isinstance(answer, Mapping):
        raise InvalidOutput(f"expected a {schema.__name__}, got {type(answer).__name__}")
    return schema.model_validate(answer)


def _within(call: Callable[[], object], timeout_s: float | None) -> object:
    """Run ``call``, giving up after ``timeout_s`` seconds (the abandoned call finishes in a daemon thread)."""
    if timeout_s is None:
        return call()
    box: dict[str, object] = {}
    done = threading.Event()

    def run() -> None:
        try:
            box["answer"] = call()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name="overlay-primary", daemon=True).start()
    if not done.wait(timeout_s):
        raise TimeoutError(f"no answer within {timeout_s:g}s")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]  # the box holds the primary's exception, raised here as itself
    return box["answer"]


def _failure(exc: Exception) -> str:
    """One line naming what went wrong with the primary."""
    if isinstance(exc, LLMFailure):
        text = exc.reason
    elif isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or exc.title
        text = f"returned invalid output ({exc.error_count()} error(s); {where}: {first['msg']})"
    elif isinstance(exc, InvalidOutput):
        text = f"returned invalid output ({exc})"
    elif isinstance(exc, TimeoutError):
        text = f"timed out ({exc or 'no answer'})"
    else:
        text = f"failed ({type(exc).__name__}: {exc})"
    return " ".join(text.split())[:300]
