"""The model registry: immutable saved versions, their promotion status, and "which model may be used on D"
(ARCHITECTURE.md: invariant 4, Models).

Layout: ``root/<name>/<version>/`` holds what the model's ``save`` writes, with a ``meta.json`` carrying the
content hash, training window, features, seed, metrics and code version (models.base), and, once decided, a
``status.json``: promoted or rejected, the reason, the incumbent it was compared with and the evidence. Older
stores' ``root/<name>/<cutoff>/`` folders are read the same way.

Concurrency (a cron retrain beside a running desk): a version is written to a temporary sibling and renamed into
place, so it appears whole or not at all; a saved version is never rewritten, only its status file, which is
replaced atomically (``os.replace``) under a per-name ``flock``. Readers take a ``snapshot()`` once per run and
load the versions it names into memory, so a promotion half-way through a run changes nothing for that run.

Two paths use it: ``get_or_train`` is the cache the mean-reversion agent uses today (one model per cutoff, not
gated); ``register`` / ``decide`` / ``snapshot().usable`` is the gated path: only promoted versions are used.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from models.base import META_FILE, STATUS_FILE, TrainedModel
from models.errors import ModelFileError
from models.promotion import Decision, Evidence, Promotion, judge
from models.snapshot import RegistrySnapshot

_TEMP_PREFIX = ".tmp-"

# How to load a saved model of each name, as "module:Class"; imported only when needed so the registry never
# drags in a heavy framework (torch) that the caller does not use.
LOADERS: dict[str, str] = {
    "mean_reversion": "models.mean_reversion:TrainedModel",
    "regime": "models.regime:RegimeEnsemble",
    "health": "models.health:HealthModel",
    "direction": "models.direction:DirectionModel",
    "vol_state": "models.vol_state:VolStateModel",
    "garch": "models.garch:GarchModel",
    "rl_sizer": "models.rl_sizer:RLSizer",
}

M = TypeVar("M", bound=TrainedModel)


class StaleEvidence(RuntimeError):
    """The incumbent changed between gathering the evidence and deciding: gather it again."""


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelFileError(f"model file {path} is damaged ({exc}); delete its folder {path.parent} and the model is "
                             f"retrained on the next run") from exc
    if not isinstance(data, dict):
        raise ModelFileError(f"model file {path} is not a JSON object; delete its folder {path.parent} and the model "
                             f"is retrained on the next run")
    return data


def _resolve(spec: str) -> Callable[[Path], Any]:
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr).load


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    temp = path.with_name(f"{_TEMP_PREFIX}{path.name}-{uuid.uuid4().hex[:8]}")
    temp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str))
    os.replace(temp, path)


class ModelRegistry:
    """Saved models under ``root``, with an in-process cache of loaded versions."""

    def __init__(self, root: Path, loaders: Mapping[str, str] | None = None,
                 promotion: Promotion | None = None) -> None:
        self.root = Path(root)
        self.promotion = promotion or Promotion()
        self._loaders = dict(LOADERS if loaders is None else loaders)
        self._cache: dict[tuple[str, str], TrainedModel] = {}

    # ------------------------------------------------------------------ reading
    def list(self, name: str | None = None) -> list[dict[str, Any]]:
        """Metadata of every saved version (status, reason, path, ...), oldest cutoff first."""
        return [dict(row) for row in self.snapshot().rows if name is None or row["name"] == name]

    def snapshot(self) -> RegistrySnapshot:
        """Every saved version's metadata and status, read once: what one run should use throughout."""
        rows: list[dict[str, Any]] = []
        folders = sorted(self.root.iterdir()) if self.root.is_dir() else []
        for folder in folders:
            if not folder.is_dir() or folder.name.startswith("."):
                continue
            for entry in sorted(folder.iterdir()):
                meta_file = entry / META_FILE
                if entry.name.startswith(".") or not meta_file.is_file():
                    continue
                meta = _json(meta_file)
                status_file = entry / STATUS_FILE
                status = _json(status_file) if status_file.is_file() else {"status": "candidate"}
                rows.append({**meta, **status, "name": folder.name, "path": str(entry)})
        rows.sort(key=lambda row: (row["name"], row["cutoff"], row.get("decided_at") or "", row["version"]))
        return RegistrySnapshot(tuple(rows))

    def load(self, name: str, version: str) -> TrainedModel:
        """The saved version, loaded once per registry object (its files are verified against their hash)."""
        key = (name, version)
        if key not in self._cache:
            row = self.snapshot().row(name, version)
            if row is None:
                raise KeyError(f"no saved {name} model {version!r}")
            self._cache[key] = self._load_path(name, Path(row["path"]))
        return self._cache[key]

    def pin(self, snapshot: RegistrySnapshot, name: str, as_of: date, sessions: Any) -> TrainedModel:
        """The promoted model usable on ``as_of`` according to ``snapshot``, loaded; NoModel (with the reason)."""
        from models.errors import NoModel

        available = snapshot.usable(name, as_of, sessions)
        if available.version is None:
            raise NoModel(name, as_of, available.reason)
        return self.load(name, available.version)

    def _load_path(self, name: str, directory: Path) -> TrainedModel:
        if name not in self._loaders:
            raise KeyError(f"no loader registered for model {name!r}; add it to models.registry.LOADERS")
        try:
            return _resolve(self._loaders[name])(directory)
        except ModelFileError:
            raise
        except Exception as exc:  # any failure to read a saved model is a damaged file
            raise ModelFileError(f"model {name} at {directory} is damaged ({type(exc).__name__}: {exc}); delete that "
                                 f"folder and it is retrained on the next run") from exc

    def has(self, name: str, cutoff: date, version: str | None = None) -> bool:
        """Whether a version of ``name`` for ``cutoff`` (``version``, when given) is saved, without loading it."""
        return any(r["cutoff"] == cutoff.isoformat() and (version is None or r["version"] == version)
                   for r in self.list(name))

    def saved(self, name: str, cutoff: date) -> TrainedModel | None:
        """The newest saved version of ``name`` for ``cutoff``, loaded (never trains); ModelFileError if damaged."""
        rows = [r for r in self.list(name) if r["cutoff"] == cutoff.isoformat()]
        return self.load(name, rows[-1]["version"]) if rows else None

    # ------------------------------------------------------------------ the gated path
    def register(self, model: TrainedModel) -> dict[str, Any]:
        """Save ``model`` as a candidate (a no-op when that version is already saved); its row."""
        if self.snapshot().row(model.name, model.version) is None:
            self._save(model, self.root / model.name / model.version)
        self._cache.setdefault((model.name, model.version), model)
        row = self.snapshot().row(model.name, model.version)
        assert row is not None
        return row

    def decide(self, name: str, version: str, evidence: Evidence) -> Decision:
        """Apply the promotion rule (models.promotion.judge) and record the status, under the name's lock.

        Raises StaleEvidence when the incumbent is no longer the one the evidence was gathered against.
        """
        with self._lock(name):
            snap = self.snapshot()
            row = snap.row(name, version)
            if row is None:
                raise KeyError(f"register {name} {version} before deciding on it")
            current = snap.incumbent(name, before=date.fromisoformat(row["cutoff"]), excluding=version)
            if (current["version"] if current else None) != evidence.incumbent:
                raise StaleEvidence(f"{name}: the incumbent is now {current and current['version']}, "
                                    f"not {evidence.incumbent}")
            decision = judge(evidence, current["metrics"] if current else None, self.promotion)
            _write_json_atomic(Path(row["path"]) / STATUS_FILE, {
                "status": decision.status, "reason": decision.reason, "incumbent": decision.incumbent,
                "evidence": decision.evidence, "decided_at": datetime.now(UTC).isoformat(timespec="microseconds")})
            return decision

    @contextlib.contextmanager
    def _lock(self, name: str) -> Iterator[None]:
        locks = self.root / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        with open(locks / f"{name}.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # ------------------------------------------------------------------ the cache path (tools/agents.py)
    def get_or_train(self, name: str, cutoff: date, trainer: Callable[[], M], version: str | None = None) -> M:
        """The model ``name`` for ``cutoff``: cached, else loaded from disk, else trained and saved.

        With ``version`` given, a saved model of another version (an older recipe) at that cutoff counts as
        stale: the new one is trained and saved, and undecided stale versions are removed (decided ones are
        kept: they are part of the promotion record).
        """
        rows = [r for r in self.list(name) if r["cutoff"] == cutoff.isoformat()
                and (version is None or r["version"] == version)]
        if rows:
            return cast(M, self.load(name, rows[-1]["version"]))
        model = trainer()
        self._check(model, name, cutoff, version)
        self._save(model, self.root / name / model.version)
        self._cache[(name, model.version)] = model
        for stale in self.list(name):
            if stale["cutoff"] == cutoff.isoformat() and stale["version"] != model.version \
                    and stale["status"] == "candidate":
                self._discard(Path(stale["path"]))
        return model

    def latest(self, name: str, on_or_before: date) -> TrainedModel | None:
        """The saved model ``name`` with the newest cutoff on or before ``on_or_before`` (any status), or None."""
        eligible = [r for r in self.list(name) if date.fromisoformat(r["cutoff"]) <= on_or_before]
        return self.load(name, eligible[-1]["version"]) if eligible else None

    @staticmethod
    def _check(model: TrainedModel, name: str, cutoff: date, version: str | None) -> None:
        if model.name != name or model.cutoff != cutoff:
            raise ValueError(f"trainer returned {model.name!r} for {model.cutoff}, expected {name!r} for {cutoff}")
        if version is not None and model.version != version:
            raise ValueError(f"trainer returned version {model.version}, expected {version}")

    # ------------------------------------------------------------------ writing
    @staticmethod
    def _save(model: TrainedModel, final: Path) -> None:
        """Write to a temporary sibling, then rename it into place (atomic on one file system); if another
        process saved the same version first, keep theirs."""
        temp = final.parent / f"{_TEMP_PREFIX}{final.name}-{uuid.uuid4().hex[:8]}"
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            model.save(temp)
            temp.rename(final)
        except Exception as exc:  # a model that cannot be written whole is not written at all
            if not (final / META_FILE).is_file():  # (another process saving the same version first is fine)
                shutil.rmtree(temp, ignore_errors=True)
                raise ModelFileError(f"could not write model {model.name} to {final.parent} ({type(exc).__name__}: "
                                     f"{exc}): free space or make the folder writable, then run again") from exc
        finally:
            shutil.rmtree(temp, ignore_errors=True)

    @staticmethod
    def _discard(directory: Path) -> None:
        stale = directory.parent / f"{_TEMP_PREFIX}stale-{directory.name}-{uuid.uuid4().hex[:8]}"
        directory.rename(stale)
        shutil.rmtree(stale, ignore_errors=True)
