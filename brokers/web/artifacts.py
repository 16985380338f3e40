"""The audit trail of a web execution run: a screenshot and an HTML snapshot per action, and an index of steps.

Files go to ``<dir>/NNNN-<action>[-<client_order_id>].png|.html``; ``<dir>/steps.jsonl`` has one line per step
(sequence, action, client_order_id, page, url, UTC time, files). Snapshots are taken after each action, never
while a secret is typed in a field; page sources hold no typed values (only attributes), so no password is kept.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger("brokers.web")
_SLUG = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Step:
    seq: int
    action: str
    client_order_id: str | None
    page: str | None
    url: str | None
    at: str
    screenshot: str | None
    html: str | None
    error: str | None = None


class Recorder:
    """Records steps under ``directory``; with ``directory=None`` it keeps the index in memory only."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
        self.steps: list[Step] = []
        self._lock = threading.Lock()

    def move_to(self, directory: Path) -> None:
        """Record the next steps under ``directory`` (one folder per run), numbering them afresh."""
        with self._lock:
            directory.mkdir(parents=True, exist_ok=True)
            self.directory, self.steps = directory, []

    def record(self, driver: Any, action: str, client_order_id: str | None = None, page: str | None = None) -> Step:
        with self._lock:
            return self._record(driver, action, client_order_id, page)

    def _record(self, driver: Any, action: str, client_order_id: str | None, page: str | None) -> Step:
        seq = len(self.steps) + 1
        stem = f"{seq:04d}-{_SLUG.sub('_', action)}" + (f"-{_SLUG.sub('_', client_order_id)[:64]}"
                                                        if client_order_id else "")
        png = html = url = error = None
        try:
            url = driver.current_url
            if self.directory is not None:
                png, html = self.directory / f"{stem}.png", self.directory / f"{stem}.html"
                if not driver.save_screenshot(str(png)):
                    png, error = None, "screenshot failed"
                html.write_text(driver.page_source, encoding="utf-8")
        except Exception as exc:  # noqa: BLE001 - the trail records a failed snapshot; it never stops a trade
            error = f"snapshot failed: {type(exc).__name__}"
            log.warning("web broker: %s for step %s", error, stem)
        step = Step(seq, action, client_order_id, page, url, datetime.now(UTC).isoformat(),
                    png.name if png and png.exists() else None, html.name if html and html.exists() else None,
                    error)
        self.steps.append(step)
        if self.directory is not None:
            with (self.directory / "steps.jsonl").open("a", encoding="utf-8") as f:
                f.write(json.dumps(step.__dict__) + "\n")
        return step
