"""Deliver the outbox to Slack's Web API (slack-sdk ``WebClient``), in order, with retry and backoff.

- A reply waits for its parent and an edit for its target (their ``ts`` is needed); a thread whose message is
  waiting holds the rest of that thread back, so replies never arrive out of order.
- HTTP 429: Slack's ``Retry-After`` is honoured — every pending message waits that long, and the pass stops.
- A server error, a timeout or no connection (Slack down): the message backs off exponentially (with jitter, capped
  at ``slack.retry_max_seconds``), everything else waits with it, and the pass stops; the next pass, or
  ``desk slack flush``, tries again. Nothing is lost while Slack is down.
- A refused token (``invalid_auth`` …): nothing is sent until it is fixed; messages keep waiting.
- A message Slack refuses for good (an unknown channel, invalid blocks): marked ``dead`` with Slack's reason
  (``desk slack flush --revive`` sends those again once the cause is fixed).

The sender never sleeps: ``drain`` does what is due now and says when to come back. Time comes from ``clock``.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from graph.config import SlackSettings
from graph.redact import Redactor
from memory.outbox import UPDATE, Outbox, OutboxRow
from memory.store import Store

log = logging.getLogger("desk.slack.sender")
Clock = Callable[[], datetime]
AUTH_ERRORS = ("invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive",
               "missing_scope", "no_permission")
NETWORK_ERRORS = (OSError, TimeoutError)  # urllib's URLError, refused connections, timeouts


def utc_now() -> datetime:
    return datetime.now(UTC)


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds")


def web_client(slack: SlackSettings) -> WebClient:
    """slack-sdk's client on the configured API (its own retries off: the outbox retries)."""
    token = slack.bot_token.get_secret_value() if slack.bot_token else None
    return WebClient(token=token, base_url=slack.api_url, timeout=int(max(1, slack.timeout_seconds)),
                     retry_handlers=[])


@dataclass
class Drained:
    sent: int = 0
    waiting: int = 0
    dead: int = 0
    retry_at: datetime | None = None  # when the next attempt is due, if any is waiting
    errors: list[str] = field(default_factory=list)


class OutboxSender:
    def __init__(self, store: Store, client: WebClient, slack: SlackSettings, *, clock: Clock = utc_now,
                 redact: Redactor | None = None, rng: random.Random | None = None) -> None:
        self.outbox = Outbox(store)
        self.client, self.slack, self.clock = client, slack, clock
        self.redact = redact or Redactor()
        self.rng = rng or random.Random()
        self.last_error = ""

    def drain(self, *, force: bool = False, limit: int = 500) -> Drained:
        """Send what is due (``force``: everything pending, backoff or not) in order; stop at the first sign that
        Slack is down or slowing the desk down."""
        now = self.clock()
        done = Drained()
        blocked: set[str] = set()  # threads (by their parent's key) held back in this pass
        for row in self.outbox.pending(limit):
            thread = row.thread_key or row.target_key or row.key or f"#{row.id}"
            if thread in blocked or (not force and row.next_attempt > _iso(now)):
                blocked.add(thread)
                continue
            outcome = self._send(row)
            if outcome == "sent":
                done.sent += 1
            elif outcome == "wait":  # its parent or target is not sent yet
                blocked.add(thread)
            elif outcome == "dead":
                done.dead += 1
            else:  # "stop": Slack is down, slowing us down, or refusing the token
                done.errors.append(self.last_error)
                break
        depth = self.outbox.depth()
        done.waiting = depth["pending"]
        nxt = self.outbox.next_attempt()
        done.retry_at = datetime.fromisoformat(nxt) if nxt and done.waiting else None
        return done

    # ------------------------------------------------------------------ one message
    def _send(self, row: OutboxRow) -> str:
        payload = dict(row.payload)
        args: dict[str, Any] = {"text": self.redact(payload.get("text", "")),
                                "blocks": payload.get("blocks")}
        if row.op == UPDATE:
            target = self.outbox.get(row.target_key)
            if target is None or target.status == "dead":
                self.outbox.mark_dead(row.id, "the message to edit was never posted")
                return "dead"
            if target.status != "sent":
                return "wait"
            call = lambda: self.client.chat_update(channel=target.channel_id, ts=target.ts, **args)
        else:
            channel, thread_ts = row.channel, None
            if row.thread_key:
                parent = self.outbox.get(row.thread_key)
                if parent is not None and parent.status == "pending":
                    return "wait"
                if parent is not None and parent.status == "sent":
                    channel, thread_ts = parent.channel_id or channel, parent.ts
            extra = {"thread_ts": thread_ts, "reply_broadcast": True} if thread_ts and row.broadcast else (
                {"thread_ts": thread_ts} if thread_ts else {})
            call = lambda: self.client.chat_postMessage(channel=channel, unfurl_links=False,
                                                        unfurl_media=False, **extra, **args)
        try:
            resp = call()
        except SlackApiError as exc:
            return self._refused(row, exc)
        except NETWORK_ERRORS as exc:
            return self._down(row, f"Slack unreachable: {type(exc).__name__}: {exc}")
        self.outbox.mark_sent(row.id, resp.get("ts") or row.ts, resp.get("channel"))
        return "sent"

    def _refused(self, row: OutboxRow, exc: SlackApiError) -> str:
        status = getattr(exc.response, "status_code", None)
        code = (exc.response.get("error") if hasattr(exc.response, "get") else None) or f"HTTP {status}"
        if status == 429 or code == "ratelimited":
            wait = _retry_after(exc.response)
            until = self.clock() + timedelta(seconds=wait)
            self.last_error = f"rate limited by Slack: retry after {wait:g} s"
            self.outbox.hold_all(_iso(until), self.last_error)
            return "stop"
        if status is not None and status >= 500:
            return self._down(row, f"Slack answered HTTP {status}")
        if code in AUTH_ERRORS:
            until = self.clock() + timedelta(seconds=self.slack.retry_max_seconds)
            self.last_error = f"Slack refused the bot token ({code}): fix SLACK_BOT_TOKEN; the messages wait"
            self.outbox.hold_all(_iso(until), self.last_error)
            return "stop"
        self.outbox.mark_dead(row.id, f"Slack refused the message: {code}")
        return "dead"

    def _down(self, row: OutboxRow, why: str) -> str:
        delay = min(self.slack.retry_max_seconds, 2.0 ** min(row.attempts, 16)) * (0.5 + self.rng.random() / 2)
        until = _iso(self.clock() + timedelta(seconds=delay))
        self.last_error = why
        self.outbox.defer(row.id, why, until)
        self.outbox.hold_all(until, why)
        return "stop"


def _retry_after(response: Any) -> float:
    headers = getattr(response, "headers", {}) or {}
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    try:
        return max(1.0, float(value))
    except (TypeError, ValueError):
        return 30.0  # Slack always sends it; if not, wait a sensible while


class BackgroundSender:
    """A thread that drains the outbox while ``desk serve`` runs: at once when told a message was written, else when
    the next retry is due (never busy-waits, never sleeps a fixed period)."""

    def __init__(self, make: Callable[[], OutboxSender], clock: Clock = utc_now, idle_seconds: float = 30.0) -> None:
        self.make, self.clock, self.idle = make, clock, idle_seconds
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.last: Drained | None = None
        self._thread = threading.Thread(target=self._loop, name="desk-slack-sender", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def poke(self) -> None:
        self.wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        self.wake.set()
        self._thread.join(timeout)

    def _loop(self) -> None:
        sender = self.make()
        while not self.stopping.is_set():
            self.wake.clear()
            try:
                self.last = sender.drain()
                wait = self.idle
                if self.last.retry_at is not None:
                    wait = max(0.05, min(self.idle, (self.last.retry_at - self.clock()).total_seconds()))
            except Exception as exc:  # noqa: BLE001 - the sender must outlive a bad row or a locked store
                log.warning("outbox drain failed: %s", exc)
                wait = self.idle
            self.wake.wait(wait)
