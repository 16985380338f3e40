"""Typed settings of the web broker: where, which site map, credentials (secret), timeouts and the retry policy.

Credentials come from the environment (``BROKER_WEB_USER``, ``BROKER_WEB_PASSWORD``, ``BROKER_WEB_TOTP_SECRET``)
or a TOML secret file (``user``, ``password``, ``totp_secret``) readable by its owner only; ``BROKER_WEB_SECRETS_FILE``
names one. The prefix is not ``DESK_`` on purpose: secrets are not configuration and never enter the desk's settings.
Secrets are ``SecretStr``: they print as ``**********`` and are read only where they are typed into the page.

Retry policy (``RetryPolicy``), stated once:

- an expired or missing session logs in again and repeats the step, at most ``max_logins`` logins per call;
- a re-rendered page (stale element) is re-read and the step repeated, at most ``stale_retries`` times;
- a maintenance page is reloaded every ``maintenance_poll_s`` until ``maintenance_wait_s`` has passed; then a
  submit returns ``unknown`` and a read raises BrokerUnavailable — the caller retries later;
- a submit whose ticket was not sent (session lost before the order was placed) is retried after looking the
  reference up on the blotter again, at most ``submit_attempts`` times;
- a submit whose confirmation does not arrive within ``confirm_s`` is ``unknown``: never re-sent by that call;
  ``status()`` resolves it from the blotter, and a later ``submit`` looks the reference up before sending.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from brokers.base import BrokerError

ENV_PREFIX = "BROKER_WEB_"


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WebCredentials(_Settings):
    user: str = Field(min_length=1)
    password: SecretStr
    totp_secret: SecretStr | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, prefix: str = ENV_PREFIX) -> WebCredentials:
        env = os.environ if environ is None else environ
        if env.get(prefix + "SECRETS_FILE"):
            return cls.from_file(Path(env[prefix + "SECRETS_FILE"]))
        if not env.get(prefix + "USER") or not env.get(prefix + "PASSWORD"):
            raise BrokerError(f"web broker credentials missing: set {prefix}USER and {prefix}PASSWORD (and "
                              f"{prefix}TOTP_SECRET for a one-time code), or {prefix}SECRETS_FILE")
        return cls(user=env[prefix + "USER"], password=SecretStr(env[prefix + "PASSWORD"]),
                   totp_secret=SecretStr(env[prefix + "TOTP_SECRET"]) if env.get(prefix + "TOTP_SECRET") else None)

    @classmethod
    def from_file(cls, path: Path) -> WebCredentials:
        if not path.is_file():
            raise BrokerError(f"web broker secret file {path} not found")
        if os.name == "posix" and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise BrokerError(f"web broker secret file {path} is readable by others; run chmod 600 {path}")
        try:
            raw = tomllib.loads(path.read_text())
            return cls(user=raw.get("user", ""), password=SecretStr(str(raw.get("password", ""))),
                       totp_secret=SecretStr(str(raw["totp_secret"])) if raw.get("totp_secret") else None)
        except (tomllib.TOMLDecodeError, ValidationError, AttributeError) as exc:
            kind = type(exc).__name__
            raise BrokerError(f"web broker secret file {path} is unusable ({kind}); it needs user, password and "
                              "optionally totp_secret") from None


class Timeouts(_Settings):
    page_s: float = Field(20.0, gt=0, description="a page load")
    element_s: float = Field(10.0, gt=0, description="an element or a page state to appear")
    confirm_s: float = Field(15.0, gt=0, description="the confirmation after placing an order")
    poll_s: float = Field(0.05, gt=0, le=1, description="how often an explicit wait looks again")


class RetryPolicy(_Settings):
    max_logins: int = Field(3, ge=1)
    stale_retries: int = Field(5, ge=1)
    submit_attempts: int = Field(3, ge=1)
    maintenance_wait_s: float = Field(60.0, ge=0)
    maintenance_poll_s: float = Field(2.0, gt=0)


class BrowserSettings(_Settings):
    chromium: Path = Path("/usr/bin/chromium")
    chromedriver: Path = Path("/usr/bin/chromedriver")
    headed: bool = False
    loopback_only: bool = Field(False, description="the browser may reach 127.0.0.1 only (tests, the sandbox)")
    window: tuple[int, int] = (1280, 900)
    extra_args: tuple[str, ...] = ()


class WebBrokerSettings(_Settings):
    url: str
    credentials: WebCredentials
    site: str = "sandbox"
    artifacts_dir: Path | None = None
    timeouts: Timeouts = Timeouts()
    retry: RetryPolicy = RetryPolicy()
    browser: BrowserSettings = BrowserSettings()

    @field_validator("url")
    @classmethod
    def _http(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"broker url must start with http:// or https:// (got {v!r})")
        return v.rstrip("/")
