"""Tests for the smart-lampposts simulator, on one simulated data set (seed 3, LED saves 30%)."""

from __future__ import annotations

import codecs
import json
import re
import zipfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from experiments.spec import load_spec
from livinglab.errors import InputError
from pilots.calendar import hong_kong_public_holidays, read_weather_warnings, severe_weather_days
from pilots.contract import Observations
from pilots.smart_lampposts import PILOT, design
from pilots.smart_lampposts.metrics import METRICS
from pilots.smart_lampposts.simulator import simulate_smart_lampposts
from tests.cli_helpers import digest, simulation_fixtures

SEED = 3
EFFECT = -0.3


data, truth, observations = simulation_fixtures(PILOT, seed=SEED, effect=EFFECT)


@pytest.fixture(scope="module")
def daily(observations: Observations, data: Path) -> pl.DataFrame:
    """Per field and Hong Kong day: mean value and row count, with the day's events."""
    warnings, _ = read_weather_warnings(data / "weather_warnings.csv")
    severe = list(severe_weather_days(warnings))
    holidays = list(hong_kong_public_holidays(design.START, design.END))
    return (
        observations.table.group_by("field", pl.col("timestamp").dt.date().alias("day"))
        .agg(pl.col("value").mean().alias("mean"), pl.len().alias("rows"))
        .collect()
        .with_columns(
            pl.col("day").is_in(severe).alias("severe"),
            pl.col("day").is_in(holidays).alias("holiday"),
            (pl.col("day").dt.weekday() >= 6).alias("weekend"),
        )
    )


def test_raw_files_are_written_in_their_real_formats(data: Path) -> None:
    days = (design.END - design.START).days + 1
    assert (
        (data / "lamppost_inventory.csv")
        .read_text()
        .startswith(
            "lamppost_id,district,area,street,lat,lon,phase,meter_id,weather_device,detector_id\n"
        )
    )
    assert (
        (data / "energy_readings.csv")
        .read_text()
        .startswith("lamppost_id,night_date,kwh,meter_id\n")
    )
    assert (
        (data / "work_orders.csv")
        .read_text()
        .startswith(
            "work_order_id,lamppost_id,fault_reported_at,repaired_at,fault_type,reporter_contact\n"
        )
    )
    assert (data / "weather_warnings.csv").read_text().startswith("code,issued,cancelled\n")
    weather = sorted((data / "hko_weather").glob("smart_lamppost_weather_*.json"))
    assert len(weather) == days
    responses = json.loads(weather[0].read_text())
    assert {"PI", "DI", "BODY"} <= set(responses[0]) or responses[0] == {
        "message": "No record found"
    }
    archives = sorted((data / "td_detectors").glob("rawSpeedVol_SLP-all_*.zip"))
    assert len(archives) == days
    with zipfile.ZipFile(archives[10]) as archive:
        names = archive.namelist()
        assert all(name.startswith(archives[10].stem + "-") for name in names)
        assert archive.read(names[0]).startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    locations = (data / "traffic_speed_volume_occ_info-slp.csv").read_bytes()
    assert locations.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    size = sum(path.stat().st_size for path in data.rglob("*") if path.is_file())
    assert size < 30_000_000


def test_about_400_lampposts_in_four_areas_a_quarter_per_phase(
    observations: Observations,
) -> None:
    units = observations.units
    assert units.height == 400
    assert units["unit"].str.contains(r"^[A-Z]{1,2}\d{4}$").all()
    assert dict(units.group_by("phase").len().rows()) == dict.fromkeys(design.PHASES, 100)
    assert units["area"].n_unique() == 4
    equipped = units.filter(
        pl.col("weather_device").is_not_null() | pl.col("detector_id").is_not_null()
    )
    assert units["detector_id"].drop_nulls().len() == 20
    assert 5 <= units["weather_device"].drop_nulls().len() <= 20
    # Every phase and the conventional lampposts carry devices, so the guardrail has controls.
    assert equipped.group_by("phase").len()["len"].min() >= 5
    assert observations.health()["files"]["lamppost_inventory.csv"]["rows_quarantined"] == 1


def test_truth_has_every_metric_and_the_requested_effect(truth: dict[str, Any]) -> None:
    assert truth["pilot"] == "smart_lampposts"
    assert truth["seed"] == SEED
    assert truth["effect_parameter"] == EFFECT
    assert truth["treatment_start"] == {p: d.isoformat() for p, d in design.PHASE_STARTS.items()}
    assert set(truth["metrics"]) == {metric.name for metric in METRICS}
    for numbers in truth["metrics"].values():
        assert set(numbers) == {"effect", "relative", "counterfactual_mean"}
    energy = truth["metrics"]["kwh_per_lamp_night"]
    assert energy["relative"] == pytest.approx(EFFECT, abs=0.02)
    assert 2.0 < energy["counterfactual_mean"] < 4.0  # 150-250 W lanterns, 10-13 h a night
    assert truth["metrics"]["repair_hours_per_lamppost_week"]["effect"] < 0


def test_each_phase_uses_less_energy_from_its_conversion_date(observations: Observations) -> None:
    energy = (
        observations.table.filter(pl.col("field") == "kwh")
        .join(observations.units.lazy().select("unit", "phase"), on="unit")
        .group_by("phase", pl.col("timestamp").dt.date().alias("day"))
        .agg(pl.col("value").mean())
        .collect()
    )

    def mean(phase: str, first: date, last: date) -> float:
        rows = energy.filter(pl.col("phase") == phase, pl.col("day").is_between(first, last))
        return float(rows["value"].mean())

    for phase, start in design.PHASE_STARTS.items():
        before = (start - timedelta(days=14), start - timedelta(days=1))
        after = (start, start + timedelta(days=13))
        ratio = (mean(phase, *after) / mean(phase, *before)) / (
            mean(design.CONVENTIONAL, *after) / mean(design.CONVENTIONAL, *before)
        )
        assert ratio == pytest.approx(1 + EFFECT, abs=0.05), phase


def test_severe_weather_keeps_lamps_on_breaks_them_and_cuts_sensors_off(
    daily: pl.DataFrame,
) -> None:
    severe = daily.filter("severe")["day"].unique().sort()
    assert severe.len() >= 1

    def mean(field: str, column: str, on_severe_days: bool) -> float:
        rows = daily.filter(pl.col("field") == field, pl.col("severe") == on_severe_days)
        return float(rows[column].mean())

    # Lamps burn longer under dark skies than in the fortnight around (same night length).
    kwh = daily.filter(pl.col("field") == "kwh")
    ratios = [
        kwh.filter(pl.col("day") == day)["mean"].item()
        / kwh.filter(
            ~pl.col("severe"),
            pl.col("day").is_between(day - timedelta(days=7), day + timedelta(days=7)),
        )["mean"].mean()
        for day in severe
    ]
    assert sum(ratios) / len(ratios) > 1.08
    # Faults in a storm are reported that day or the next, when a patrol or a caller finds them.
    faults = daily.filter(pl.col("field") == "fault")
    storm_days = pl.concat([severe, severe + timedelta(days=1)]).unique()
    in_storms = faults.filter(pl.col("day").is_in(storm_days.implode()))["rows"].sum()
    per_day = faults["rows"].sum() / ((design.END - design.START).days + 1)
    assert in_storms / storm_days.len() > 2.5 * per_day
    assert (
        mean("sensor_availability", "mean", True) < mean("sensor_availability", "mean", False) - 10
    )
    assert mean("traffic_volume", "mean", True) < 0.5 * mean("traffic_volume", "mean", False)


def test_public_holidays_are_quieter_on_the_road(daily: pl.DataFrame) -> None:
    traffic = daily.filter(pl.col("field") == "traffic_volume", ~pl.col("severe"))
    holiday = traffic.filter("holiday", ~pl.col("weekend"))["mean"].mean()
    working = traffic.filter(~pl.col("holiday"), ~pl.col("weekend"))["mean"].mean()
    assert holiday < 0.85 * working


def test_no_repair_is_finished_on_a_sunday_holiday_or_severe_weather_day(data: Path) -> None:
    warnings, _ = read_weather_warnings(data / "weather_warnings.csv")
    closed = set(hong_kong_public_holidays(design.START, design.END)) | set(
        severe_weather_days(warnings)
    )
    orders = pl.read_csv(data / "work_orders.csv", infer_schema=False)
    repaired = orders["repaired_at"].str.to_datetime("%Y-%m-%d %H:%M", strict=False).dt.date()
    within = [day for day in repaired.drop_nulls().to_list() if day <= design.END]
    assert within
    assert not [day for day in within if day in closed or day.weekday() == 6]


def test_every_quirk_reaches_the_adapter(observations: Observations) -> None:
    health = observations.health()
    reasons = set(health["quarantine_reasons"])
    for expected in (
        "kwh is not a number",
        "repeats an earlier reading for this lamppost_id and time",
        "repaired_at is before fault_reported_at",
        "BODY.HKO.T0 is not a number or ////",
        "the file ends early or is not JSON from this element on",
        "repeats an earlier record for this PI and BODY.HKO.TS (no new observation)",
        "volume is not a whole number from 0 to 200",
        "the document breaks off or is not well-formed XML (truncated or damaged)",
    ):
        assert expected in reasons
    assert health["weather_archive"]["weather_no_record_responses"] > 0
    assert health["weather_archive"]["weather_readings_failed_qc"] > 0
    detectors = health["detector_archive"]
    assert detectors["detector_midnight_periods_redated"] > 200
    assert detectors["detector_speed_placeholders_read_as_missing"] > 0
    assert detectors["detector_offline_lane_readings"] > 0
    assert detectors["inventory_detectors_not_in_location_list"] == []
    # Damaged work orders from callers keep no phone number in the quarantine.
    text = observations.quarantine.filter(pl.col("file") == "work_orders.csv").write_csv()
    assert not re.search(r"\b[5-9]\d{3} \d{4}\b", text)


def test_simulation_is_deterministic_for_a_seed(data: Path, tmp_path: Path) -> None:
    simulate_smart_lampposts(tmp_path / "again", seed=SEED, effect=EFFECT)
    assert digest(tmp_path / "again") == digest(data)


def test_effect_beyond_what_a_lantern_can_save_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="effect"):
        simulate_smart_lampposts(tmp_path, seed=1, effect=-0.95)


def test_demo_spec_registers_the_simulated_rollout() -> None:
    spec, _ = load_spec(PILOT.demo_spec)
    assert spec.pilot == PILOT.id
    assert dict(spec.start_by_unit) == design.PHASE_STARTS
    assert spec.window == (design.START, design.END)
    assert spec.assigned_by == "phase"
    assert set(spec.treated) | set(spec.control) == set(design.PHASES)
    assert spec.primary.name == METRICS[0].name
