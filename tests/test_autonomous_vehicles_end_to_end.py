"""The autonomous-shuttle switchback from simulated raw files to tracked results, through the CLI.

Seeds 1, 2 and 3 are the first three seeds, not chosen for their results.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from experiments.tracking import Tracker
from pilots.autonomous_vehicles import PILOT
from tests.cli_helpers import simulate_and_evaluate

TRIAL = "autonomous-shuttle-2026"
PRIMARY = "journey_time_min"


def simulated_trial(
    capsys: pytest.CaptureFixture[str], data: Path, seed: int, *effect: str
) -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, Any]]:
    """``truth.json``, the results by metric, and the data health of one simulated trial."""
    truth, report = simulate_and_evaluate(capsys, PILOT, data, seed, *effect)
    assert report["trial"] == TRIAL
    results = {row["metric"]: row for row in report["results"]}
    return truth, results, report["data_health"]


def test_the_switchback_recovers_the_default_effect_for_three_seeds(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for seed in (1, 2, 3):
        truth, results, health = simulated_trial(capsys, tmp_path / str(seed), seed)
        assert truth["effect_parameter"] == PILOT.default_effect
        assert set(results) == set(truth["metrics"]) - {"disengagements_per_1000_km"}
        for row in results.values():
            assert row["status"] == "ok", (seed, row["metric"], row["message"])
            assert row["method"] == "randomized"
        primary = results[PRIMARY]
        injected = truth["metrics"][PRIMARY]["effect"]
        assert primary["ci_low"] <= injected <= primary["ci_high"], seed
        assert primary["p_value"] < 0.05, seed  # 8% longer trips over 80 service days
        for name in ("on_time_share", "safety_events_per_1000_km"):
            row = results[name]
            assert row["ci_low"] <= truth["metrics"][name]["effect"] <= row["ci_high"], (seed, name)
        # A rate with exposure per hour (scale 1), compared as passengers per service hour.
        passengers = results["passengers_per_hour"]
        fewer = truth["metrics"]["passengers_per_hour"]
        assert passengers["ci_low"] <= fewer["effect"] <= passengers["ci_high"], seed
        assert passengers["relative_effect"] == pytest.approx(fewer["relative"], abs=0.08)
        assert health["units"] == {"units": 1, "treated_days": 42, "control_days": 42}
        assert health["calendar"]["excluded"] == ["severe_weather"]
        assert health["calendar"]["days_excluded"] == len(truth["severe_weather_days"])
        assert health["rows_read"] == health["rows_accepted"] + health["rows_quarantined"]
    runs = Tracker(home).runs(TRIAL)
    assert len(runs) == 3 * 4
    assert {run.tag("pilot") for run in runs} == {"autonomous_vehicles"}


def test_without_an_effect_the_interval_covers_zero(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    truth, results, _ = simulated_trial(capsys, tmp_path / "null", 1, "--effect", "0")
    assert truth["metrics"][PRIMARY]["effect"] == pytest.approx(0.0, abs=0.01)
    primary = results[PRIMARY]
    assert primary["ci_low"] <= 0.0 <= primary["ci_high"]
    assert primary["p_value"] > 0.05
