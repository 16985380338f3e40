"""Slack's parts for one home, built from the settings: the reporter and the override echo (when Slack is
configured), the final state a parent message summarises, and a bounded flush of the outbox."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from desk.config import Settings
from desk.errors import DeskError
from desk.slack.reporter import SlackEcho, SlackReporter
from desk.slack.sender import Drained, OutboxSender, utc_now, web_client
from graph.config import secret_values
from graph.redact import Redactor, env_secrets
from memory.outbox import Outbox
from memory.store import Store, open_store


def redactor(settings: Settings) -> Redactor:
    return Redactor([*secret_values(settings), *env_secrets()])


def checkpoint_facts(settings: Settings) -> Callable[[str], Mapping[str, Any]]:
    """A run's final state values (regime, intents, results, equity) from its checkpoint, read when it ends."""

    def facts(run_id: str) -> Mapping[str, Any]:
        from memory.checkpoint import has_checkpoints, open_checkpointer

        if not has_checkpoints(settings.checkpoint_location):
            return {}
        saver = open_checkpointer(settings.checkpoint_location)
        try:
            got = saver.get_tuple({"configurable": {"thread_id": run_id, "checkpoint_ns": ""}})
        finally:
            saver.conn.close()
        return got.checkpoint.get("channel_values", {}) if got else {}

    return facts


def reporters(settings: Settings, store: Store | None = None) -> list[SlackReporter]:
    """The Slack reporter when Slack is configured, else nothing (the console and the store still hear every
    step)."""
    if not settings.slack.enabled:
        return []
    return [SlackReporter(store or open_store(settings), settings.slack, redactor(settings),
                          facts=checkpoint_facts(settings))]


def listeners(settings: Settings) -> list[SlackEcho]:
    return [SlackEcho(settings.store_location, settings.slack, redactor(settings))] if settings.slack.enabled else []


def require(settings: Settings) -> None:
    if not (settings.slack.bot_token and settings.slack.bot_token.get_secret_value()):
        raise DeskError("Slack has no bot token: set SLACK_BOT_TOKEN (xoxb-…; see the README's Slack section)")
    if not settings.slack.channel:
        raise DeskError("Slack has no channel: set slack.channel (e.g. DESK_SLACK__CHANNEL=C0123456789)")


def flush(settings: Settings, *, timeout: float, force: bool = True, revive: bool = False,
          clock: Callable[[], datetime] = utc_now, wait: Callable[[float], Any] | None = None) -> Drained:
    """Deliver the outbox now, waiting for Slack's ``Retry-After`` while it fits in ``timeout`` seconds; what is
    left waits for the next flush (or ``desk serve``'s sender)."""
    require(settings)
    store = open_store(settings)
    try:
        if revive:
            Outbox(store).revive()
        sender = OutboxSender(store, web_client(settings.slack), settings.slack, clock=clock,
                              redact=redactor(settings))
        pause = wait or threading.Event().wait
        start = clock()
        total = Drained()
        first = True
        while True:
            got = sender.drain(force=force and first)
            first = False
            total.sent += got.sent
            total.dead += got.dead
            total.errors += got.errors
            total.waiting, total.retry_at = got.waiting, got.retry_at
            if not got.waiting or got.retry_at is None:
                return total
            left = timeout - (clock() - start).total_seconds()
            due = (got.retry_at - clock()).total_seconds()
            if got.sent == 0 and due > left:
                return total
            if due > 0:
                pause(min(due, max(left, 0)))
    finally:
        store.close()
