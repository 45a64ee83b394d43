"""Read the autonomous-shuttle pilot's raw files into observations, one unit per route.

Files in the data directory (formats and quirks in each module's docstring; FEEDS.md section 3):

- ``fleet.csv`` (required): the operator's fleet register, mapping VINs and registration marks
  to fleet numbers and routes (``fleet.py``);
- ``trip_log.csv`` (required): one line per trip of either shuttle (``trip_log.py``);
- ``disengagements*.csv`` (at least one required): disengagement reports in the California DMV
  layout, one per reporting year (``disengagements.py``, read by ``dmv_csv.py``);
- ``mileage*.csv`` (optional): the DMV-layout monthly mileage returns, in km (``mileage.py``);
- ``weather_warnings.csv`` (optional): Hong Kong Observatory warnings, used here only to check
  that the AV stood down on severe-weather days (``pilots.calendar``).

Observation fields, stamped with the trip's departure in Hong Kong time: ``journey_time_min``,
``on_time`` (100 or 0), ``passengers``, ``service_hours``, ``km``, ``km_auto`` and
``safety_events`` per trip; ``disengagement`` (1 per reported disengagement, at its date or time).
VINs and registration marks are dropped on reading and masked in the quarantine's raw text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from livinglab.errors import DataError
from pilots.autonomous_vehicles.design import TRIPS_PER_DAY
from pilots.autonomous_vehicles.disengagements import disengagement_checks, load_disengagements
from pilots.autonomous_vehicles.fleet import load_fleet
from pilots.autonomous_vehicles.mileage import load_mileage, mileage_checks
from pilots.autonomous_vehicles.trip_log import TRIP_FIELDS, load_trips, service_checks
from pilots.calendar import WEATHER_WARNINGS, read_weather_warnings, severe_weather_days
from pilots.contract import OBSERVATION_SCHEMA, ExpectedReadings, Observations


def load_autonomous_vehicles(data_dir: Path) -> Observations:
    """Read the pilot's raw files in ``data_dir`` into observations with a quarantine."""
    fleet = load_fleet(data_dir)
    trips = load_trips(data_dir, fleet)
    report = load_disengagements(data_dir, fleet)
    mileage = load_mileage(data_dir, fleet)
    per_trip = trips.trips.select("unit", "timestamp", *TRIP_FIELDS).unpivot(
        index=["unit", "timestamp"], variable_name="field", value_name="value"
    )
    events = report.events.select(
        "unit", "timestamp", pl.lit("disengagement").alias("field"), pl.lit(1.0).alias("value")
    )
    table = pl.concat(
        [frame.cast(OBSERVATION_SCHEMA) for frame in (per_trip, events)]  # type: ignore[arg-type]
    ).sort("unit", "timestamp", "field")
    quarantine = pl.concat(
        [
            fleet.quarantine,
            trips.quarantine,
            report.quarantine,
            *([mileage.quarantine] if mileage else []),
        ]
    ).with_columns(fleet.mask(pl.col("raw")).alias("raw"))
    return Observations(
        table=table.lazy(),
        units=fleet.routes(),
        quarantine=quarantine,
        files=(
            fleet.health,
            trips.health,
            *report.health,
            *(mileage.health if mileage else ()),
        ),
        checks={
            "service": service_checks(trips.trips),
            "disengagements": disengagement_checks(report, trips.trips),
            "mileage": mileage_checks(mileage, trips.trips, report.events),
            "severe_weather": _severe_weather_check(data_dir, trips.trips),
        },
        expected=(
            ExpectedReadings("journey_time_min", TRIPS_PER_DAY, "trips logged per route-day"),
        ),
    )


def _severe_weather_check(data_dir: Path, trips: pl.DataFrame) -> dict[str, Any]:
    """The AV must stand down on days with signal 8 or above or a black rainstorm."""
    path = data_dir / WEATHER_WARNINGS
    if not path.is_file():
        return {"note": f"no {WEATHER_WARNINGS}: the AV's stand-down cannot be checked"}
    try:
        warnings, _ = read_weather_warnings(path)
    except DataError as error:  # an optional file: its failure must not stop the pilot's data
        return {"note": f"{WEATHER_WARNINGS} could not be read: {error}"}
    days = list(severe_weather_days(warnings))
    on_those_days = trips.filter(pl.col("timestamp").dt.date().is_in(days))
    return {
        "severe_weather_days": len(days),
        "trips_on_those_days": on_those_days.height,
        "av_trips_on_those_days": int((on_those_days["vehicle_type"] == "autonomous").sum()),
    }
