"""Registry: promotion and rejection with reasons, version lookup by date, atomic artifacts, a reader beside a
retrain in another process. Uses a toy model so the rules are tested without training anything."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from models.base import CorruptArtifact
from models.promotion import Evidence, Promotion
from models.registry import ModelRegistry, StaleEvidence
from models.snapshot import gap_sessions
from tests.model_kit import TOY_LOADERS, evaluation, passing_evidence, payload_for, toy

SESSIONS = pd.bdate_range("2000-01-03", "2003-12-31")


@pytest.fixture
def registry(tmp_path) -> ModelRegistry:
    return ModelRegistry(tmp_path / "models", loaders=TOY_LOADERS, promotion=Promotion(test="point"))


def _promote(registry: ModelRegistry, model, incumbent: str | None = None) -> None:
    registry.register(model)
    assert registry.decide("toy", model.version, passing_evidence(incumbent=incumbent)).status == "promoted"


def test_candidate_beating_its_baseline_with_no_incumbent_is_promoted(registry):
    model = toy(date(2001, 3, 1))
    registry.register(model)
    decision = registry.decide("toy", model.version, Evidence("auc", evaluation(0.56)))
    assert decision.status == "promoted" and "beats its naive baseline" in decision.reason
    [row] = registry.list("toy")
    assert row["status"] == "promoted" and row["reason"] == decision.reason and len(row["content_hash"]) == 64


def test_candidate_not_beating_its_baseline_is_kept_rejected_with_the_reason(registry):
    model = toy(date(2001, 3, 1))
    registry.register(model)
    decision = registry.decide("toy", model.version, Evidence("auc", evaluation(0.49, baseline=0.5)))
    assert decision.status == "rejected"
    assert decision.reason.startswith("does not beat its naive baseline out of sample: auc 0.4900 <= zero_skill 0.5000")
    [row] = registry.list("toy")
    assert row["status"] == "rejected" and Path(row["path"]).is_dir()
    available = registry.snapshot().usable("toy", date(2003, 1, 2), SESSIONS)
    assert not available.usable and "is rejected: does not beat its naive baseline" in available.reason


def test_below_baseline_is_never_promoted_even_when_it_beats_the_incumbent(registry):
    _promote(registry, toy(date(2001, 3, 1)))
    candidate = toy(date(2002, 3, 1))
    registry.register(candidate)
    shared = (evaluation(0.52), evaluation(0.40))
    evidence = Evidence("auc", evaluation(0.52, baseline=0.53), "toy-2001-03-01-a", shared)
    assert registry.decide("toy", candidate.version, evidence).status == "rejected"


def test_candidate_not_beating_the_incumbent_on_shared_rows_is_rejected_naming_it(registry):
    _promote(registry, toy(date(2001, 3, 1)))
    candidate = toy(date(2002, 3, 1))
    registry.register(candidate)
    shared = (evaluation(0.55, start="2001-06-01"), evaluation(0.57, start="2001-06-01"))
    decision = registry.decide("toy", candidate.version, Evidence("auc", evaluation(0.55), "toy-2001-03-01-a", shared))
    assert decision.status == "rejected"
    assert "does not beat the incumbent toy-2001-03-01-a out of sample: auc 0.5500 <= 0.5700 on the same 500 rows" \
        in decision.reason
    assert registry.snapshot().usable("toy", date(2003, 6, 2), SESSIONS).version == "toy-2001-03-01-a"


def test_candidate_beating_the_incumbent_is_promoted_and_used_once_its_purge_gap_has_passed(registry):
    _promote(registry, toy(date(2001, 3, 1)))
    candidate = toy(date(2002, 3, 1))
    registry.register(candidate)
    shared = (evaluation(0.58), evaluation(0.54))
    decision = registry.decide("toy", candidate.version, Evidence("auc", evaluation(0.58), "toy-2001-03-01-a", shared))
    assert decision.status == "promoted" and "beats the incumbent toy-2001-03-01-a (auc 0.5800 > 0.5400" in decision.reason
    snap = registry.snapshot()
    cutoff = pd.Timestamp("2002-03-01")
    after = SESSIONS[SESSIONS > cutoff]
    # decision on the session with exactly horizon (5) sessions strictly between: the new model; one earlier: the old
    assert snap.usable("toy", after[5].date(), SESSIONS).version == candidate.version
    early = snap.usable("toy", after[4].date(), SESSIONS)
    assert early.version == "toy-2001-03-01-a" and "within their purge gap" in early.reason
    assert gap_sessions(cutoff.date(), after[5].date(), SESSIONS) == 5


def test_usable_says_why_when_nothing_was_trained_or_every_version_is_too_recent(registry):
    assert "no toy model has been trained" in registry.snapshot().usable("toy", date(2003, 1, 2), SESSIONS).reason
    _promote(registry, toy(date(2002, 12, 2)))
    too_soon = registry.snapshot().usable("toy", date(2002, 12, 5), SESSIONS)
    assert too_soon.version is None and "every promoted version is too recent" in too_soon.reason
    assert "needs 5 sessions" in too_soon.reason


def test_usable_reads_no_session_after_the_decision(registry):
    _promote(registry, toy(date(2001, 3, 1)))
    truncated = SESSIONS[SESSIONS <= pd.Timestamp("2001-03-12")]
    for day in pd.bdate_range("2001-03-01", "2001-03-12"):
        full = registry.snapshot().usable("toy", day.date(), SESSIONS)
        cut = registry.snapshot().usable("toy", day.date(), truncated[truncated <= day])
        assert full == cut


def test_decide_refuses_evidence_gathered_against_a_superseded_incumbent(registry):
    _promote(registry, toy(date(2001, 3, 1)))
    candidate = toy(date(2002, 3, 1))
    registry.register(candidate)
    with pytest.raises(StaleEvidence, match="the incumbent is now toy-2001-03-01-a"):
        registry.decide("toy", candidate.version, passing_evidence(incumbent=None))
    assert registry.snapshot().row("toy", candidate.version)["status"] == "candidate"


def test_register_is_idempotent_and_a_decided_version_keeps_its_decision(registry):
    model = toy(date(2001, 3, 1))
    first = registry.register(model)
    registry.decide("toy", model.version, passing_evidence())
    again = registry.register(toy(date(2001, 3, 1)))
    assert again["content_hash"] == first["content_hash"] and again["status"] == "promoted"
    assert len(registry.list("toy")) == 1


def test_a_corrupted_artifact_is_refused_on_load(registry):
    model = toy(date(2001, 3, 1), size=1024)
    row = registry.register(model)
    payload = Path(row["path"]) / "payload.bin"
    payload.write_bytes(b"x" + payload.read_bytes()[1:])
    with pytest.raises(CorruptArtifact, match="do not match the recorded content hash"):
        ModelRegistry(registry.root, loaders=TOY_LOADERS).load("toy", model.version)


READER = textwrap.dedent("""
    import json, sys, time
    from datetime import date
    from pathlib import Path
    import pandas as pd
    from models.registry import ModelRegistry
    from tests.model_kit import TOY_LOADERS, payload_for
    root, stop, size = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    sessions = pd.bdate_range("2000-01-03", "2003-12-31")
    checks, seen, errors, pinned = 0, [], [], None
    while not stop.exists() or checks == 0:
        try:
            snap = ModelRegistry(root, loaders=TOY_LOADERS).snapshot()
            available = snap.usable("toy", date(2003, 12, 1), sessions)
            if available.version:
                model = ModelRegistry(root, loaders=TOY_LOADERS).load("toy", available.version)
                if model.payload != payload_for(model.version, size):
                    errors.append("payload mismatch " + model.version)
                pinned = pinned or model
                if available.version not in seen:
                    seen.append(available.version)
                checks += 1
                (stop.parent / "ready").touch()
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        time.sleep(0.002)
    intact = pinned is not None and pinned.payload == payload_for(pinned.version, size)
    print(json.dumps({"checks": checks, "seen": seen, "errors": errors, "pinned_intact": intact}))
""")


def test_a_retrain_beside_a_reader_in_another_process_never_serves_a_partial_model(tmp_path):
    root, stop, size = tmp_path / "models", tmp_path / "stop", 1 << 20
    writer = ModelRegistry(root, loaders=TOY_LOADERS)
    _promote(writer, toy(date(2000, 6, 1), size=size))
    repo = Path(__file__).resolve().parents[1]
    reader = subprocess.Popen([sys.executable, "-c", READER, str(root), str(stop), str(size)], cwd=repo,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "ready").exists() and time.monotonic() < deadline and reader.poll() is None:
            time.sleep(0.01)
        incumbent = "toy-2000-06-01-a"
        for month in range(1, 9):
            model = toy(date(2001, month, 1), size=size)
            writer.register(model)
            writer.decide("toy", model.version, passing_evidence(incumbent=incumbent))
            incumbent = model.version
            time.sleep(0.05)
        time.sleep(0.3)
    finally:
        stop.touch()
        out, err = reader.communicate(timeout=60)
    assert reader.returncode == 0, err
    result = json.loads(out)
    assert result["errors"] == [] and result["pinned_intact"]
    assert result["checks"] > 10 and len(result["seen"]) > 1          # it read while versions were promoted
    assert payload_for(result["seen"][-1], size) == writer.load("toy", result["seen"][-1]).payload


def test_a_save_that_crashes_half_way_leaves_no_trace(registry):
    model = toy(date(2001, 3, 1), size=1 << 18)

    def crash(directory: Path) -> None:
        directory.mkdir(parents=True)
        (directory / "payload.bin").write_bytes(model.payload[:1000])
        raise KeyboardInterrupt("killed mid-save")

    model.save = crash
    with pytest.raises(KeyboardInterrupt):
        registry.register(model)
    assert registry.list("toy") == [] and list((registry.root / "toy").iterdir()) == []


def test_the_listing_shows_each_version_with_its_metric_baseline_status_and_hash(registry):
    _promote(registry, toy(date(2001, 3, 1)))
    rejected = toy(date(2002, 3, 1))
    registry.register(rejected)
    registry.decide("toy", rejected.version, Evidence("auc", evaluation(0.45), "toy-2001-03-01-a"))
    rows = registry.snapshot().table()
    assert [(r["version"], r["status"]) for r in rows] == [("toy-2001-03-01-a", "promoted"),
                                                           ("toy-2002-03-01-a", "rejected")]
    assert rows[1]["metric"] == "auc" and rows[1]["best_baseline"] == "zero_skill" and rows[1]["horizon"] == 5
    assert rows[1]["reason"].startswith("does not beat its naive baseline") and len(rows[1]["content_hash"]) == 64
