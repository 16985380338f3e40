"""The model registry: one saved model per (name, cutoff), trained at most once (DESIGN.md §8).

Layout: ``root/<name>/<cutoff ISO date>/`` holds whatever the model's ``save`` writes, with a
``meta.json`` that ``list`` reads. Saving goes to a temporary sibling directory that is renamed
into place, so a crash never leaves a half-written model and two processes racing on the same
cutoff both end up with one complete copy.

This is also where promotion will live: the rule that a candidate replaces the incumbent only
if it beats it out of sample (DESIGN.md §8) belongs here, comparing saved metrics and live
results, not in the trainers. It is not built yet: today the newest cutoff is the model.
"""

from __future__ import annotations

import importlib
import json
import shutil
import uuid
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

_META_FILE = "meta.json"
_TEMP_PREFIX = ".tmp-"

# How to load a saved model of each name, as "module:Class"; imported only when needed so the
# registry never drags in a heavy framework (torch) that the caller does not use.
LOADERS: dict[str, str] = {
    "mean_reversion": "models.mean_reversion:TrainedModel",
}


class RegisteredModel(Protocol):
    """What the registry needs from a trained model."""

    name: str
    version: str
    cutoff: date
    metrics: dict[str, Any]

    def save(self, directory: Path) -> None: ...


M = TypeVar("M", bound=RegisteredModel)


class ModelFileError(Exception):
    """A saved model cannot be read (a damaged or hand-edited file): says which folder and what to do."""


def _meta(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelFileError(f"model metadata {path} is damaged ({exc}); delete its folder {path.parent} and it is "
                             f"retrained on the next run") from exc
    if not isinstance(meta, dict):
        raise ModelFileError(f"model metadata {path} is not a JSON object; delete its folder {path.parent} and it "
                             f"is retrained on the next run")
    return meta


def _resolve(spec: str) -> Callable[[Path], Any]:
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr).load


class ModelRegistry:
    """Saved models under ``root``, with an in-process cache in front of the disk."""

    def __init__(self, root: Path, loaders: Mapping[str, str] | None = None) -> None:
        self.root = Path(root)
        self._loaders = dict(LOADERS if loaders is None else loaders)
        self._cache: dict[tuple[str, date], RegisteredModel] = {}

    def path_for(self, name: str, cutoff: date) -> Path:
        return self.root / name / cutoff.isoformat()

    def get_or_train(self, name: str, cutoff: date, trainer: Callable[[], M], version: str | None = None) -> M:
        """The model ``name`` for ``cutoff``: cached, else loaded from disk, else trained and saved.

        With ``version`` given, a cached or saved model of another version (an older recipe)
        counts as stale and is retrained and replaced.
        """
        def usable(candidate: RegisteredModel | None) -> bool:
            return candidate is not None and (version is None or candidate.version == version)

        key = (name, cutoff)
        model = self._cache.get(key)
        if not usable(model):
            model = self._load(name, cutoff)
        if not usable(model):
            model = trainer()
            self._check(model, name, cutoff, version)
            self._save(model)
        self._cache[key] = cast(M, model)
        return cast(M, model)

    def saved(self, name: str, cutoff: date) -> RegisteredModel | None:
        """The model ``name`` for ``cutoff`` if one is cached or saved (never trains); ModelFileError if damaged."""
        model = self._cache.get((name, cutoff)) or self._load(name, cutoff)
        if model is not None:
            self._cache[(name, cutoff)] = model
        return model

    def has(self, name: str, cutoff: date, version: str | None = None) -> bool:
        """Whether ``name`` for ``cutoff`` (of ``version``, when given) is cached or saved, without loading it."""
        cached = self._cache.get((name, cutoff))
        if cached is not None and (version is None or cached.version == version):
            return True
        meta = self.path_for(name, cutoff) / _META_FILE
        if not meta.is_file():
            return False
        return version is None or _meta(meta).get("version") == version

    def list(self, name: str | None = None) -> list[dict[str, Any]]:
        """Metadata (version, cutoff, metrics, path, …) of every saved model, oldest cutoff first."""
        if name is not None:
            folders = [self.root / name]
        else:
            folders = sorted(self.root.iterdir()) if self.root.is_dir() else []
        rows: list[dict[str, Any]] = []
        for folder in folders:
            if not folder.is_dir() or folder.name.startswith("."):
                continue
            for entry in sorted(folder.iterdir()):
                meta_file = entry / _META_FILE
                if entry.name.startswith(".") or not meta_file.is_file():
                    continue
                rows.append({**_meta(meta_file), "name": folder.name, "path": str(entry)})
        return rows

    def latest(self, name: str, on_or_before: date) -> RegisteredModel | None:
        """The saved model ``name`` with the newest cutoff on or before ``on_or_before``, or None."""
        cutoffs = [date.fromisoformat(row["cutoff"]) for row in self.list(name)]
        eligible = [cutoff for cutoff in cutoffs if cutoff <= on_or_before]
        if not eligible:
            return None
        key = (name, max(eligible))
        model = self._cache.get(key) or self._load(*key)
        if model is not None:
            self._cache[key] = model
        return model

    def _load(self, name: str, cutoff: date) -> RegisteredModel | None:
        directory = self.path_for(name, cutoff)
        if not (directory / _META_FILE).is_file():
            return None
        if name not in self._loaders:
            raise KeyError(f"no loader registered for model {name!r}; add it to models.registry.LOADERS")
        try:
            return _resolve(self._loaders[name])(directory)
        except Exception as exc:  # noqa: BLE001 - any failure to read a saved model is a damaged file
            raise ModelFileError(f"model {name} at {directory} is damaged ({type(exc).__name__}: {exc}); delete "
                                 f"that folder and it is retrained on the next run") from exc

    @staticmethod
    def _check(model: RegisteredModel, name: str, cutoff: date, version: str | None) -> None:
        if model.name != name or model.cutoff != cutoff:
            raise ValueError(f"trainer returned {model.name!r} for {model.cutoff}, expected {name!r} for {cutoff}")
        if version is not None and model.version != version:
            raise ValueError(f"trainer returned version {model.version}, expected {version}")

    def _save(self, model: RegisteredModel) -> None:
        """Write to a temporary sibling, then rename it into place (atomic on one file system);
        a stale copy (another version) is moved aside first and deleted."""
        final = self.path_for(model.name, model.cutoff)
        final.parent.mkdir(parents=True, exist_ok=True)
        temp = final.parent / f"{_TEMP_PREFIX}{final.name}-{uuid.uuid4().hex[:8]}"
        try:
            model.save(temp)
        except Exception as exc:  # noqa: BLE001 - a model that cannot be written whole is not written at all
            shutil.rmtree(temp, ignore_errors=True)
            raise ModelFileError(f"could not write model {model.name} to {final.parent} ({type(exc).__name__}: "
                                 f"{exc}): free space or make the folder writable, then run again") from exc
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
        if final.exists():
            stale = final.parent / f"{_TEMP_PREFIX}stale-{final.name}-{uuid.uuid4().hex[:8]}"
            final.rename(stale)
            shutil.rmtree(stale, ignore_errors=True)
        try:
            temp.rename(final)
        except OSError:  # another process saved the same cutoff first: keep theirs
            shutil.rmtree(temp, ignore_errors=True)
