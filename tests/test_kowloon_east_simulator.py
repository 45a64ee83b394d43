"""Tests for the Kowloon East simulator: formats, determinism, truth, calendar effects.

One data set (seed 5: severe weather on 24-25 September 2025, 6 May and 2 June 2026, all
weekdays) is simulated per module and read back through the adapter.
"""

from __future__ import annotations

import json
import tomllib
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from livinglab.errors import InputError
from pilots.calendar import hong_kong_public_holidays
from pilots.contract import Observations
from pilots.kowloon_east import PILOT, design
from pilots.kowloon_east.adapter import load_kowloon_east
from pilots.kowloon_east.simulator import simulate_kowloon_east
from tests.cli_helpers import digest

SEED = 5
EFFECT = 0.08


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("kowloon_east")
    return out, simulate_kowloon_east(out, seed=SEED, effect=EFFECT)


@pytest.fixture(scope="module")
def observations(simulated: tuple[Path, dict[str, Any]]) -> Observations:
    return load_kowloon_east(simulated[0])


@pytest.fixture(scope="module")
def daily(observations: Observations) -> pl.DataFrame:
    """Per day: mean peak corridor speed over areas, share of car-park hours full, and flags."""
    table = observations.table.with_columns(pl.col("timestamp").dt.date().alias("day")).collect()
    speed = (
        table.filter(pl.col("field") == "peak_speed")
        .group_by("day")
        .agg(pl.col("value").mean().alias("speed"))
    )
    full = (
        table.filter(pl.col("field") == "carpark_full")
        .group_by("day")
        .agg(pl.col("value").mean().alias("full"))
    )
    holidays = hong_kong_public_holidays(design.START, design.END)
    return speed.join(full, on="day").with_columns(
        pl.col("day").dt.weekday().alias("weekday"),
        pl.col("day").is_in(list(holidays)).alias("holiday"),
    )


def test_files_are_written_in_the_feeds_formats(simulated: tuple[Path, dict[str, Any]]) -> None:
    out, _ = simulated
    segments = sorted((out / "irnAvgSpeed").iterdir())
    root = ET.parse(segments[0]).getroot()
    assert root.tag == "segment_speed_list"
    assert [child.tag for child in root][:3] == ["date", "time", "irn_version"]
    detectors = ET.parse(sorted((out / "rawSpeedVol").iterdir())[0]).getroot()
    assert detectors.tag == "raw_speed_volume_list"
    lane = detectors.find("periods/period/detectors/detector/lanes/lane")
    assert lane is not None
    assert [c.tag for c in lane] == ["lane_id", "speed", "occupancy", "volume", "s.d.", "valid"]
    snapshot = json.loads(sorted((out / "vacancy").iterdir())[0].read_text())
    first = snapshot["results"][0]
    assert set(first) >= {"park_Id", "privateCar"}
    assert {"vacancy_type", "vacancy", "category", "lastupdate"} <= set(first["privateCar"][-1])
    info = json.loads((out / "carpark_info.json").read_text())["results"]
    assert {"park_Id", "displayAddress", "opening_status", "privateCar"} <= set(info[0])
    assert (out / "traffic_speed_volume_occ_info.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert (out / "weather_warnings.csv").read_text().startswith("code,issued,cancelled")


def test_archive_names_carry_the_archive_time(simulated: tuple[Path, dict[str, Any]]) -> None:
    out, _ = simulated
    names = [p.name for p in (out / "vacancy").iterdir()]
    assert all(name.startswith("vacancy_2") and name[-8:-5] in ("-12", "-19") for name in names)
    midnight = sorted((out / "rawSpeedVol").glob("*-0007-rawSpeedVol-all.xml"))
    assert midnight
    # The file fetched just after midnight on Monday says Sunday's date, as the real feed does.
    stated = ET.parse(midnight[1]).getroot().findtext("date")
    assert stated is not None
    assert date.fromisoformat(stated).weekday() == 6


def test_data_stay_small(simulated: tuple[Path, dict[str, Any]]) -> None:
    size = sum(p.stat().st_size for p in simulated[0].rglob("*") if p.is_file())
    assert size < 30e6


def test_one_treated_area_and_forty_donors_match_the_demo_spec(
    observations: Observations,
) -> None:
    assert observations.units.height == 41
    spec = tomllib.loads(PILOT.demo_spec.read_text())
    assert spec["arms"]["assigned_by"] == "area"
    assert spec["arms"]["treated"] == [design.TREATED_AREA]
    assert spec["arms"]["control"] == list(design.DONOR_AREAS)
    assert set(observations.units["area"]) == {design.TREATED_AREA, *design.DONOR_AREAS}
    assert spec["treatment"]["start"] == design.TREATMENT_START
    assert spec["windows"]["pre"] == [design.START, design.TREATMENT_START.replace(day=3)]
    assert spec["windows"]["post"] == [design.TREATMENT_START, design.END]


def test_truth_reports_every_metric_and_the_requested_effect(
    simulated: tuple[Path, dict[str, Any]],
) -> None:
    out, truth = simulated
    assert json.loads((out / "truth.json").read_text()) == truth
    assert truth["pilot"] == "kowloon_east"
    assert (truth["seed"], truth["effect_parameter"]) == (SEED, EFFECT)
    assert truth["treatment_start"] == "2026-05-04"
    assert set(truth["metrics"]) == {m.name for m in PILOT.metrics}
    for entry in truth["metrics"].values():
        assert set(entry) == {"effect", "relative", "counterfactual_mean"}
    speed = truth["metrics"]["peak_hour_speed"]
    assert speed["relative"] == pytest.approx(EFFECT, abs=0.002)
    assert speed["effect"] == pytest.approx(EFFECT * speed["counterfactual_mean"], rel=0.03)
    # Faster traffic shortens the corridor; guided drivers leave fewer car-park hours full.
    assert truth["metrics"]["corridor_journey_time"]["relative"] < -0.05
    assert truth["metrics"]["carpark_hours_full"]["effect"] < 0


def test_simulation_is_deterministic_for_a_seed(
    tmp_path: Path, simulated: tuple[Path, dict[str, Any]]
) -> None:
    again = tmp_path / "again"
    simulate_kowloon_east(again, seed=SEED, effect=EFFECT)
    assert digest(again) == digest(simulated[0])


def test_another_seed_without_an_effect_gives_other_data_and_a_zero_truth(
    tmp_path: Path, simulated: tuple[Path, dict[str, Any]]
) -> None:
    truth = simulate_kowloon_east(tmp_path, seed=SEED + 1, effect=0.0)
    assert all(entry["effect"] == 0 for entry in truth["metrics"].values())
    assert digest(tmp_path) != digest(simulated[0])


def test_an_implausible_effect_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="effect"):
        simulate_kowloon_east(tmp_path, seed=SEED, effect=-0.95)


def test_simulated_feeds_carry_records_the_adapter_quarantines(observations: Observations) -> None:
    quarantined = {f.file.split("/")[0]: f.rows_quarantined for f in observations.files}
    assert quarantined["irnAvgSpeed"] > 0
    assert quarantined["vacancy"] > 0
    assert quarantined["rawSpeedVol"] > 0
    assert quarantined["area_lookup.csv"] == 1
    reasons = set(observations.quarantine["reason"])
    assert "the document breaks off or is not well-formed XML (truncated or damaged)" in reasons
    assert "the document breaks off mid-record (truncated or not valid JSON)" in reasons
    assert "repeats an earlier reading for this segment and time" in reasons
    parks = observations.checks["car_parks"]
    assert min(parks["unknown_vacancy"], parks["closed"], parks["stale"]) > 0
    assert observations.checks["detectors"]["midnight_periods_redated"] > 0


def test_severe_weather_slows_traffic_and_empties_car_parks(
    simulated: tuple[Path, dict[str, Any]], daily: pl.DataFrame
) -> None:
    severe = [date.fromisoformat(day) for day in simulated[1]["severe_weather_days"]]
    assert severe
    workdays = daily.filter(pl.col("weekday") <= 5, ~pl.col("holiday"))
    stormy = workdays.filter(pl.col("day").is_in(severe))
    calm = workdays.filter(~pl.col("day").is_in(severe))
    assert stormy["speed"].mean() < 0.85 * calm["speed"].mean()  # type: ignore[operator]
    assert stormy["full"].mean() < 0.5 * calm["full"].mean()  # type: ignore[operator]


def test_public_holidays_and_sundays_run_faster(daily: pl.DataFrame) -> None:
    ordinary = daily.filter(pl.col("weekday") <= 4, ~pl.col("holiday"))["speed"].mean()
    holidays = daily.filter(pl.col("weekday") <= 5, pl.col("holiday"))["speed"].mean()
    sundays = daily.filter(pl.col("weekday") == 7, ~pl.col("holiday"))["speed"].mean()
    assert holidays > 1.03 * ordinary  # type: ignore[operator]
    assert sundays > 1.05 * ordinary  # type: ignore[operator]
