"""One typed, frozen settings object.

Precedence, highest first (documented once, here and in the README):
    1. CLI flags (passed to ``load_settings`` as overrides)
    2. ``DESK_*`` environment variables (nested with ``__``: ``DESK_RISK__MAX_POSITIONS=5``)
    3. ``desk.toml``: ``--config PATH``, else ``./desk.toml``, else ``$DESK_HOME/desk.toml``
    4. ``$DESK_HOME/tuned.toml``: the parameters `desk tune` adopted (beaten on the validation years, never the
       hold-out); delete it to return to the defaults
    5. defaults (``graph.config``: the sections and their defaults)

Slack's tokens are read from Slack's own variable names (``SLACK_BOT_TOKEN``, ``SLACK_APP_TOKEN``,
``SLACK_SIGNING_SECRET``) at the environment's rank; they are ``SecretStr`` and never printed or recorded.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import Field, ValidationError
from pydantic_settings import (BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError,
                               TomlConfigSettingsSource)

from desk.errors import ConfigError, shorten
from graph.config import DeskConfig


class Settings(BaseSettings, DeskConfig):
    """``DeskConfig`` read from flags, the environment and ``desk.toml`` (in that precedence)."""

    model_config = SettingsConfigDict(
        env_prefix="DESK_", env_nested_delimiter="__", extra="forbid", frozen=True, validate_default=True,
    )

    home: Path = Field(default_factory=lambda: Path(platformdirs.user_data_dir("desk")))

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = _toml_path()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, SlackTokens(settings_cls)]
        if toml is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml))
        tuned = _tuned_path(getattr(init_settings, "init_kwargs", {}).get("home"))
        if tuned is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=tuned))
        return tuple(sources)


SLACK_TOKEN_VARS = {"SLACK_BOT_TOKEN": "bot_token", "SLACK_APP_TOKEN": "app_token",
                    "SLACK_SIGNING_SECRET": "signing_secret"}


class SlackTokens(PydanticBaseSettingsSource):
    """``slack.bot_token`` / ``app_token`` / ``signing_secret`` from Slack's conventional variables."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        found = {key: os.environ[var] for var, key in SLACK_TOKEN_VARS.items() if os.environ.get(var, "").strip()}
        return {"slack": found} if found else {}


_CONFIG_FILE: Path | None = None


def _tuned_path(home: Any) -> Path | None:
    """``tuned.toml`` in the home (given, else DESK_HOME, else the default), if `desk tune` adopted one."""
    folder = Path(home) if home else Path(os.environ.get("DESK_HOME") or platformdirs.user_data_dir("desk"))
    path = folder / "tuned.toml"
    return path if path.is_file() else None


def _toml_path() -> Path | None:
    if _CONFIG_FILE is not None:
        return _CONFIG_FILE
    cwd = Path.cwd() / "desk.toml"
    if cwd.is_file():
        return cwd
    home = os.environ.get("DESK_HOME")
    if home and (Path(home) / "desk.toml").is_file():
        return Path(home) / "desk.toml"
    return None


def _unreadable(home: Any) -> Path | None:
    """Which of the configuration files (desk.toml, then the adopted tuned.toml) is not valid TOML, if one is."""
    import tomllib

    for path in (_toml_path(), _tuned_path(home)):
        if path is None:
            continue
        try:
            tomllib.loads(path.read_text(encoding="utf-8", errors="replace"))
        except (OSError, ValueError):
            return path
    return None


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings; raise ConfigError with a one-line message naming the bad key."""
    global _CONFIG_FILE
    if "DESK_HOME" in os.environ and not os.environ["DESK_HOME"].strip() and overrides.get("home") is None:
        raise ConfigError("DESK_HOME is set but empty: set it to a folder, or unset it for the default")
    check_home_length(overrides.get("home") or os.environ.get("DESK_HOME"))
    for key in os.environ:
        if key.startswith("DESK_") and key[5:].split("__")[0].lower() not in Settings.model_fields:
            raise ConfigError(f"unknown configuration key in environment variable {key}")
    if config is not None and not Path(config).is_file():
        raise ConfigError(f"config file not found: {config}")
    _CONFIG_FILE = Path(config) if config is not None else None
    try:
        settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise ConfigError(_one_line(exc)) from None
    except SettingsError as exc:  # a DESK_* value that is not the JSON a nested setting needs
        section = exc.args[0].split('"')[1] if exc.args and '"' in exc.args[0] else ""
        names = sorted(k for k in os.environ if k.upper().startswith(f"DESK_{section.upper()}"))
        raise ConfigError(f"cannot parse {', '.join(names) or 'a DESK_* variable'}: a list or table setting is JSON, "
                          f"e.g. DESK_DATA__UNIVERSE='[\"AAPL\", \"MSFT\"]'") from None
    except ValueError as exc:  # a TOML syntax error surfaces as TOMLDecodeError (a ValueError)
        raise ConfigError(f"cannot read config {_unreadable(overrides.get('home')) or _toml_path()}: {exc}") from None
    finally:
        _CONFIG_FILE = None
    ensure_home(settings.home)
    return settings


# The deepest file the desk writes under its home is at most this long (a replay's store and caches, a model's
# files, a run's screenshots): a home whose path leaves less room is refused before anything is written.
HOME_ROOM = 200


def check_home_length(home: Any) -> None:
    """Refuse, in one line, a DESK_HOME the file system cannot hold: a folder name over its name limit (255 bytes on
    most), or a path too long to leave room for the desk's files under it (PATH_MAX, 4096 on Linux)."""
    if not home:
        return
    path = Path(home).expanduser().absolute()
    probe = next((p for p in (path, *path.parents) if _exists(p)), Path("/"))
    name_max, path_max = _limit(probe, "PC_NAME_MAX", 255), _limit(probe, "PC_PATH_MAX", 4096)
    long_names = [part for part in path.parts if len(os.fsencode(part)) > name_max]
    if long_names:
        raise ConfigError(f"DESK_HOME has a folder name of {len(os.fsencode(long_names[0]))} bytes, longer than the "
                          f"file system's {name_max} ({shorten(long_names[0], 30)}): choose a shorter DESK_HOME")
    size = len(os.fsencode(str(path)))
    if size + HOME_ROOM > path_max:
        raise ConfigError(f"DESK_HOME is {size} bytes long: the file system's paths stop at {path_max}, and the desk "
                          f"needs {HOME_ROOM} more for its files ({shorten(str(path))}): choose a shorter DESK_HOME")


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a name too long to ask about
        return False


def _limit(path: Path, name: str, default: int) -> int:
    try:
        return int(os.pathconf(path, name))
    except (OSError, ValueError):
        return default


def ensure_home(home: Path) -> None:
    try:
        home.mkdir(parents=True, exist_ok=True)
        probe = home / f".write-probe-{os.getpid()}"  # per process: two desks starting at once do not collide
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise ConfigError(f"no space left in DESK_HOME {home}: free space and run again") from None
        raise ConfigError(f"DESK_HOME {home} cannot be written ({exc.strerror}); set DESK_HOME to a writable folder") from None


def _one_line(exc: ValidationError) -> str:
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"]) or "settings"
    if err["type"] == "extra_forbidden":
        msg = f"unknown configuration key '{key}'"
    else:
        msg = f"configuration key '{key}': {err['msg']}"
    more = len(exc.errors()) - 1
    return msg + (f" (and {more} more)" if more else "")
