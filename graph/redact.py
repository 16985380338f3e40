"""Scrub secrets from text before it is stored, reported or logged (ARCHITECTURE.md: Contracts: keys never reach state
or a record).

A ``Redactor`` knows the secret values it was given (the configuration's ``SecretStr`` fields and the environment's
keys, tokens, secrets and passwords) and the shapes of the API tokens the desk's adapters use. Exception text from
an adapter passes through it before it reaches a run record, a step summary, a breaker reason or the error log.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path

MASK = "***"
SECRET_ENV_SUFFIXES = ("_KEY", "_KEY_ID", "_TOKEN", "_SECRET", "_PASSWORD", "_PASSWD")  # _KEY_ID: Alpaca's
MIN_SECRET_LENGTH = 6  # shorter values would mask ordinary words
SECRETS_FILE_SUFFIX = "_SECRETS_FILE"  # names a TOML file of secrets
TOKEN_SHAPES = (
    re.compile(r"\bsk-[A-Za-z0-9_\-]{12,}"),          # OpenAI / Anthropic API keys
    re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{8,}"),    # Slack bot / user tokens
    re.compile(r"\bxapp-[A-Za-z0-9\-]{8,}"),           # Slack app-level tokens
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._\-]{12,}"),  # an Authorization header echoed back
)


def env_secrets(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of environment variables whose names say they hold a secret, and the values in the TOML secrets files
    such variables name (``APCA_SECRETS_FILE``, ``BROKER_WEB_SECRETS_FILE``)."""
    env = os.environ if environ is None else environ
    found = [v for k, v in env.items() if k.upper().endswith(SECRET_ENV_SUFFIXES) and len(v) >= MIN_SECRET_LENGTH]
    for key, value in env.items():
        if key.upper().endswith(SECRETS_FILE_SUFFIX) and value:
            found += _file_secrets(Path(value))
    return found


def _file_secrets(path: Path) -> list[str]:
    """Every string value in a TOML secrets file; nothing when it cannot be read (its broker says why)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []
    values, todo = [], [data]
    while todo:
        for v in todo.pop().values():
            if isinstance(v, dict):
                todo.append(v)
            elif isinstance(v, str) and len(v.strip()) >= MIN_SECRET_LENGTH:
                values.append(v.strip())
    return values


class Redactor:
    """Replace every known secret value and token-shaped string in a text with ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)
        self._values = tuple(values)

    def __call__(self, text: str) -> str:
        for value in self._values:
            text = text.replace(value, MASK)
        for shape in TOKEN_SHAPES:
            text = shape.sub(MASK, text)
        return text
