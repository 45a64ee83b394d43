"""Write the simulated trial's raw files in their real layouts, with the quirks the adapter meets.

- ``fleet.csv``: the operator's register (VINs and registration marks are made up, shaped like
  real ones);
- ``trip_log.csv``: one line per logged trip; the AV's logger writes UTC, the minibus's Hong Kong
  time; a few lines are damaged (a lost offset, ``n/a`` passengers, an arrival equal to the
  departure, a stray comma, an unknown vehicle type or fleet number), a batch is sent twice, and
  the file ends in a line cut off mid-write;
- ``disengagements_2026.csv``: the DMV layout with multi-line header cells, mixed date formats,
  free text with commas, quotes and line breaks, initiators in odd case, and a few bad rows (no
  date, a mistyped VIN, an initiator outside the DMV's list) and spreadsheet padding;
- ``mileage_2026.csv``: the interim DMV mileage return (December 2025 to August 2026) in km.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from pilots.autonomous_vehicles import design
from pilots.autonomous_vehicles.trip_log import TRIP_MEASURES

if TYPE_CHECKING:
    from pilots.autonomous_vehicles.simulator import Service

VIN_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
MARK_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
DAMAGED_PER_KIND = 8
DMV_HEADER = (
    "Manufacturer",
    "Permit Number",
    "DATE",
    "VIN NUMBER",
    "VEHICLE IS CAPABLE OF OPERATING WITHOUT A DRIVER\n(Yes or No)",
    "DRIVER PRESENT\n(Yes or No)",
    "DISENGAGEMENT INITIATED BY\n(AV System, Test Driver, Remote Operator, or Passenger)",
    "DISENGAGEMENT LOCATION\n(Interstate, Freeway, Highway, Rural Road, Street, or Parking "
    "Facility)",
    "DESCRIPTION OF FACTS CAUSING DISENGAGEMENT",
)
DESCRIPTIONS = (
    "Test driver took over: lane closure on Chek Lap Kok South Road, not in the map",
    'Planned path blocked by a "double-parked" goods vehicle; driver disengaged',
    "AV system requested takeover, perception degraded in heavy rain",
    "Cyclist entered the carriageway from the cycle track, driver braked",
    "Remote operator stopped the vehicle: loading bay at Car Park 4 obstructed",
    "Goods vehicle {mark} cut in at the roundabout, driver took over",
    "Localisation error near the cargo terminal,\nvehicle handed control to the test driver",
    "Traffic signal state not received from roadside unit, AV system disengaged",
)
INITIATORS = ("AV System", "Test Driver", "Remote Operator")
INITIATOR_SPELLINGS = {
    "Test Driver": ("Test driver", "Backup Operator"),
    "AV System": ("AV system",),
}
LOCATIONS = ("Street", "Highway", "Parking Facility")


def fleet_register(rng: np.random.Generator) -> dict[str, tuple[str, str]]:
    """Fleet number -> (VIN, registration mark), drawn once per simulation."""
    register = {}
    for vehicle_id, _, _ in design.FLEET:
        vin = "LHA" + "".join(rng.choice(list(VIN_LETTERS), 14))
        mark = "".join(rng.choice(list(MARK_LETTERS), 2)) + f" {rng.integers(1, 9999)}"
        register[vehicle_id] = (vin, mark)
    return register


def write_fleet(path: Path, register: dict[str, tuple[str, str]]) -> None:
    lines = ["vehicle_id,vin,registration_mark,vehicle_type,route_id,seats"]
    for vehicle_id, kind, seats in design.FLEET:
        vin, mark = register[vehicle_id]
        lines.append(f"{vehicle_id},{vin},{mark},{kind},{design.ROUTE},{seats}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def vehicles(service: Service) -> np.ndarray:
    """Fleet number per (day, trip): two vehicles alternate; the spare AV covers every ninth day."""
    days, trips = service.runs.shape
    turn = (np.arange(trips) % design.DEPARTURES_PER_DIRECTION + service.directions) % 2
    spare = (np.arange(days) % 9 == 0)[:, None]
    av = np.where(turn == 0, np.where(spare, "AV-03", "AV-01"), "AV-02")
    conventional = np.where(turn == 0, "CS-01", "CS-02")
    return np.where(service.av_day[:, None], av, np.broadcast_to(conventional, (days, trips)))


def write_trip_log(
    path: Path, rng: np.random.Generator, service: Service, register: dict[str, tuple[str, str]]
) -> None:
    day_index, trip = np.nonzero(service.logged)
    seen = service.observed
    fleet_numbers = vehicles(service)[day_index, trip]
    marks = np.array([register[v][1] for v in fleet_numbers])
    autonomous = service.av_day[day_index]
    at = (day_index, trip)
    frame = pl.DataFrame(
        {
            "day": np.array(service.days, dtype="datetime64[D]")[day_index],
            "departure": service.departures[trip],
            "direction": service.directions[trip],
            "delay_s": np.round(seen.delay_min[at] * 60).astype(int),
            "run_s": np.round(seen.run_min[at] * 60).astype(int),
            "vehicle_id": fleet_numbers,
            "licence_no": marks,
            "autonomous": autonomous,
            "km_auto": np.round(seen.km_auto[at], 2),
            "km_manual": np.round(seen.km_manual[at], 2),
            "max_speed_kmh": seen.max_speed[at].astype(int),
            "passengers": seen.passengers[at],
            "on_time": np.where(seen.on_time[at], "Y", "N"),
            "disengagements": seen.disengagements[at],
            "incidents": seen.safety_events[at],
        }
    ).sort("day", "departure", "direction")  # the daily export lists trips by departure
    start = pl.col("day").cast(pl.Datetime("us")) + pl.duration(
        minutes=pl.col("departure"), seconds=pl.col("delay_s")
    )
    end = start + pl.duration(seconds=pl.col("run_s"))

    def stamp(moment: pl.Expr) -> pl.Expr:
        utc = (moment - pl.duration(hours=8)).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        hong_kong = moment.dt.strftime("%Y-%m-%dT%H:%M:%S+08:00")
        return pl.when("autonomous").then(utc).otherwise(hong_kong)

    terminus = pl.when(pl.col("direction") == 0).then(pl.lit("CP4")).otherwise(pl.lit("CLKS"))
    hhmm = (pl.col("departure") // 60 * 100 + pl.col("departure") % 60).cast(pl.String)
    table = frame.select(
        pl.concat_str(
            pl.lit(design.ROUTE),
            pl.col("day").dt.strftime("%Y%m%d"),
            terminus,
            hhmm.str.zfill(4),
            separator="-",
        ).alias("trip_id"),
        "vehicle_id",
        "licence_no",
        pl.lit(design.ROUTE).alias("route_id"),
        pl.when("autonomous")
        .then(pl.lit("autonomous"))
        .otherwise(pl.lit("conventional"))
        .alias("vehicle_type"),
        stamp(start).alias("start_ts"),
        stamp(end).alias("end_ts"),
        *TRIP_MEASURES,
    )
    lines = table.write_csv().splitlines()
    _damage_trip_log(lines, rng)
    path.write_text("\n".join(lines), encoding="utf-8")  # cut off mid-write: no final newline


def _damage_trip_log(lines: list[str], rng: np.random.Generator) -> None:
    def set_field(index: int, value: str) -> Callable[[str], str]:
        def damage(line: str) -> str:
            fields = line.split(",")
            fields[index] = value
            return ",".join(fields)

        return damage

    damages: list[Callable[[str], str]] = [
        lambda line: line.replace("+08:00", "", 1).replace("Z,", ",", 1),
        set_field(10, "n/a"),
        lambda line: ",".join([*line.split(",")[:6], line.split(",")[5], *line.split(",")[7:]]),
        lambda line: line + ",late",
        set_field(4, "AV?"),
        set_field(1, "AV-09"),
    ]
    valid_variants: list[Callable[[str], str]] = [
        lambda line: line.replace(",Y,", ",Yes,").replace(",N,", ",No,"),
        lambda line: line.replace(",autonomous,", ",Autonomous,"),
    ]
    every = [*damages, *valid_variants]
    rows = rng.choice(np.arange(1, len(lines)), DAMAGED_PER_KIND * len(every), replace=False)
    for count, row in enumerate(rows):
        lines[row] = every[count % len(every)](lines[row])
    resent = int(rng.integers(1, len(lines) - 4))
    lines[resent + 4 : resent + 4] = lines[resent : resent + 4]
    lines[-1] = lines[-1][: len(lines[-1]) // 2]


def write_disengagements(
    path: Path, rng: np.random.Generator, service: Service, register: dict[str, tuple[str, str]]
) -> None:
    day_index, trip = np.nonzero(service.runs & (service.observed.disengagements > 0))
    fleet_numbers = vehicles(service)[day_index, trip]
    rows = []
    for d, t, vehicle in zip(day_index, trip, fleet_numbers, strict=True):
        for _ in range(int(service.observed.disengagements[d, t])):
            minutes = service.departures[t] + rng.uniform(0, service.observed.run_min[d, t])
            moment = datetime.combine(service.days[d], datetime.min.time()) + timedelta(
                minutes=float(minutes)
            )
            rows.append(_dmv_row(rng, moment, register[vehicle][0]))
    damages = ((2, "TBD"), (3, _mistyped(rows[0][3])), (6, "Other")) if rows else ()
    for row, (column, value) in zip(
        rng.choice(len(rows), len(damages), replace=False), damages, strict=True
    ):
        rows[row][column] = value
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(DMV_HEADER)
    writer.writerows(rows)
    writer.writerows([[""] * len(DMV_HEADER)] * 2)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def _mistyped(vin: str) -> str:
    return vin[:-1] + ("Y" if vin.endswith("X") else "X")


def _dmv_row(rng: np.random.Generator, moment: datetime, vin: str) -> list[str]:
    formats = (
        moment.strftime("%m/%d/%Y"),
        moment.strftime("%m/%d/%y"),
        moment.strftime("%Y.%m.%d. %H:%M:%S"),
        moment.strftime("%Y-%m-%d"),
        moment.strftime("%Y-%m-%dT%H:%M:%S+08:00"),
    )
    initiator = str(rng.choice(INITIATORS, p=[0.35, 0.55, 0.10]))
    if initiator in INITIATOR_SPELLINGS and rng.random() < 0.15:
        initiator = str(rng.choice(INITIATOR_SPELLINGS[initiator]))
    mark = "".join(rng.choice(list(MARK_LETTERS), 2)) + f" {rng.integers(1, 9999)}"
    return [
        design.MANUFACTURER,
        design.PERMIT,
        str(rng.choice(formats, p=[0.4, 0.2, 0.2, 0.1, 0.1])),
        vin,
        "No",
        str(rng.choice(["Yes", "YES"])),
        initiator,
        str(rng.choice(LOCATIONS, p=[0.7, 0.2, 0.1])),
        str(rng.choice(DESCRIPTIONS)).format(mark=mark),
    ]


def write_mileage(path: Path, service: Service, register: dict[str, tuple[str, str]]) -> None:
    """Automated km actually driven per AV and month, logged or not (the odometer's view)."""
    months = [date(2025, 12, 1)] + [date(2026, m, 1) for m in range(1, 9)]
    month_of_day = np.array([day.replace(day=1) for day in service.days])
    fleet_numbers = vehicles(service)
    km = np.where(service.runs, service.observed.km_auto, 0.0)
    count = np.where(service.runs, service.observed.disengagements, 0)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            "Manufacturer",
            "Permit Number",
            "VIN NUMBER",
            *(month.strftime("%b %Y").upper() for month in months),
            "Annual Total of Disengagements",
            "ANNUAL TOTAL",
        ]
    )
    for vehicle_id, kind, _ in design.FLEET:
        if kind != "autonomous":
            continue
        mine = fleet_numbers == vehicle_id
        per_month = [float(km[(month_of_day == month)[:, None] & mine].sum()) for month in months]
        writer.writerow(
            [
                design.MANUFACTURER,
                design.PERMIT,
                register[vehicle_id][0],
                *(f"{value:,.0f}" if value else "" for value in per_month),
                int(count[mine].sum()),
                f"{sum(round(value) for value in per_month):,}",
            ]
        )
    path.write_text(buffer.getvalue(), encoding="utf-8")
