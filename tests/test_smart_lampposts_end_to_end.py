"""From simulated raw files to the staggered analysis of the demo trial, through the CLI.

Seeds 1, 2 and 3 are the first three tried; they were not picked for their results.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pilots.smart_lampposts import PILOT
from tests.cli_helpers import simulate_and_evaluate

PRIMARY = "kwh_per_lamp_night"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_staggered_rollout_recovers_the_injected_energy_saving(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], seed: int
) -> None:
    truth, report = simulate_and_evaluate(capsys, PILOT, tmp_path / "data", seed)

    assert report["trial"] == "smart-lampposts-2026"
    results = {row["metric"]: row for row in report["results"]}
    assert set(results) == set(truth["metrics"])
    for row in results.values():
        assert row["status"] == "ok", row["message"]
        assert row["method"] == "staggered"
        assert row["ci_low"] <= row["effect"] <= row["ci_high"]
    primary = results[PRIMARY]
    injected = truth["metrics"][PRIMARY]["effect"]
    assert truth["metrics"][PRIMARY]["relative"] == pytest.approx(PILOT.default_effect, abs=0.02)
    assert primary["ci_low"] <= injected <= primary["ci_high"]
    assert primary["p_value"] < 0.05  # 30% less energy on 300 converted lampposts is clear
    assert primary["relative_effect"] == pytest.approx(PILOT.default_effect, abs=0.05)
    (robustness,) = report["robustness"]
    assert robustness["method"] == "event_study"
    assert robustness["effect"] == pytest.approx(primary["effect"], rel=0.2)


def test_no_saving_is_no_effect_on_any_metric(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    truth, report = simulate_and_evaluate(capsys, PILOT, tmp_path / "data", 1, "--effect", "0")

    assert {name: m["effect"] for name, m in truth["metrics"].items()} == dict.fromkeys(
        truth["metrics"], 0.0
    )
    # Lampposts were assigned their phase singly, so errors cluster on lampposts (cluster_by):
    # every metric's interval covers the null, the sparse sensor guardrail included.
    for row in report["results"]:
        assert row["status"] == "ok", row["message"]
        assert row["ci_low"] <= 0.0 <= row["ci_high"], row["metric"]
    feeds = {feed["feed"]: feed for feed in report["data_health"]["coverage"]}
    assert set(feeds) == {"kwh", "air_temperature", "traffic_volume"}
    for feed in feeds.values():
        assert feed["coverage"] > 0.9  # only equipped lampposts are expected to report
        assert feed["sensor_ratio_mismatch"]["flag"] is False
