"""``desk serve``: the scheduler, the Slack app and its outbox sender, and the HTTP port, in one process.

Stopping (SIGTERM or SIGINT): no new job starts; a graph that is running is let run to its end — its last
checkpoint written, its run recorded — for up to ``stop_timeout`` seconds; then the Slack connection, the sender
and the port close. Killed harder than that, the graph's last checkpoint is where the next trigger resumes it.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from functools import partial
from typing import Any

from desk.actions import runs
from desk.actor import Actor
from desk.config import Settings
from desk.core.core import Core
from desk.alerts import alerts
from desk.dashboard.app import Dashboard
from desk.errors import DeskError
from desk.results import RunResult
from desk.serve import ledger
from desk.serve.http import ServePort
from desk.serve.metrics import Metrics
from desk.serve.schedule import NY, DeskSchedule, Fire
from desk.slack import format as fmt
from desk.slack import wiring
from desk.slack.reporter import SlackOutbox
from desk.slack.sender import BackgroundSender, OutboxSender, utc_now, web_client
from graph.config import LIVE_SOURCES
from memory.outbox import Outbox
from memory.store import open_store
from tools.data.base import SourceUnserved

log = logging.getLogger("desk.serve")
SCHEDULER = Actor(who="schedule", via="scheduler")


class Serve:
    def __init__(self, settings: Settings, *, host: str | None = None, port: int | None = None,
                 scheduler: bool = True, slack: bool = True, clock: Callable[[], datetime] = utc_now,
                 stop_timeout: float = 600.0) -> None:
        self.settings, self.clock, self.stop_timeout = settings, clock, stop_timeout
        self.host = host or settings.serve.host
        self.port_number = settings.serve.http_port if port is None else port
        self.want_scheduler, self.want_slack = scheduler, slack and settings.slack.enabled
        self.metrics = Metrics(lambda: open_store(settings), settings, clock)
        self.sender: BackgroundSender | None = None
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="desk-book")
        self.app = self.socket = self.apscheduler = self.schedule = None
        self.slack_error: str | None = None
        self.port: ServePort | None = None
        self._before: dict[tuple[str, date], ledger.Before] = {}
        self.dashboard: Dashboard | None = None

    # ------------------------------------------------------------------ parts
    def reporters(self) -> list:
        return wiring.reporters(self.settings) if self.want_slack else []

    def core(self) -> Core:
        """The command core every door of this process goes through (the scheduler, Slack): its runs report to
        Slack, and its overrides are echoed there."""
        echo = [*wiring.listeners(self.settings), lambda r: self.poke()] if self.want_slack else []
        return Core(self.settings, reporters=self.reporters(), listeners=echo)

    def poke(self) -> None:
        if self.sender is not None:
            self.sender.poke()

    def scheduled_run(self, phase: str, night: date) -> RunResult:
        store = open_store(self.settings)
        try:
            self._before[(phase, night)] = ledger.runs_of(store, phase, night)
        finally:
            store.close()
        core = self.core()
        source = self.settings.data.source
        if phase == "night" and source in LIVE_SOURCES:  # the night's bars first
            try:
                core.execute("data_load", {"source": source}, SCHEDULER)
            except SourceUnserved as exc:  # recorded and reported; the night still plans its exits on older data
                log.warning("scheduled %s load before the night of %s failed: %s", source, night, exc)
        try:
            result = core.execute("run", {"phase": phase, "date": night, "once": True}, SCHEDULER)
            assert isinstance(result, RunResult)
            return result
        finally:
            self.poke()

    def heard(self, fire: Fire, outcome: Any) -> None:
        """Every decision of the scheduler, settled in the store's ledger: a failed or skipped scheduled run is a
        run with its reason, counted, alerted on the errors channel, and shown by ``/health`` and ``desk status``."""
        self.metrics.fires.labels(fire.phase, fire.action).inc()
        store = open_store(self.settings)
        try:
            out = SlackOutbox(store, self.settings.slack, wiring.redactor(self.settings)) if self.want_slack else None

            def alert(text: str, run_id: str | None) -> None:
                if out is not None:
                    out.post("error", fmt.note(f"❌ {text}"), run_id=run_id)
                    out.error(fmt.note(f"❌ {text}"), run_id)

            before = self._before.pop((fire.phase, fire.night), None) if fire.night else None
            ledger.settle(store, fire, outcome, at=self.clock(), before=before,
                          reporters=wiring.reporters(self.settings, store) if self.want_slack else (), alert=alert)
        except Exception as exc:  # noqa: BLE001 - the ledger is the record of a run that already happened
            log.warning("could not record the scheduled %s (%s): %s", fire.phase, fire.action, exc)
        finally:
            store.close()
        self.poke()

    def _submit(self, job: Callable[[], Any]) -> None:
        """A long command from the dashboard (approve, reject) on the book's worker; a failure is logged and
        reaches Slack through the core's run report."""
        def run() -> None:
            try:
                job()
            except Exception as exc:  # noqa: BLE001 - the worker outlives one command's failure; it is logged
                log.error("dashboard command failed: %s", exc)
            finally:
                self.poke()

        self.worker.submit(run)

    def expire_approvals(self) -> None:
        try:
            done = runs.expire_due(self.core())  # audited and echoed by the core, as an operator's decision is
        except DeskError as exc:
            log.warning("approval deadline: %s", exc)
            return
        if done:
            self.poke()

    # ------------------------------------------------------------------ start and stop
    def start(self) -> Serve:
        slack_dispatch = None
        if self.want_slack:
            slack_dispatch = self._start_slack()
        if self.settings.dashboard.enabled:
            self.dashboard = Dashboard(self.settings, self.core, host=self.host, submit=self._submit,
                                       health=self.health)
        self.port = ServePort(self.host, self.port_number, health=self.health, metrics=self.metrics.render,
                              slack=slack_dispatch, web=self.dashboard.handle if self.dashboard else None).start()
        if self.want_scheduler:
            from apscheduler.executors.pool import ThreadPoolExecutor as JobPool
            from apscheduler.schedulers.background import BackgroundScheduler

            self.apscheduler = BackgroundScheduler(timezone=NY, executors={"default": JobPool(1)})
            self.schedule = DeskSchedule(self.settings.schedule, self.scheduled_run, clock=self.clock,
                                         heard=self.heard, extra={"approval-deadlines": (self.expire_approvals, 60)})
            self.schedule.install(self.apscheduler)
            self.apscheduler.start()
            self.worker.submit(self.schedule.catch_up)
        log.info("desk serve on http://%s:%s (scheduler %s, Slack %s)", self.host, self.port.port,
                 "on" if self.want_scheduler else "off",
                 self.settings.slack.mode if self.want_slack else "off")
        return self

    def _start_slack(self):
        from slack_sdk.errors import SlackApiError

        from desk.slack.app import SlackCommands, build_app, dispatch_http

        s = self.settings.slack
        if s.mode == "http" and not (s.signing_secret and s.signing_secret.get_secret_value()):
            raise DeskError("slack.mode = http needs SLACK_SIGNING_SECRET (the app's Basic Information page)")
        if s.mode == "socket" and not (s.app_token and s.app_token.get_secret_value()):
            raise DeskError("slack.mode = socket needs SLACK_APP_TOKEN (xapp-…, an app-level token with "
                            "connections:write); or set slack.mode = http")
        client = web_client(s)
        try:
            client.auth_test()
        except SlackApiError as exc:
            code = exc.response.get("error") if hasattr(exc.response, "get") else exc
            raise DeskError(f"Slack refused the bot token ({code}): check SLACK_BOT_TOKEN") from None
        except OSError as exc:  # Slack down: serve anyway, the outbox waits
            self.slack_error = f"Slack unreachable at start: {exc}"
            log.warning("%s; reports wait in the outbox", self.slack_error)
        cmds = SlackCommands(self.settings, self.core(), client, self.worker, after=self.poke)
        self.app = build_app(self.settings, cmds)
        self.sender = BackgroundSender(lambda: OutboxSender(open_store(self.settings), client, s,
                                                            redact=wiring.redactor(self.settings)), self.clock)
        self.sender.start()
        if s.mode == "http":
            return partial(dispatch_http, self.app)
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        self.socket = SocketModeHandler(self.app, s.app_token.get_secret_value())
        try:
            self.socket.connect()
        except Exception as exc:  # noqa: BLE001 - Slack down: the socket client retries by itself
            self.slack_error = f"Socket Mode not connected: {exc}"
            log.warning(self.slack_error)
        return None

    def stop(self) -> None:
        if self.apscheduler is not None:
            self.apscheduler.pause()  # no new trigger fires
        done = threading.Event()

        def drain_worker() -> None:  # what runs is let finish; what waits is dropped
            if self.apscheduler is not None:
                self.apscheduler.shutdown(wait=True)
            self.worker.shutdown(wait=True, cancel_futures=True)
            done.set()

        threading.Thread(target=drain_worker, daemon=True).start()
        if not done.wait(self.stop_timeout):
            log.warning("a run did not finish within %.0f s: its last checkpoint is where it resumes",
                        self.stop_timeout)
        if self.socket is not None:
            try:
                self.socket.close()
            except Exception as exc:  # noqa: BLE001 - stopping goes on whatever the socket says
                log.warning("closing Socket Mode: %s", exc)
        if self.sender is not None:
            self.sender.stop()
        if self.dashboard is not None:
            self.dashboard.close()
        if self.port is not None:
            self.port.stop()

    # ------------------------------------------------------------------ health
    def health(self) -> tuple[int, dict[str, Any]]:
        """200 while nothing needs an operator; 503 with each reason (``desk.alerts``) while one does: the desk halted
        or a breaker on, the data stale in sessions, the last scheduled run of a phase failed or skipped, or this
        process's scheduler not running."""
        running = bool(self.apscheduler and self.apscheduler.running)
        out: dict[str, Any] = {"status": "ok"}
        try:
            store = open_store(self.settings)
            try:
                found = alerts(store, self.settings, self.clock(), scheduler=running if self.want_scheduler else None)
                state = store.desk_state()
                out.update(halted=found.halted, halt_reason=state.reason, breakers=found.breakers,
                           data=found.freshness.model_dump(mode="json") | {"stale": found.freshness.stale},
                           failed=[f.model_dump(mode="json") for f in found.failed],
                           paused_runs=len(store.runs(limit=100, status="paused")),
                           outbox=Outbox(store).depth(), schema=store.schema_version())
            finally:
                store.close()
        except Exception as exc:  # noqa: BLE001 - any failure to read the store is an unhealthy desk: 503 with why
            return 503, {"status": "error", "reasons": [f"the store cannot be read: {exc}"], "error": str(exc)}
        out["scheduler"] = ({"running": running, "next": self.schedule.next_runs() if self.schedule else {}}
                            if self.want_scheduler else {"running": False, "wanted": False})
        if self.want_slack:
            connected = None
            if self.socket is not None:
                client = getattr(self.socket, "client", None)
                connected = bool(client and client.is_connected())
            last = self.sender.last if self.sender else None
            out["slack"] = {"mode": self.settings.slack.mode, "connected": connected,
                            "error": self.slack_error or (last.errors[-1] if last and last.errors else None)}
        out["reasons"] = found.reasons
        if found.reasons:
            out["status"] = "attention"
            return 503, out
        return 200, out


def serve_forever(settings: Settings, **kw: Any) -> int:
    """Start, then wait for SIGTERM or SIGINT; stop gracefully."""
    stop = threading.Event()
    server = Serve(settings, **kw).start()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print(f"desk serve: http://{server.host}:{server.port.port}/health — stop with Ctrl-C or SIGTERM", flush=True)
    if server.dashboard is not None:
        print(f"desk serve: the dashboard is at http://{server.host}:{server.port.port}/"
              + ("" if server.dashboard.loopback else " (log in with a member id and DESK_DASHBOARD__TOKEN)"),
              flush=True)
    stop.wait()
    print("desk serve: stopping (a running graph is let finish)", flush=True)
    server.stop()
    return 0
