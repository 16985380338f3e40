"""The Slack transport (slack-bolt): the ``/desk`` slash command, app mentions, and the buttons of approval messages,
in Socket Mode or HTTP mode. It only parses Slack's payloads and formats results: every command goes through the
command core (``desk.core.core.Core``), which authorises, audits and echoes.

Slack wants an answer within 3 seconds. A read-only command is answered in the acknowledgement itself; a long one
(a run, an approval, a question to the LLM) is acknowledged at once and answered in a thread when done, from a
single worker thread (runs of the book never overlap). HTTP requests are verified by Bolt: signature and timestamp
(older than five minutes is refused).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from slack_bolt import App
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient

from desk.actor import Actor
from desk.config import Settings
from desk.core.core import Core, Refused
from desk.core.render import Rendered, render
from desk.core.text import Request, parse
from desk.errors import DeskError
from desk.slack import format as fmt
from desk.slack.reporter import scrub
from desk.slack.wiring import redactor

log = logging.getLogger("desk.slack.app")
MENTION = re.compile(r"<@[A-Z0-9]+(\|[^>]*)?>")
BUTTON = re.compile(r"^(desk_approve|desk_reject|desk_veto)(:\d+)?$")


class SlackCommands:
    """Slack payloads → command-core requests → Block Kit answers."""

    def __init__(self, settings: Settings, core: Core, client: WebClient, worker: Executor,
                 after: Callable[[], None] = lambda: None) -> None:
        self.settings, self.core, self.client, self.worker = settings, core, client, worker
        self.redact = redactor(settings)
        self.after = after  # called when a long command is done (e.g. wake the outbox sender)

    def payload(self, result_or_text: Any) -> dict[str, Any]:
        if isinstance(result_or_text, str):
            return scrub(fmt.refusal(result_or_text), self.redact)
        return scrub(fmt.reply(render(result_or_text)), self.redact)

    def quick_or_long(self, text: str, user: str, channel: str | None) -> tuple[Request | None, dict[str, Any]]:
        """(the request if it is long and accepted, else None; what to answer now)."""
        actor = Actor(who=user, via="slack")
        try:
            request = parse(text)
            self.core.check(request.name, actor, channel)
            if request.command.long:
                return request, self.payload(Rendered(f"⏳ {request.name}: working on it — the answer comes in "
                                                      f"this thread").title)
            return None, self.payload(self.core.execute(request.name, request.args, actor, channel=channel))
        except Refused as refused:
            return None, self.payload(f"refused: {refused}")
        except DeskError as exc:
            return None, self.payload(str(exc))
        except Exception as exc:  # a bug is one line to the user, the traceback to the log
            log.exception("command %r failed", text)
            return None, self.payload(self.redact(f"unexpected {type(exc).__name__}: {exc} (see the serve log)"))

    def long(self, request: Request, user: str, channel: str, thread_ts: str | None) -> None:
        """Run a long command on the worker and answer in ``thread_ts`` (or a new thread in ``channel``)."""
        self.worker.submit(self._long, request, user, channel, thread_ts)

    def _long(self, request: Request, user: str, channel: str, thread_ts: str | None) -> None:
        try:
            if thread_ts is None:
                top = self.client.chat_postMessage(channel=channel, **self.payload(Rendered(
                    f"⏳ {request.name} {request.said} — asked by {user}").title))
                thread_ts, channel = top["ts"], top.get("channel") or channel
            try:
                answer = self.payload(self.core.execute(request.name, request.args, Actor(who=user, via="slack"),
                                                        channel=channel))
            except DeskError as exc:
                answer = self.payload(str(exc))
            except Exception as exc:
                log.exception("command %s failed", request.name)
                answer = self.payload(self.redact(f"unexpected {type(exc).__name__}: {exc} (see the serve log)"))
            self.client.chat_postMessage(channel=channel, thread_ts=thread_ts, **answer)
        except Exception as exc:  # noqa: BLE001 - Slack itself failed: the command's effect stands, the log says so
            log.warning("could not answer %s in Slack: %s", request.name, exc)
        finally:
            self.after()


def build_app(settings: Settings, commands: SlackCommands) -> App:
    slack = settings.slack
    http = slack.mode == "http"
    secret = slack.signing_secret.get_secret_value() if slack.signing_secret else ""
    if http and not secret:
        raise DeskError("slack.mode = http needs SLACK_SIGNING_SECRET (the app's Basic Information page)")
    app = App(client=commands.client, signing_secret=secret, token_verification_enabled=False,
              request_verification_enabled=http, process_before_response=False, logger=log)

    @app.command(slack.command)
    def slash(ack, command) -> None:
        channel, user = command.get("channel_id"), command.get("user_id", "?")
        request, answer = commands.quick_or_long(command.get("text", ""), user, channel)
        ack(response_type="ephemeral" if request is None and answer["text"].startswith("refused") else "in_channel",
            **answer)
        if request is not None:
            commands.long(request, user, channel, None)

    @app.event("app_mention")
    def mention(event, say) -> None:
        text = MENTION.sub(" ", event.get("text", "")).strip()
        thread = event.get("thread_ts") or event.get("ts")
        channel, user = event.get("channel"), event.get("user", "?")
        request, answer = commands.quick_or_long(text, user, channel)
        say(thread_ts=thread, **answer)
        if request is not None:
            commands.long(request, user, channel, thread)

    @app.event("message")
    def ignore_messages() -> None:  # the bot answers mentions and commands only
        pass

    @app.action(BUTTON)
    def button(ack, body, action, respond) -> None:
        ack()
        user = (body.get("user") or {}).get("id", "?")
        channel = (body.get("channel") or {}).get("id")
        thread = (body.get("message") or {}).get("ts")
        verb = action["action_id"].split(":")[0].removeprefix("desk_")
        value = action.get("value", "")
        text = {"approve": f"approve {value}", "reject": f"reject {value} rejected from the approval message",
                "veto": f"veto {value} vetoed from the approval message"}[verb]
        request, answer = commands.quick_or_long(text, user, channel)
        if request is None:  # a refusal, an error or a veto (quick): to the one who clicked
            respond(response_type="ephemeral", replace_original=False, **answer)
        else:
            respond(response_type="ephemeral", replace_original=False, **answer)
            commands.long(request, user, channel, thread)

    return app


def dispatch_http(app: App, body: str, headers: dict[str, str], query: str = "") -> tuple[int, dict[str, str], str]:
    """One HTTP request for ``/slack/events`` through Bolt (which verifies its signature and timestamp)."""
    resp = app.dispatch(BoltRequest(body=body, query=query, headers={k.lower(): [v] for k, v in headers.items()}))
    out_headers = {k: (v[0] if isinstance(v, list) else v) for k, v in resp.headers.items()}
    return resp.status, out_headers, resp.body
