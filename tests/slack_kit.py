"""A fake Slack on 127.0.0.1 for the tests: the Web API methods the desk calls (records every call, can answer 429,
500, a refusal, or be down altogether), a ``response_url`` sink, and request signing for Bolt's HTTP mode."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

BOT_TOKEN = "xoxb-test-0000000000-1111111111-abcdefabcdefabcdef"
APP_TOKEN = "xapp-1-test-2222222222-abcdefabcdef"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
OPERATOR, READER, STRANGER = "UOPERATOR1", "UREADER01", "USTRANGER1"
CHANNEL, READER_CHANNEL = "CDESK0001", "CREAD0001"


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    headers: dict[str, str]


@dataclass
class FakeSlack:
    """``api_url`` for the settings; ``calls`` what the desk sent; ``script`` answers to hand out first."""

    calls: list[Call] = field(default_factory=list)  # every request, answered or refused
    delivered: list[Call] = field(default_factory=list)  # the chat.* calls Slack accepted
    script: list[tuple[int, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # channel -> Slack error code
    port: int = 0
    _server: ThreadingHTTPServer | None = None
    _ts: int = 1000
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    @property
    def response_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/response"

    def start(self) -> FakeSlack:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                ctype = self.headers.get("Content-Type", "")
                if "json" in ctype:
                    args = json.loads(raw or "{}")
                else:
                    args = {k: v[0] for k, v in parse_qs(raw).items()}
                method = self.path.removeprefix("/api/").strip("/")
                status, body, headers = fake._answer(method, args, dict(self.headers))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Slack is down: nothing listens on the port any more."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _answer(self, method: str, args: dict[str, Any], headers: dict[str, str]):
        with self.lock:
            self.calls.append(Call(method, args, headers))
            if method.startswith("response"):
                return 200, {"ok": True}, {}
            if self.script and method.startswith("chat."):
                return self.script.pop(0)
            if method == "auth.test":
                return 200, {"ok": True, "user_id": "UDESKBOT", "bot_id": "BDESK", "team_id": "TDESK"}, {}
            if method in ("chat.postMessage", "chat.update"):
                channel = args.get("channel", "")
                if channel in self.refuse:
                    return 200, {"ok": False, "error": self.refuse[channel]}, {}
                self._ts += 1
                ts = args.get("ts") or f"{self._ts}.000100"
                self.delivered.append(self.calls[-1])
                return 200, {"ok": True, "channel": channel if channel.startswith("C") else "CRESOLVED",
                             "ts": ts}, {}
            return 200, {"ok": True}, {}

    # ---------------------------------------------------------------- what the tests ask
    def posts(self, method: str = "chat.postMessage") -> list[dict[str, Any]]:
        """What Slack accepted (and would show), in order."""
        with self.lock:
            return [c.args for c in self.delivered if c.method == method]

    def rate_limit(self, times: int = 1, retry_after: int = 7) -> None:
        self.script += [(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)})] * times

    def fail(self, times: int = 1, status: int = 500) -> None:
        self.script += [(status, {"ok": False, "error": "internal_error"}, {})] * times


def blocks_text(payload: dict[str, Any]) -> str:
    """Every text a message carries (its fallback and each block's), one string."""
    out = [str(payload.get("text", ""))]

    def walk(x: Any) -> None:
        if isinstance(x, dict):
            for k, v in x.items():
                if k == "text" and isinstance(v, str):
                    out.append(v)
                else:
                    walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    blocks = payload.get("blocks")
    walk(json.loads(blocks) if isinstance(blocks, str) else blocks)
    return "\n".join(out)


# ---------------------------------------------------------------------- signed requests into Bolt's HTTP mode
def signature(secret: str, timestamp: str, body: str) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def post_signed(url: str, body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None,
                content_type: str = "application/x-www-form-urlencoded", forge: bool = False) -> tuple[int, str, float]:
    """POST ``body`` as Slack would sign it; (status, response text, seconds taken)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    sig = signature("not-the-secret" if forge else secret, ts, body)
    req = urllib.request.Request(url, data=body.encode(), method="POST", headers={
        "Content-Type": content_type, "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig})
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode(), time.perf_counter() - t0
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), time.perf_counter() - t0


# ---------------------------------------------------------------------- settings
def slack_section(fake: FakeSlack | None = None, **kw: Any) -> dict[str, Any]:
    """A ``slack`` settings section pointed at ``fake``: one operator, one reader, one reader channel."""
    section = {"channel": CHANNEL, "operators": [OPERATOR], "readers": [READER, READER_CHANNEL],
               "bot_token": BOT_TOKEN, "signing_secret": SIGNING_SECRET, "app_token": APP_TOKEN,
               "api_url": fake.api_url if fake else "http://127.0.0.1:9/api/"}
    section.update(kw)
    return section


def settings(home, fake: FakeSlack | None = None, *, slack: dict[str, Any] | None = None, **sections: Any):
    from desk.config import load_settings

    return load_settings(home=home, slack=slack_section(fake, **(slack or {})), **sections)
