"""A scripted LLM server on 127.0.0.1 speaking the OpenAI Chat Completions and Anthropic Messages APIs, for the real
``openai`` and ``anthropic`` clients (through langchain) to talk to.

Each request takes the next scripted ``Reply`` (a status, a body, headers, a delay); with the script empty, the
``responder`` answers (by default ``sensible``: a valid answer to whichever schema the request asks for). Every request
is kept, with the time it arrived, so tests can read what the desk sent.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

KEY = "sk-test-loopback-0123456789abcdef"  # token-shaped, so the redactor has something to find


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict → JSON; str → sent as is (malformed bodies)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Seen:
    path: str
    body: dict
    at: float
    headers: dict[str, str]

    @property
    def schema_name(self) -> str | None:
        """The structured-output schema the request asks for (response_format or forced tool)."""
        fmt = self.body.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            return fmt["json_schema"]["name"]
        tools = self.body.get("tools") or []
        choice = self.body.get("tool_choice")
        if isinstance(choice, dict):
            return choice.get("name") or (choice.get("function") or {}).get("name")
        if tools and len(tools) == 1:
            return tools[0].get("name") or tools[0].get("function", {}).get("name")
        text = self.text
        for name in ("OverlayAnswer", "SingleVerdict", "WeatherAnswer", "BookAnswer"):
            if f'"title": "{name}"' in text or f"`{name}`" in text:
                return name
        return None

    @property
    def text(self) -> str:
        """Every message's text, the system prompt included."""
        parts = []
        system = self.body.get("system")
        if isinstance(system, str):
            parts.append(system)
        elif isinstance(system, list):
            parts += [b.get("text", "") for b in system]
        for m in self.body.get("messages", []):
            c = m.get("content")
            if isinstance(c, str):
                parts.append(c)
            elif isinstance(c, list):
                parts += [b.get("text", "") or json.dumps(b.get("content", "")) for b in c if isinstance(b, dict)]
        return "\n".join(parts)

    @property
    def proposal_ids(self) -> list[str]:
        return re.findall(r'"id":"(p\d+)"', self.text)

    @property
    def entry_symbols(self) -> list[str]:
        block = self.text.split("New entries", 1)[-1]
        return re.findall(r'"symbol":"([A-Z0-9^.]+)"', block)


class ScriptedLLM:
    def __init__(self, responder: Callable[[Seen], Reply] | None = None) -> None:
        self.script: deque[Reply] = deque()
        self.requests: list[Seen] = []
        self.responder = responder or sensible
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                seen = Seen(self.path, json.loads(raw or b"{}"), time.monotonic(), dict(self.headers))
                with server._lock:
                    server.requests.append(seen)
                    reply = server.script.popleft() if server.script else None
                if reply is None:
                    reply = server.responder(seen)
                if reply.delay:
                    time.sleep(reply.delay)
                body = reply.body if isinstance(reply.body, str) else json.dumps(_shape(seen, reply.body))
                data = body.encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
                    pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host}:{port}"

    def push(self, *replies: Reply) -> ScriptedLLM:
        self.script.extend(replies)
        return self

    def __enter__(self) -> ScriptedLLM:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._http.shutdown()
        self._http.server_close()

    def env(self, provider: str = "openai") -> dict[str, str]:
        """The SDK's own variables pointing at this server."""
        if provider == "anthropic":
            return {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": self.url}
        return {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": f"{self.url}/v1"}


# ---------------------------------------------------------------------- bodies
@dataclass(frozen=True)
class Structured:
    """A structured answer: the server shapes it as the request's API and method expect."""

    value: Any  # dict (or a str: sent as the JSON text / tool arguments verbatim, for malformed output)
    usage: tuple[int, int] = (1000, 200)


@dataclass(frozen=True)
class Text:
    text: str
    usage: tuple[int, int] = (100, 10)


@dataclass(frozen=True)
class Refusal:
    text: str = "I can't help with that."


@dataclass(frozen=True)
class ToolCalls:
    calls: tuple[tuple[str, dict], ...]
    usage: tuple[int, int] = (300, 40)


def _shape(seen: Seen, body: Any) -> Any:
    anthropic = seen.path.endswith("/messages")
    if isinstance(body, Structured):
        args = body.value if isinstance(body.value, str) else json.dumps(body.value)
        fmt = seen.body.get("response_format") or {}
        tool = seen.schema_name
        if anthropic:
            if seen.body.get("tools"):
                return _anthropic([{"type": "tool_use", "id": "toolu_1", "name": tool,
                                    "input": body.value if isinstance(body.value, dict) else {}}], body.usage,
                                  "tool_use")
            return _anthropic([{"type": "text", "text": args}], body.usage)
        if fmt or not seen.body.get("tools"):
            return _openai({"role": "assistant", "content": args}, body.usage)
        return _openai({"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": tool, "arguments": args}}]}, body.usage,
            "tool_calls")
    if isinstance(body, Text):
        return (_anthropic([{"type": "text", "text": body.text}], body.usage) if anthropic
                else _openai({"role": "assistant", "content": body.text}, body.usage))
    if isinstance(body, Refusal):
        return (_anthropic([{"type": "text", "text": body.text}], (50, 5), "refusal") if anthropic
                else _openai({"role": "assistant", "content": None, "refusal": body.text}, (50, 5)))
    if isinstance(body, ToolCalls):
        if anthropic:
            return _anthropic([{"type": "tool_use", "id": f"toolu_{i}", "name": n, "input": a}
                               for i, (n, a) in enumerate(body.calls)], body.usage, "tool_use")
        return _openai({"role": "assistant", "content": None, "tool_calls": [
            {"id": f"call_{i}", "type": "function", "function": {"name": n, "arguments": json.dumps(a)}}
            for i, (n, a) in enumerate(body.calls)]}, body.usage, "tool_calls")
    return body


def _openai(message: dict, usage: tuple[int, int], finish: str = "stop") -> dict:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "scripted",
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)}}


def _anthropic(content: list, usage: tuple[int, int], stop: str = "end_turn") -> dict:
    return {"id": "msg_1", "type": "message", "role": "assistant", "model": "scripted", "content": content,
            "stop_reason": stop, "stop_sequence": None,
            "usage": {"input_tokens": usage[0], "output_tokens": usage[1]}}


def error(status: int, message: str = "scripted error", **headers: str) -> Reply:
    return Reply(status, {"error": {"message": message, "type": "server_error", "code": None}}, headers)


def answer(value: Any, **kw: Any) -> Reply:
    return Reply(body=Structured(value, **kw))


# ---------------------------------------------------------------------- a sensible model
def sensible(seen: Seen) -> Reply:
    """A valid, cautious answer to whichever schema the request asks for: confirm every proposal, accept the book,
    no nudge."""
    name = seen.schema_name
    if name == "WeatherAnswer":
        return answer({"narrative": "The layers are mixed; the regime stands.", "regime_nudge": 0,
                       "reason": "no layer is clearly hostile"}, usage=(900, 80))
    if name == "OverlayAnswer":
        return answer({"verdicts": [{"id": pid, "decision": "confirm", "size_multiplier": 1.0, "stop": None,
                                     "reason": "inputs support the trade"} for pid in seen.proposal_ids]},
                      usage=(4000, 60 * max(1, len(seen.proposal_ids))))
    if name == "SingleVerdict":
        return answer({"decision": "confirm", "size_multiplier": 1.0, "stop": None, "reason": "fine"})
    if name == "BookAnswer":
        return answer({"actions": [], "summary": "book accepted: nothing crowded"}, usage=(1200, 40))
    return Reply(body=Text("I have nothing to add."))
