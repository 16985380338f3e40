"""What every trained model shares: the protocol, the desk's periods, versions and artifact hashing (ARCHITECTURE.md:
the hold-out, Models).

A trained model is a plain object with a name, a version (its recipe hashed with its cutoff), the cutoff (the last
date of data any of its labels read), the dates of its first and last training rows, the recipe, its metrics, its
label horizon in sessions (the purge gap), its feature list and its seed, and it saves itself into a directory.
The registry stores what ``save`` writes plus a content hash of those files, so a corrupt or half-copied
artifact is refused on load instead of predicting nonsense.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import json
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar, Protocol, runtime_checkable

from models.errors import ModelFileError

# The desk's periods (evals.metrics): in-sample up to 2014, validation 2015-2018, hold-out from 2019-01-01 on.
IN_SAMPLE_END = date(2014, 12, 31)
VALIDATION_END = date(2018, 12, 31)

META_FILE = "meta.json"
STATUS_FILE = "status.json"
_NOT_CONTENT = {META_FILE, STATUS_FILE}


class RecipeFields:
    """A trained model's label horizon, feature list and seed, read from its recipe (``params``): the one reading
    of them every model class shares (the mean-reversion booster keeps its seed as LightGBM's ``random_state``)."""

    params: dict[str, Any]
    seed_key: ClassVar[str] = "seed"

    @property
    def horizon(self) -> int:
        return int(self.params["horizon"])

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(self.params.get("features", ()))

    @property
    def seed(self) -> int:
        return int(self.params.get(self.seed_key, 0))


class CorruptArtifact(ModelFileError):
    """A saved model whose files do not match the content hash recorded when it was written."""


@runtime_checkable
class TrainedModel(Protocol):
    """The common trained-model protocol: what the registry, the walk-forward driver and the API rely on."""

    name: str
    version: str
    cutoff: date
    trained_on: tuple[date, date]
    params: dict[str, Any]
    metrics: dict[str, Any]

    @property
    def horizon(self) -> int: ...

    @property
    def features(self) -> tuple[str, ...]: ...

    @property
    def seed(self) -> int: ...

    def save(self, directory: Path) -> None: ...


def era(day: date) -> str:
    """The desk period a date falls in: 'in_sample' (to 2014), 'validation' (2015-2018) or 'holdout' (2019 on)."""
    if day <= IN_SAMPLE_END:
        return "in_sample"
    return "validation" if day <= VALIDATION_END else "holdout"


def recipe_digest(recipe: dict[str, Any]) -> str:
    """Eight hex digits of the SHA-256 of the recipe as sorted JSON: the same recipe always gives the same digest."""
    return hashlib.sha256(json.dumps(recipe, sort_keys=True, default=str).encode()).hexdigest()[:8]


def make_version(prefix: str, cutoff: date, recipe: dict[str, Any]) -> str:
    """``<prefix>-<cutoff>-<digest>``, e.g. ``regime-gru-tf-2018-09-21-1a2b3c4d``."""
    return f"{prefix}-{cutoff.isoformat()}-{recipe_digest(recipe)}"


def code_version(*modules: ModuleType) -> str:
    """Twelve hex digits over the source of ``modules`` and the versions of torch, ncps and lightgbm.

    Recorded beside each artifact (not hashed into its version), so a listing shows which code trained it.
    """
    digest = hashlib.sha256()
    for module in modules:
        digest.update(inspect.getsource(module).encode())
    for package in ("torch", "ncps", "lightgbm", "numpy"):
        try:
            digest.update(f"{package}={importlib.metadata.version(package)}".encode())
        except importlib.metadata.PackageNotFoundError:
            digest.update(f"{package}=absent".encode())
    return digest.hexdigest()[:12]


def content_hash(directory: Path) -> str:
    """SHA-256 over every file of an artifact directory (names and bytes, sorted), except meta and status."""
    digest = hashlib.sha256()
    for path in sorted(Path(directory).rglob("*")):
        if path.is_file() and path.name not in _NOT_CONTENT:
            digest.update(path.relative_to(directory).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def write_meta(directory: Path, meta: dict[str, Any]) -> None:
    """Write ``meta.json`` last, with the content hash of the files already written beside it."""
    meta = {**meta, "content_hash": content_hash(directory)}
    (Path(directory) / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True, default=str))


def read_meta(directory: Path, verify: bool = True) -> dict[str, Any]:
    """Read ``meta.json``; with ``verify``, raise CorruptArtifact when the files no longer match its hash."""
    directory = Path(directory)
    meta = json.loads((directory / META_FILE).read_text())
    if verify and "content_hash" in meta and content_hash(directory) != meta["content_hash"]:
        raise CorruptArtifact(f"model files at {directory} are damaged: they do not match the recorded content hash; "
                              f"delete that folder and the model is retrained on the next run")
    return meta


def dates_of(meta: dict[str, Any]) -> tuple[date, tuple[date, date]]:
    """(cutoff, trained_on) from a meta dict."""
    first, last = (date.fromisoformat(day) for day in meta["trained_on"])
    return date.fromisoformat(meta["cutoff"]), (first, last)
