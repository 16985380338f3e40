"""One typed, frozen settings object.

Precedence, highest first (documented once, here and in the README):
    1. CLI flags (passed to ``load_settings`` as overrides)
    2. ``DESK_*`` environment variables (nested with ``__``: ``DESK_RISK__MAX_POSITIONS=5``)
    3. ``desk.toml``: ``--config PATH``, else ``./desk.toml``, else ``$DESK_HOME/desk.toml``
    4. defaults below
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from desk.errors import ConfigError

REGIMES = ("calm_uptrend", "risk_on_trend", "choppy", "risk_off_trend", "high_vol_panic")

DEFAULT_UNIVERSE = (
    "AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JNJ", "JPM", "KO",
    "LLY", "MRK", "MSFT", "PEP", "PFE", "PG", "RRC", "UNH", "WMT", "XOM",
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataSettings(_Section):
    source: Literal["bundled", "yfinance", "csv"] = "bundled"
    universe: tuple[str, ...] = DEFAULT_UNIVERSE
    benchmark: str = "SP500"
    max_staleness_days: int = Field(4, ge=0, description="calendar days before the latest bar counts as stale")
    max_daily_jump: float = Field(0.75, gt=0, description="an absolute one-day return above this rejects the symbol")


class RiskSettings(_Section):
    max_positions: int = Field(8, ge=1)
    max_weight: float = Field(0.20, gt=0, le=1)
    max_gross: float = Field(1.0, gt=0, le=1.0, description="gross exposure cap (no leverage by default)")
    min_order_value: float = Field(250.0, ge=0)
    cash_reserve: dict[str, float] = Field(
        default_factory=lambda: {
            "calm_uptrend": 0.10, "risk_on_trend": 0.15, "choppy": 0.25,
            "risk_off_trend": 0.30, "high_vol_panic": 0.40,
        }
    )
    trailing_stop: float = Field(0.10, gt=0, lt=1)
    profit_tiers: tuple[float, ...] = (1.0, 2.0, 3.0, 5.0, 8.0)
    tier_exit_fraction: float = Field(0.20, gt=0, le=1)
    tier_trails: tuple[float, ...] = (0.08, 0.07, 0.06, 0.05, 0.04)
    score_collapse: float = Field(0.25, ge=0, le=1, description="exit when a holding's agent support falls below this")
    daily_loss_limit: float = Field(0.05, gt=0, lt=1, description="a one-session equity drop beyond this trips a breaker")
    max_consecutive_errors: int = Field(3, ge=1, description="this many failed runs in a row trip a breaker")
    breaker_sessions: int = Field(5, ge=1, description="sessions a tripped breaker blocks new entries")

    @field_validator("cash_reserve")
    @classmethod
    def _all_regimes(cls, v: dict[str, float]) -> dict[str, float]:
        missing = [r for r in REGIMES if r not in v]
        unknown = [k for k in v if k not in REGIMES]
        if missing or unknown:
            raise ValueError(f"cash_reserve needs exactly the regimes {REGIMES}; missing {missing}, unknown {unknown}")
        if any(not 0 <= x < 1 for x in v.values()):
            raise ValueError("cash_reserve values must be in [0, 1)")
        return v


class PicksSettings(_Section):
    base_threshold: float = Field(150.0, ge=0, le=350)
    hit_rate_window: int = Field(30, ge=5, description="trading days of resolved picks for the adaptive threshold")
    base_weight: float = Field(0.20, gt=0, le=1)
    target_vol: float = Field(0.25, gt=0, description="annualised volatility at which the vol factor is 1")


class BrokerSettings(_Section):
    kind: Literal["paper"] = "paper"
    initial_cash: float = Field(100_000.0, gt=0)
    slippage_bps: float = Field(5.0, ge=0)
    commission_bps: float = Field(1.0, ge=0)
    min_commission: float = Field(1.0, ge=0)


class LLMSettings(_Section):
    provider: Literal["rules"] = "rules"


class MorningSettings(_Section):
    max_intent_age_days: int = Field(3, ge=0, description="trading days")
    max_gap: float = Field(0.05, gt=0)


class ModelSettings(_Section):
    retrain_months: int = Field(3, ge=1, description="walk-forward retraining cadence")
    train_years: int = Field(10, ge=1)
    horizon_days: int = Field(5, ge=1, description="label horizon; also the purge gap before each decision")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DESK_", env_nested_delimiter="__", extra="forbid", frozen=True, validate_default=True,
    )

    home: Path = Field(default_factory=lambda: Path(platformdirs.user_data_dir("desk")))
    data: DataSettings = DataSettings()
    risk: RiskSettings = RiskSettings()
    picks: PicksSettings = PicksSettings()
    broker: BrokerSettings = BrokerSettings()
    llm: LLMSettings = LLMSettings()
    morning: MorningSettings = MorningSettings()
    models: ModelSettings = ModelSettings()

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = _toml_path()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml))
        return tuple(sources)

    @property
    def store_path(self) -> Path:
        return self.home / "desk.sqlite"

    @property
    def checkpoint_path(self) -> Path:
        return self.home / "checkpoints.sqlite"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def broker_path(self) -> Path:
        return self.home / "paper_broker.sqlite"


_CONFIG_FILE: Path | None = None


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


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings; raise ConfigError with a one-line message naming the bad key."""
    global _CONFIG_FILE
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
    except ValueError as exc:  # a TOML syntax error surfaces as TOMLDecodeError (a ValueError)
        raise ConfigError(f"cannot read config {_toml_path()}: {exc}") from None
    finally:
        _CONFIG_FILE = None
    ensure_home(settings.home)
    return settings


def ensure_home(home: Path) -> None:
    try:
        home.mkdir(parents=True, exist_ok=True)
        probe = home / ".write-probe"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
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
