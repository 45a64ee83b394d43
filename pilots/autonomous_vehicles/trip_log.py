"""Read the shuttle operator's trip log, one line per trip, for both the AV and the minibus.

``trip_log.csv`` follows the fields FEEDS.md section 3 suggests for a Hong Kong AV adapter, the
record of every automated journey a pilot licence asks for (after Victoria's ADS regulation r.18):

    trip_id,vehicle_id,licence_no,route_id,vehicle_type,start_ts,end_ts,km_auto,km_manual,
    max_speed_kmh,passengers,on_time,disengagements,incidents

- ``vehicle_id`` is the fleet number (see ``fleet.py``); ``licence_no`` is the registration mark
  on the vehicle licence, an identifier: not required, never read, masked in the quarantine;
- ``start_ts`` / ``end_ts`` are ISO-8601 with an offset; the AV's logger writes UTC (``Z``), the
  minibus's telematics Hong Kong time (``+08:00``); both become Hong Kong time;
- ``km_auto`` / ``km_manual`` split the distance by who drove; a conventional trip has no
  automated km; ``max_speed_kmh`` is checked against the licence's 50 km/h for the AV;
- ``on_time`` is ``Y``/``N`` (also ``Yes``/``No``, ``1``/``0``, ``TRUE``/``FALSE``): arrival no
  more than 3 minutes after the timetabled arrival;
- ``disengagements`` is the trip's count as the backup operator logged it (the DMV-layout report
  is the record; this count cross-checks it); ``incidents`` counts safety events: emergency
  stops, near misses and minor collisions, logged the same way on both shuttles.

A trip's observations are stamped with its departure in Hong Kong time, so a trip belongs to its
departure's service day. A readable line whose ``trip_id`` an earlier readable line already
had is a batch the logger sent twice: quarantined.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import polars as pl

from pilots.autonomous_vehicles.fleet import MARK_MASK, Fleet, known_vehicle, masked, vehicle_type
from pilots.contract import HONG_KONG, FileHealth
from pilots.csv_reading import file_health, read_csv_strings, split_valid
from pilots.fields import (
    iso_timestamp_utc,
    membership_problem,
    missing_problem,
    number,
    number_problem,
    timestamp_problem,
)

TRIP_LOG = "trip_log.csv"
# What each trip measured, after who ran it and when (the logger writes them in this order).
TRIP_MEASURES = (
    "km_auto",
    "km_manual",
    "max_speed_kmh",
    "passengers",
    "on_time",
    "disengagements",
    "incidents",
)
TRIP_COLUMNS = (
    "trip_id",
    "vehicle_id",
    "route_id",
    "vehicle_type",
    "start_ts",
    "end_ts",
    *TRIP_MEASURES,
)
LONGEST_TRIP = timedelta(hours=3)
AV_SPEED_LIMIT_KMH = 50.0
ON_TIME = {"Y": 100.0, "YES": 100.0, "1": 100.0, "TRUE": 100.0}
LATE = {"N": 0.0, "NO": 0.0, "0": 0.0, "FALSE": 0.0}


@dataclass(frozen=True)
class Trips:
    """Accepted trips, one row each, with the quarantine and the file's health."""

    trips: pl.DataFrame
    quarantine: pl.DataFrame
    health: FileHealth


def load_trips(data_dir: Path, fleet: Fleet) -> Trips:
    """Read ``trip_log.csv``; a missing file or column is a ``DataError``."""
    raw = read_csv_strings(data_dir / TRIP_LOG, TRIP_COLUMNS)
    rows = masked(raw.rows, {"licence_no": MARK_MASK}).with_columns(
        pl.col("trip_id", "vehicle_id", "route_id").str.strip_chars(),
        vehicle_type("vehicle_type").alias("vehicle_type"),
    )
    start, end = iso_timestamp_utc("start_ts"), iso_timestamp_utc("end_ts")
    on_time = pl.col("on_time").str.strip_chars().str.to_uppercase()
    accepted, rejected = split_valid(
        rows,
        [
            missing_problem("trip_id"),
            missing_problem("vehicle_id"),
            known_vehicle("vehicle_id", fleet, "vehicle_id"),
            membership_problem("route_id", fleet.vehicles["route_id"], "fleet.csv"),
            pl.when(~pl.col("vehicle_type").is_in(["autonomous", "conventional"])).then(
                pl.lit("vehicle_type is not autonomous or conventional")
            ),
            timestamp_problem("start_ts"),
            timestamp_problem("end_ts"),
            pl.when(end <= start).then(pl.lit("end_ts is not after start_ts")),
            pl.when(end - start > LONGEST_TRIP).then(
                pl.lit("end_ts is more than 3 hours after start_ts")
            ),
            number_problem("km_auto", 0, 100),
            number_problem("km_manual", 0, 100),
            pl.when(number("km_auto") + number("km_manual") <= 0).then(
                pl.lit("km_auto and km_manual are both 0")
            ),
            pl.when((pl.col("vehicle_type") == "conventional") & (number("km_auto") > 0)).then(
                pl.lit("km_auto is above 0 for a conventional vehicle")
            ),
            number_problem("max_speed_kmh", 0, 150),
            number_problem("passengers", 0, 100),
            pl.when(~on_time.is_in([*ON_TIME, *LATE])).then(
                pl.lit("on_time is not Y or N (or Yes/No, 1/0, TRUE/FALSE)")
            ),
            number_problem("disengagements", 0, 100),
            number_problem("incidents", 0, 100),
        ],
        TRIP_LOG,
    )
    # Repeats are sought among readable trips only, so a corrected resend of a bad line counts.
    accepted, repeated = split_valid(
        accepted,
        [
            pl.when(~pl.col("trip_id").is_first_distinct()).then(
                pl.lit("trip_id repeats an earlier trip")
            )
        ],
        TRIP_LOG,
    )
    departure = start.dt.convert_time_zone(HONG_KONG)
    trips = accepted.select(
        pl.col("route_id").alias("unit"),
        "vehicle_id",
        "vehicle_type",
        departure.alias("timestamp"),
        ((end - start).dt.total_seconds() / 60).alias("journey_time_min"),
        ((end - start).dt.total_seconds() / 3600).alias("service_hours"),
        on_time.replace_strict({**ON_TIME, **LATE}, return_dtype=pl.Float64).alias("on_time"),
        number("passengers").alias("passengers"),
        (number("km_auto") + number("km_manual")).alias("km"),
        number("km_auto").alias("km_auto"),
        number("max_speed_kmh").alias("max_speed_kmh"),
        number("disengagements").alias("disengagements"),
        number("incidents").alias("safety_events"),
    ).sort("unit", "timestamp")
    quarantine = pl.concat([raw.quarantine, rejected, repeated])
    return Trips(trips, quarantine, file_health(raw, accepted.height))


TRIP_FIELDS = (
    "journey_time_min",
    "on_time",
    "passengers",
    "service_hours",
    "km",
    "km_auto",
    "safety_events",
)


def service_checks(trips: pl.DataFrame) -> dict[str, object]:
    """Which shuttle ran each service day, and AV trips over the licence's speed limit."""
    days = trips.group_by("unit", pl.col("timestamp").dt.date().alias("day")).agg(
        (pl.col("vehicle_type") == "autonomous").all().alias("av"),
        (pl.col("vehicle_type") == "conventional").all().alias("conventional"),
    )
    av = trips.filter(pl.col("vehicle_type") == "autonomous")
    return {
        "route_days": {
            "autonomous_only": int(days["av"].sum()),
            "conventional_only": int(days["conventional"].sum()),
            "mixed": int((~days["av"] & ~days["conventional"]).sum()),
        },
        "av_trips": av.height,
        "av_trips_over_50_kmh": int((av["max_speed_kmh"] > AV_SPEED_LIMIT_KMH).sum()),
        "automated_km_share": round(float(trips["km_auto"].sum() / trips["km"].sum()), 4)
        if trips.height
        else None,
    }
