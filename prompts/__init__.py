"""Versioned prompt templates (one file per prompt and version) and their output schemas."""

from __future__ import annotations

from functools import cache
from importlib.resources import files


@cache
def load(name: str, version: str = "v1") -> str:
    """Return the text of ``prompts/<name>.<version>.md``."""
    return files(__package__).joinpath(f"{name}.{version}.md").read_text(encoding="utf-8")
