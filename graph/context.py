"""The runtime context a graph run carries: the organs, built once and frozen (context is never checkpointed, so
no secret ever reaches a checkpoint). ``assemble`` builds it from the parts it is handed, with defaults from the
configuration for the parts it is not."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from brokers.base import Broker, QuantityRules
from brokers.paper import PaperBroker, StorePriceSource
from graph.config import DeskConfig, secret_values
from graph.providers.base import OverlayProvider
from graph.providers.factory import provider_for
from graph.redact import Redactor, env_secrets
from graph.reporting import Fanout, Reporter, StoreReporter
from memory.store import Store, open_store
from models.registry import ModelRegistry
from tools.agents import AgentToolkit
from tools.market import MarketView


@dataclass(frozen=True)
class DeskContext:
    config: DeskConfig
    store: Store
    market: MarketView
    registry: ModelRegistry
    provider: OverlayProvider
    reporter: Reporter
    broker: Broker
    tools: AgentToolkit
    redact: Redactor


def paper_broker(config: DeskConfig, store: Store, market: MarketView) -> PaperBroker:
    """The paper broker of a desk, its clock at the latest stored session (the morning nodes move it)."""
    b = config.broker
    sessions = market.sessions
    start = sessions[-1].date() if len(sessions) else date.today()
    return PaperBroker(config.broker_path, StorePriceSource(store), start, initial_cash=b.initial_cash,
                       slippage_bps=b.slippage_bps, commission_bps=b.commission_bps, min_commission=b.min_commission,
                       quantity=QuantityRules(decimals=b.quantity_decimals, min_notional=b.min_notional))


def web_broker(config: DeskConfig) -> Broker:
    """The Selenium web broker for ``broker.url`` (credentials from BROKER_WEB_* or a secret file); its browser
    starts on first use, and each morning's screenshots go under ``$DESK_HOME/artifacts/<run id>/``."""
    from brokers.web.broker import WebBroker
    from brokers.web.config import BrowserSettings, WebBrokerSettings, WebCredentials

    b = config.broker
    return WebBroker(WebBrokerSettings(
        url=b.url, credentials=WebCredentials.from_env(), site=b.site, artifacts_dir=config.artifacts_dir,
        browser=BrowserSettings(chromium=b.chromium, chromedriver=b.chromedriver, headed=b.headed)))


def alpaca_broker(config: DeskConfig) -> Broker:
    """Alpaca through alpaca-py: keys from APCA_API_KEY_ID / APCA_API_SECRET_KEY or APCA_SECRETS_FILE, paper unless
    ``broker.alpaca.live``; ``broker.url`` (a loopback or proxy) replaces Alpaca's address."""
    from brokers.alpaca.broker import AlpacaBroker
    from brokers.alpaca.config import AlpacaKeys

    return AlpacaBroker(AlpacaKeys.from_env(), config.broker.url, config.broker.alpaca)


def live_notice(broker: Broker) -> str:
    """The line every report of a run on a live (real money) account begins with; empty otherwise."""
    return f"{broker.notice}; " if getattr(broker, "live", False) else ""  # type: ignore[attr-defined]  # only a live broker has one


def make_broker(config: DeskConfig, store: Store, market: MarketView) -> Broker:
    kind = config.broker.kind
    if kind == "web":
        return web_broker(config)
    if kind == "alpaca":
        return alpaca_broker(config)
    return paper_broker(config, store, market)


def assemble(config: DeskConfig, *, store: Store | None = None, market: MarketView | None = None,
             registry: ModelRegistry | None = None, provider: OverlayProvider | None = None,
             broker: Broker | None = None, tools: AgentToolkit | None = None,
             reporters: Sequence[Reporter] = (), redact: Redactor | None = None) -> DeskContext:
    """A frozen context from the given parts; each part not given is built from ``config``."""
    store = store or open_store(config)
    if market is None:
        market = MarketView(store, tuple(config.data.universe), config.data.benchmark, cache_dir=config.cache_dir)
    registry = registry or ModelRegistry(config.models_dir, promotion=config.models.promotion)
    redact = redact or Redactor([*secret_values(config), *env_secrets()])
    return DeskContext(
        config=config, store=store, market=market, registry=registry,
        provider=provider or provider_for(config, store=store, market=market, redact=redact),
        reporter=Fanout([StoreReporter(store), *reporters]),
        broker=broker or make_broker(config, store, market),
        tools=tools or AgentToolkit.from_config(config, market, registry),
        redact=redact)
