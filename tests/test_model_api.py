"""The inference API the model tools will wrap: typed arguments and results, one-line errors, and a call through a
LangChain StructuredTool (the wiring the tools layer will do)."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from models.api import AsOfArgs, DirectionResult, HealthResult, ModelService, RegimeResult, SymbolsArgs
from models.errors import ModelError, NoData, NoModel, UnknownSymbol
from models.registry import ModelRegistry
from vocab.terms import REGIME_ORDER
from tests.model_kit import market, model_inputs, promoted, trained  # noqa: F401  (fixtures)

DAY = date(2012, 6, 15)


@pytest.fixture
def service(promoted, model_inputs) -> ModelService:
    return ModelService(promoted, model_inputs)


def test_argument_models_forbid_unknown_fields_and_empty_symbol_lists():
    with pytest.raises(ValidationError):
        SymbolsArgs(as_of=DAY, symbols=[])
    with pytest.raises(ValidationError):
        AsOfArgs(as_of=DAY, horizon=5)
    schema = SymbolsArgs.model_json_schema()
    assert set(schema["required"]) == {"as_of", "symbols"} and schema["properties"]["as_of"]["format"] == "date"


def test_regime_returns_probabilities_over_the_desks_regimes_with_the_model_version(service):
    result = service.regime(AsOfArgs(as_of=DAY))
    assert isinstance(result, RegimeResult) and result.model_version.startswith("regime-gru-tf-")
    assert tuple(result.probabilities) == REGIME_ORDER and abs(sum(result.probabilities.values()) - 1) < 1e-9
    assert result.regime == max(result.probabilities, key=result.probabilities.get)
    assert 0 <= result.disagreement <= 1 and result.session == DAY and result.cutoff < DAY
    for name in REGIME_ORDER:
        assert result.probabilities[name] == pytest.approx((result.gru[name] + result.transformer[name]) / 2)


def test_health_scores_every_symbol_and_names_the_heads_to_trust(service):
    result = service.health(SymbolsArgs(as_of=DAY, symbols=["AAPL", "XOM"]))
    assert isinstance(result, HealthResult) and [s.symbol for s in result.scores] == ["AAPL", "XOM"]
    for score in result.scores:
        assert score.available and 0 <= score.health <= 1 and score.vol_bucket in ("low", "medium", "high")
        assert abs(sum(score.behaviour_probabilities.values()) - 1) < 1e-9
    assert result.validated_heads[0] == "health" and set(result.validated_heads) <= {"health", "vol_bucket", "behaviour"}


@pytest.mark.parametrize("method", ["direction", "mean_reversion"])
def test_direction_and_mean_reversion_give_p_up_per_symbol(service, method):
    result = getattr(service, method)(SymbolsArgs(as_of=DAY, symbols=["JPM", "KO"]))
    assert isinstance(result, DirectionResult) and result.model == method
    assert result.horizon_days == (21 if method == "direction" else 5)
    assert all(s.available and 0 < s.p_up < 1 for s in result.scores)


def test_a_symbol_without_features_that_day_is_unavailable_not_guessed(service):
    from models.inputs import ModelInputs

    assert service.health(SymbolsArgs(as_of=DAY, symbols=["AAPL"])).scores[0].available   # control
    inputs = service.inputs
    trimmed = inputs.panel.drop(index=(inputs.sessions[inputs.position(DAY)], "AAPL"))
    holey = ModelInputs.build(trimmed, inputs.close, inputs.weather, inputs.benchmark)
    [score] = ModelService(service.registry, holey).health(SymbolsArgs(as_of=DAY, symbols=["AAPL"])).scores
    assert not score.available and score.health is None and "features incomplete" in score.reason


def test_an_unknown_symbol_is_a_one_line_error_with_a_suggestion(service):
    with pytest.raises(UnknownSymbol, match=r"unknown symbol 'APPL' \(did you mean 'AAPL'\?\)"):
        service.direction(SymbolsArgs(as_of=DAY, symbols=["AAPL", "APPL"]))


def test_a_date_without_a_usable_model_says_why(service, model_inputs):
    with pytest.raises(NoModel, match="no usable regime model on 2011-01-03: every promoted version is too recent"):
        service.regime(AsOfArgs(as_of=date(2011, 1, 3)))
    empty = ModelService(ModelRegistry(service.registry.root / "nothing-here"), model_inputs)
    with pytest.raises(NoModel, match="no health model has been trained"):
        empty.health(SymbolsArgs(as_of=DAY, symbols=["AAPL"]))
    assert not empty.availability("direction", DAY).usable


def test_rejected_models_are_not_served(trained, model_inputs):
    registry, outcomes, _ = trained
    service = ModelService(registry, model_inputs)
    for name, outcome in outcomes.items():
        available = service.availability(name, date(2012, 9, 3))
        assert available.usable == (outcome.status == "promoted")
        if not available.usable:   # behind its baseline, or ahead by a margin the paired bootstrap cannot tell from 0
            assert "does not beat" in available.reason or "is not significant" in available.reason


def test_a_date_before_the_data_is_no_data(service, model_inputs):
    with pytest.raises(NoData, match="no session on or before 1989-01-02"):
        service.inputs.position(date(1989, 1, 2))
    assert issubclass(NoData, ModelError) and issubclass(ModelError, ValueError)


def test_a_pinned_service_keeps_its_versions_when_a_retrain_promotes_another(promoted, model_inputs, tmp_path):
    import shutil

    from models.catalog import entry
    from tests.model_kit import TINY, passing_evidence

    promoted = ModelRegistry(shutil.copytree(promoted.root, tmp_path / "models"))
    service = ModelService(promoted, model_inputs)
    before = service.availability("direction", DAY).model_version

    newer = entry("direction").train(model_inputs, date(2012, 5, 1), entry("direction").recipe(TINY["direction"]))
    promoted.register(newer)
    promoted.decide("direction", newer.version, passing_evidence("auc", incumbent=before))
    assert service.direction(SymbolsArgs(as_of=DAY, symbols=["KO"])).model_version == before
    assert ModelService(promoted, model_inputs).availability("direction", DAY).model_version == newer.version


def test_a_service_method_works_as_a_langchain_structured_tool(service):
    from langchain_core.tools import StructuredTool

    tool = StructuredTool.from_function(func=lambda **kw: service.direction(SymbolsArgs(**kw)).model_dump(mode="json"),
                                        name="direction_model", description="P(up over 21 sessions) per symbol",
                                        args_schema=SymbolsArgs)
    out = tool.invoke({"as_of": "2012-06-15", "symbols": ["AAPL"]})
    assert out["model"] == "direction" and out["scores"][0]["symbol"] == "AAPL"
    assert set(tool.args) == {"as_of", "symbols"}
