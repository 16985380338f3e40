"""One structured exchange with a model: render, look in the record, check the budget, ask, validate, record.

Every exchange is stored (``memory`` ``llm_calls``): the prompt as sent, the raw answer, the parsed answer, usage,
dollars, latency, and what went wrong if anything did. It is keyed by role, provider, model, prompt id and version,
the structured-output method and a hash of the rendered input, so ``llm.replay`` can serve it again:

- ``off``: ask the model; only a call this same run already made (a night resumed after a kill) is served again, so it
  is never paid twice;
- ``auto``: any recorded answer for the same input is served before the network is tried;
- ``only``: everything comes from the record and a miss fails the run (``ReplayMiss``).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from langchain_core.exceptions import ModelRefusalError
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langchain_core.utils.json_schema import dereference_refs
from pydantic import BaseModel, ValidationError

from graph.config import LLMSettings, ResolvedRole, Role
from graph.providers.fallback import _within
from graph.providers.llm.budget import Usage, check_budget, cost, worst_case
from graph.providers.llm.clients import chat_model
from graph.providers.llm.errors import BudgetSpent, LLMFailure, ReplayMiss
from graph.providers.prompting import render_prompt, split_prompt
from graph.providers.scope import current_scope
from graph.redact import Redactor
from memory.llm_record import LlmCall
from memory.store import Store
from prompts.catalog import spec
from vocab.contracts import Provenance

ANSWERED = ("ok", "invalid", "refused", "empty")  # the model answered (served again by auto); not transport errors
MAX_ERROR = 300


@dataclass(frozen=True)
class Exchange:
    """A validated answer, or the one-line reason there is none; with the call's provenance either way."""

    answer: BaseModel | None
    failure: str | None
    provenance: Provenance


def json_schema(schema: type[BaseModel]) -> dict[str, Any]:
    """The schema a model is asked to answer in: the pydantic schema, references resolved (local servers differ in
    what JSON Schema they take)."""
    raw = schema.model_json_schema()
    flat = dereference_refs(raw)
    flat.pop("$defs", None)
    return {"title": schema.__name__, "description": (schema.__doc__ or schema.__name__).strip(), **flat}


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _one_line(text: str) -> str:
    return " ".join(str(text).split())[:MAX_ERROR]


class Exchanger:
    """Structured calls for the roles of one desk, recorded in ``store`` (the live desk's store, also in a replay)."""

    def __init__(self, settings: LLMSettings, store: Store, *, redact: Redactor | None = None,
                 models: Callable[[ResolvedRole], BaseChatModel] = chat_model) -> None:
        self.settings, self.store, self.redact = settings, store, redact or Redactor()
        self._models = models
        self._runnables: dict[tuple[Role, str], Any] = {}

    # ------------------------------------------------------------------ the runnable
    def model(self, role: Role) -> BaseChatModel:
        return self._models(self.settings.role(role))

    def _structured(self, role: ResolvedRole, schema: type[BaseModel]):
        key = (role.role, schema.__name__)
        if key not in self._runnables:
            self._runnables[key] = self._models(role).with_structured_output(
                json_schema(schema), method=role.method, include_raw=True)
        return self._runnables[key]

    # ------------------------------------------------------------------ one exchange
    def ask(self, role_name: Role, prompt: str, fields: Mapping[str, object]) -> Exchange:
        role = self.settings.role(role_name)
        prompt_spec = spec(prompt, role.prompt_version)
        schema = prompt_spec.schema
        assert schema is not None, f"prompt {prompt} has no output schema"
        rendered = render_prompt(prompt, fields, role.prompt_version)
        system, user = split_prompt(rendered)
        if role.method == "json_mode":  # JSON mode gets no schema from the API: it is in the prompt
            user += "\n\nAnswer with one JSON object that follows this JSON Schema:\n" + json.dumps(json_schema(schema))
        input_hash = _hash(rendered)
        call_key = _hash(role.role, role.provider, role.model, prompt, role.prompt_version, role.method, input_hash)
        scope = current_scope()
        base = dict(provider=role.provider, model=role.model, prompt_version=f"{prompt}.{role.prompt_version}")
        row = dict(call_key=call_key, role=role.role, provider=role.provider, model=role.model, prompt_id=prompt,
                   prompt_version=role.prompt_version, input_hash=input_hash, run_id=scope.run_id,
                   as_of=scope.as_of.isoformat() if scope.as_of else None, prompt=f"{system}\n\n{user}")

        recorded = self._recorded(call_key, scope.run_id, f"{prompt}.{role.prompt_version}")
        if recorded is not None:
            return self._served(recorded, schema, base)

        price = self.settings.prices[role.model]
        try:
            check_budget(self.store, self.settings, scope.run_id, worst_case(price, row["prompt"], role))
        except BudgetSpent as spent:
            self.store.record_llm_call({**row, "status": "skipped", "error": spent.reason})  # for a replay to repeat
            raise BudgetSpent(spent.reason, Provenance(**base, latency_ms=0)) from None

        messages: list[BaseMessage] = [SystemMessage(system), HumanMessage(user)]
        runnable = self._structured(role, schema)
        started = time.perf_counter()
        try:
            out = _within(lambda: runnable.invoke(messages), self.settings.deadline_s)
        except Exception as exc:  # noqa: BLE001 - transport: HTTP errors after retries, timeouts, bad requests
            ms = (time.perf_counter() - started) * 1000
            why = _one_line(self.redact(_transport(exc)))
            call_id = self.store.record_llm_call({**row, "status": "error", "error": why, "latency_ms": ms})
            raise LLMFailure(why, Provenance(**base, latency_ms=ms, call_id=str(call_id))) from None
        ms = (time.perf_counter() - started) * 1000
        raw: BaseMessage = out["raw"]
        usage = _usage(raw)
        status, answer, failure = _judge(raw, out.get("parsed"), out.get("parsing_error"), schema)
        paid = cost(price, usage)
        call_id = self.store.record_llm_call({
            **row, "status": status, "error": None if failure is None else self.redact(failure),
            "raw": self.redact(_dump(raw)), "parsed": None if answer is None else answer.model_dump_json(),
            "input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens, "cost_usd": paid,
            "latency_ms": ms})
        provenance = Provenance(**base, latency_ms=ms, tokens=usage.total, cost_usd=paid, call_id=str(call_id))
        return Exchange(answer, failure and self.redact(failure), provenance)

    def converse(self, role_name: Role, messages: list[BaseMessage], runnable: Any, *, prompt: str) -> BaseMessage:
        """One free-form turn (the chat agent's: text or tool calls), recorded, capped and replayable like ``ask``.
        Raises ``LLMFailure`` (with the reason) when there is no answer."""
        role = self.settings.role(role_name)
        sent = json.dumps([m.model_dump() for m in messages], default=str, sort_keys=True, separators=(",", ":"))
        input_hash = _hash(sent)
        call_key = _hash(role.role, role.provider, role.model, prompt, role.prompt_version, "tools", input_hash)
        scope = current_scope()
        row = dict(call_key=call_key, role=role.role, provider=role.provider, model=role.model, prompt_id=prompt,
                   prompt_version=role.prompt_version, input_hash=input_hash, run_id=scope.run_id,
                   as_of=scope.as_of.isoformat() if scope.as_of else None, prompt=self.redact(sent))
        recorded = self._recorded(call_key, scope.run_id, f"{prompt}.{role.prompt_version}")
        if recorded is not None:
            if recorded.status != "ok" or recorded.raw is None:
                raise LLMFailure(recorded.error or recorded.status)
            from langchain_core.messages import AIMessage

            return AIMessage.model_validate_json(recorded.raw)
        price = self.settings.prices[role.model]
        try:
            check_budget(self.store, self.settings, scope.run_id, worst_case(price, sent, role))
        except BudgetSpent as spent:
            self.store.record_llm_call({**row, "status": "skipped", "error": spent.reason})
            raise
        started = time.perf_counter()
        try:
            raw = _within(lambda: runnable.invoke(messages), self.settings.deadline_s)
        except Exception as exc:  # noqa: BLE001 - every transport failure is a recorded LLMFailure, then a fallback
            ms = (time.perf_counter() - started) * 1000
            why = _one_line(self.redact(_transport(exc)))
            self.store.record_llm_call({**row, "status": "error", "error": why, "latency_ms": ms})
            raise LLMFailure(why) from None
        ms = (time.perf_counter() - started) * 1000
        usage = _usage(raw)
        refusal = _refused(raw, None)
        status = "refused" if refusal else "empty" if _empty(raw) else "ok"
        self.store.record_llm_call({**row, "status": status, "error": refusal, "raw": self.redact(_dump(raw)),
                                   "input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
                                   "cost_usd": cost(price, usage), "latency_ms": ms})
        if status != "ok":
            raise LLMFailure(f"refused: {refusal}" if refusal else "returned an empty answer")
        return raw

    def note_bounds(self, provenance: Provenance, notes: list[str]) -> None:
        """Write what the bounds did to an answer beside its recorded exchange (not for one served again)."""
        if notes and provenance.call_id and not provenance.replayed:
            self.store.set_llm_bounds(int(provenance.call_id), "; ".join(notes))

    # ------------------------------------------------------------------ the record
    def _recorded(self, call_key: str, run_id: str | None, prompt: str) -> LlmCall | None:
        mode = self.settings.replay
        if mode == "only":
            row = self.store.llm_call(call_key)
            if row is None:
                raise ReplayMiss(f"llm.replay is 'only' and the record has no exchange for this {prompt} input "
                                 f"(run {run_id or '-'}); record it first with llm.replay = 'auto' or 'off'")
            return row
        if mode == "auto":
            return self.store.llm_call(call_key, statuses=ANSWERED)
        if run_id is not None:  # off: a resumed run never pays twice for a call it already made
            return self.store.llm_call(call_key, statuses=ANSWERED, run_id=run_id)
        return None

    def _served(self, row: LlmCall, schema: type[BaseModel], base: dict[str, str]) -> Exchange:
        provenance = Provenance(**base, latency_ms=row.latency_ms, tokens=row.input_tokens + row.output_tokens,
                                cost_usd=0.0, call_id=str(row.id), replayed=True)
        if row.status == "skipped":
            raise BudgetSpent(row.error or "skipped", provenance)
        if row.status == "error":
            raise LLMFailure(row.error or "error", provenance)
        answer = schema.model_validate_json(row.parsed) if row.parsed else None
        return Exchange(answer, row.error, provenance)


def _transport(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"timed out ({exc or 'no answer'})"
    status = getattr(exc, "status_code", None)
    return f"failed ({type(exc).__name__}{f' HTTP {status}' if status else ''}: {exc})"


def _usage(raw: BaseMessage) -> Usage:
    meta = getattr(raw, "usage_metadata", None) or {}
    return Usage(int(meta.get("input_tokens") or 0), int(meta.get("output_tokens") or 0))


def _dump(raw: BaseMessage) -> str:
    return json.dumps(raw.model_dump(), default=str, separators=(",", ":"))


def _refused(raw: BaseMessage, error: BaseException | None) -> str | None:
    if isinstance(error, ModelRefusalError):
        return str(error) or "refused"
    refusal = (getattr(raw, "additional_kwargs", {}) or {}).get("refusal")
    if refusal:
        return str(refusal)
    meta = getattr(raw, "response_metadata", {}) or {}
    if meta.get("stop_reason") == "refusal" or meta.get("finish_reason") == "content_filter":
        return f"stopped: {meta.get('stop_reason') or meta.get('finish_reason')}"
    return None


def _empty(raw: BaseMessage) -> bool:
    content = raw.content
    text = content if isinstance(content, str) else "".join(
        b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    return not text.strip() and not getattr(raw, "tool_calls", None)


def _judge(raw: BaseMessage, parsed: Any, error: BaseException | None,
           schema: type[BaseModel]) -> tuple[str, BaseModel | None, str | None]:
    """(status, the validated answer or None, why not)."""
    refusal = _refused(raw, error)
    if refusal is not None:
        return "refused", None, _one_line(f"refused: {refusal}")
    if parsed is None and _empty(raw):
        return "empty", None, "returned an empty answer"
    if error is not None:
        return "invalid", None, _one_line(f"returned malformed output ({type(error).__name__}: {error})")
    if parsed is None:
        return "invalid", None, "returned no structured answer"
    try:
        return "ok", schema.model_validate(parsed), None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or schema.__name__
        return "invalid", None, _one_line(f"returned invalid output ({exc.error_count()} error(s); {where}: "
                                          f"{first['msg']})")
