"""TD traffic detectors: the ``rawSpeedVol`` XML snapshots and the detector location list.

The Transport Department publishes its detectors' readings every minute as one document holding
the two latest 30-second periods: ``rawSpeedVol-all.xml`` for the strategic roads (FEEDS.md §2c)
and ``rawSpeedVol_SLP-all.xml`` for the detectors on smart lampposts (§1c, the same XSD)::

    <raw_speed_volume_list>
      <date>2026-05-05</date>
      <periods><period>
        <period_from>08:30:00</period_from><period_to>08:30:30</period_to>
        <detectors><detector>
          <detector_id>AID01102</detector_id><direction>South East</direction>
          <lanes><lane><lane_id>Fast Lane</lane_id><speed>52</speed><occupancy>9</occupancy>
            <volume>6</volume><s.d.>5.7</s.d.><valid>Y</valid></lane>...</lanes>
        </detector>...</detectors>
      </period>...</periods>
    </raw_speed_volume_list>

Quirks handled here, for every pilot that archives the feed:

- the periods of the minute from 00:00 carry the previous day's ``date``: they are moved to the
  next day (``redated``);
- with ``volume = 0`` the ``speed`` is the road's speed limit, a placeholder: it is read as no
  speed (``placeholder``);
- ``valid = N`` means the detector was offline: the lane's numbers are not measurements, so
  they are neither checked nor used;
- ``occupancy = -1`` is unknown;
- a document that breaks off (an archive cut mid-write) keeps the lanes that closed before the
  break and adds one unreadable entry for the rest.

The location list (``traffic_speed_volume_occ_info.csv``, ``...-slp.csv``) has the columns of
``LOCATION_HEADER``. TD published the lamppost list as UTF-16 and tab-separated (2023-12) and
later as UTF-8 with a byte-order mark and comma-separated (2024-01), as the strategic-road list
is: the byte-order mark tells which. Values carry trailing spaces, which are stripped.

Each pilot keeps its archive's layout (which files hold which snapshots), the location list's
file name, the plausible ranges of a reading (``LaneLimits``), which readings count as repeats
and what it computes from the lanes.
"""

from __future__ import annotations

import codecs
import csv
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path

import polars as pl

from livinglab.errors import DataError
from pilots.contract import HONG_KONG, QUARANTINE_SCHEMA, FileHealth
from pilots.csv_reading import RawTable, file_health, quarantine_rows, split_valid
from pilots.fields import missing_problem, number_problem

CONTEXT_FIELDS = ("date", "period_from", "period_to", "detector_id", "direction")
LANE_FIELDS = ("lane_id", "speed", "occupancy", "volume", "s.d.", "valid")
FIELDS = (*CONTEXT_FIELDS, *LANE_FIELDS)
# A period's times and a detector's id and direction apply only within that element.
SCOPES = {"period": ("period_from", "period_to"), "detector": ("detector_id", "direction")}
MIDNIGHT_MINUTE_END = time(0, 1)
RAW_LIMIT = 300  # characters of raw text kept per quarantine row
# Damage and unknown or multi-byte encodings named in the XML declaration.
UNPARSEABLE = (ET.ParseError, LookupError, ValueError)
BROKEN = "the document breaks off or is not well-formed XML (truncated or damaged)"
NOT_A_DOCUMENT = "not a rawSpeedVol document: the root element is not <raw_speed_volume_list>"

LOCATION_HEADER = (
    "AID_ID_Number",
    "District",
    "Road_EN",
    "Road_TC",
    "Road_SC",
    "Easting",
    "Northing",
    "Latitude",
    "Longitude",
    "Direction",
    "Rotation",
)
LOCATION_COLUMNS = ("AID_ID_Number", "District", "Road_EN", "Latitude", "Longitude", "Direction")
# Hong Kong's extent, with a margin: a coordinate outside it is a typing error.
LATITUDE = (22.1, 22.6)
LONGITUDE = (113.8, 114.5)


@dataclass(frozen=True)
class LaneLimits:
    """The largest plausible ``volume`` (vehicles per lane in 30 seconds) and ``speed`` (km/h)
    of an online lane; a reading beyond them is quarantined."""

    max_volume: int
    max_speed: int


@dataclass(frozen=True)
class Snapshot:
    """One document: its lanes (``FIELDS`` texts, in document order) and, when it could not be
    read to its end, why (``reason``, ``raw``)."""

    name: str
    lanes: list[tuple[str | None, ...]] = field(default_factory=list)
    problem: tuple[str, str] | None = None


@dataclass(frozen=True)
class LaneReadings:
    """Every lane read from an archive, typed and checked against the format.

    ``readings`` has ``_file``, ``_line`` (the lane's 1-based index through its archive file),
    ``snapshot``, the stripped ``FIELDS`` texts, ``timestamp`` (Hong Kong, the midnight date
    fixed), ``redated``, the ``_volume``, ``_speed`` and ``_occupancy`` numbers and ``_reason``
    (null where the format is kept); ``broken`` holds the quarantine rows of documents that
    could not be read to their end; ``rows_read`` counts both per archive file.
    """

    readings: pl.DataFrame
    broken: pl.DataFrame
    rows_read: dict[str, int]


@dataclass(frozen=True)
class DetectorLocations:
    """The detectors a TD location list knows (``detector_id, detector_district, road,
    detector_direction``), its quarantine, health and the encoding it was found in."""

    detectors: pl.DataFrame
    quarantine: pl.DataFrame
    health: FileHealth
    encoding: str


def xml_records(
    data: bytes,
    record: str,
    context: Sequence[str],
    fields: Sequence[str],
    scopes: Mapping[str, Sequence[str]] | None = None,
) -> tuple[list[tuple[str | None, ...]], str | None, str | None]:
    """Every complete ``record`` element as the texts of ``context`` and of its ``fields``; the
    root's tag (``None`` when the document breaks off); the parser's complaint, if it did.

    ``context`` elements (the date, a period's start...) apply to the records after them, until
    an element named in ``scopes`` (their parent) ends. A well-formed document is parsed at
    once and walked in document order; otherwise a pull parser gives the elements that closed
    before the break, each after its children, so a truncated file keeps its complete records.
    TD's other XML snapshot feeds (segment speeds) are read with it too.
    """
    elements, root, complaint = _elements(data)
    known: dict[str, str | None] = dict.fromkeys(context)
    closing = scopes or {}
    rows: list[tuple[str | None, ...]] = []
    for element in elements:
        tag = element.tag
        if tag == record:
            texts = {child.tag: child.text for child in element}
            rows.append((*known.values(), *map(texts.get, fields)))
        elif tag in known:
            known[tag] = element.text
        elif tag in closing:
            known.update(dict.fromkeys(closing[tag]))
    return rows, root, complaint


def parse_snapshot(name: str, data: bytes) -> Snapshot:
    """The lanes of one ``raw_speed_volume_list`` document; ``name`` names it in raw text."""
    lanes, root, complaint = xml_records(data, "lane", CONTEXT_FIELDS, LANE_FIELDS, SCOPES)
    if complaint:
        text = data[:RAW_LIMIT].decode("utf-8", errors="replace")
        return Snapshot(name, lanes, (BROKEN, f"{name} ({complaint}): {text}"))
    if root != "raw_speed_volume_list":
        return Snapshot(name, problem=(NOT_A_DOCUMENT, f"{name}: <{root}>"))
    return Snapshot(name, lanes)


def read_lanes(snapshots: Iterable[tuple[str, Snapshot]], limits: LaneLimits) -> LaneReadings:
    """Number, type and check the lanes of ``(file, snapshot)`` pairs in archive order.

    Lanes are numbered through each archive file (a file may bundle many snapshots); a
    snapshot that could not be read to its end takes the next number after its lanes.
    """
    rows: list[tuple[str | int | None, ...]] = []
    broken: list[tuple[str, int, str, str]] = []
    rows_read: dict[str, int] = {}
    for file, snapshot in snapshots:
        line = rows_read.get(file, 0)
        rows += ((file, line + i, snapshot.name, *lane) for i, lane in enumerate(snapshot.lanes, 1))
        line += len(snapshot.lanes)
        if snapshot.problem:
            line += 1
            broken.append((file, line, *snapshot.problem))
        rows_read[file] = line
    lanes = pl.DataFrame(
        rows,
        schema={"_file": pl.String, "_line": pl.Int64, "snapshot": pl.String}
        | dict.fromkeys(FIELDS, pl.String),
        orient="row",
    )
    return LaneReadings(
        readings=_check(lanes.with_columns(pl.col(*FIELDS).str.strip_chars()), limits),
        broken=pl.DataFrame(broken, schema=QUARANTINE_SCHEMA, orient="row").with_columns(
            pl.col("raw").str.slice(0, RAW_LIMIT)
        ),
        rows_read=rows_read,
    )


def split_lanes(checked: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Accepted lanes and the quarantine rows of the rest (``_reason`` not null).

    Accepted lanes have ``_file, snapshot, detector_id, lane_id, timestamp, redated, online``,
    ``volume`` (null offline), ``speed`` (null offline or where it is the speed-limit
    placeholder) and ``placeholder``.
    """
    online = pl.col("valid") == "Y"
    accepted = checked.filter(pl.col("_reason").is_null()).select(
        "_file",
        "snapshot",
        "detector_id",
        "lane_id",
        "timestamp",
        "redated",
        online.alias("online"),
        pl.when(online).then(pl.col("_volume")).alias("volume"),
        pl.when(online & (pl.col("_volume") > 0))
        .then(pl.col("_speed").cast(pl.Float64))
        .alias("speed"),
        (online & (pl.col("_volume") == 0)).alias("placeholder"),
    )
    quarantine = checked.filter(pl.col("_reason").is_not_null()).select(
        pl.col("_file").alias("file"),
        pl.col("_line").alias("line"),
        pl.col("_reason").alias("reason"),
        pl.format(
            "{}: {} {}-{} {} {} | {}: speed={} occupancy={} volume={} s.d.={} valid={}",
            *(pl.col(name).fill_null("") for name in ("snapshot", *FIELDS)),
        )
        .str.slice(0, RAW_LIMIT)
        .alias("raw"),
    )
    return accepted, quarantine.cast(QUARANTINE_SCHEMA)  # type: ignore[arg-type]


def detector_periods(lanes: pl.DataFrame) -> pl.DataFrame:
    """Per detector and period: ``online`` (any lane valid), ``volume`` (vehicles over the online
    lanes; null offline) and ``speed``, volume-weighted over the lanes that measured one (null
    when no vehicle passed)."""
    timed = pl.col("volume").filter(pl.col("speed").is_not_null()).sum()
    return (
        lanes.group_by("detector_id", "timestamp")
        .agg(
            pl.col("online").any(),
            pl.col("volume").sum().cast(pl.Float64),
            pl.when(timed > 0)
            .then((pl.col("speed") * pl.col("volume")).sum() / timed)
            .alias("speed"),
        )
        .with_columns(pl.when("online").then(pl.col("volume")).alias("volume"))
        .sort("detector_id", "timestamp")
    )


def read_locations(path: Path) -> DetectorLocations:
    """Read a TD detector location list in either encoding; ``DataError`` when the file or a
    required column is missing."""
    raw, encoding = _read_delimited(path, LOCATION_COLUMNS)
    stripped = raw.rows.with_columns(pl.exclude("_line", "_raw").str.strip_chars())
    accepted, rejected = split_valid(
        stripped,
        [
            missing_problem("AID_ID_Number"),
            pl.when(~pl.col("AID_ID_Number").is_first_distinct()).then(
                pl.lit("AID_ID_Number appears more than once")
            ),
            number_problem("Latitude", *LATITUDE),
            number_problem("Longitude", *LONGITUDE),
        ],
        raw.file,
    )
    return DetectorLocations(
        detectors=accepted.select(
            pl.col("AID_ID_Number").alias("detector_id"),
            pl.col("District").alias("detector_district"),
            pl.col("Road_EN").alias("road"),
            pl.col("Direction").alias("detector_direction"),
        ),
        quarantine=pl.concat([raw.quarantine, rejected]),
        health=file_health(raw, accepted.height),
        encoding=encoding,
    )


def _elements(data: bytes) -> tuple[Iterable[ET.Element], str | None, str | None]:
    try:
        root = ET.fromstring(data)
    except UNPARSEABLE as exc:
        complaint = str(exc)
    else:
        return root.iter(), root.tag, None
    parser = ET.XMLPullParser(events=("end",))
    elements: list[ET.Element] = []
    try:
        parser.feed(data)
        elements += (element for _, element in parser.read_events())
        parser.close()
    except UNPARSEABLE:
        elements += (element for _, element in parser.read_events())
    return elements, None, complaint


def _check(lanes: pl.DataFrame, limits: LaneLimits) -> pl.DataFrame:
    """Lanes with their Hong Kong ``timestamp``, numbers and the first format ``_reason``."""
    day = pl.col("date").str.to_date("%Y-%m-%d", strict=False)
    start = pl.col("period_from").str.to_time("%H:%M:%S", strict=False)
    redated = start < MIDNIGHT_MINUTE_END  # published under the previous day's date
    fixed = pl.when(redated).then(day.dt.offset_by("1d")).otherwise(day)
    online = pl.col("valid") == "Y"
    volume, speed, occupancy = (pl.col(f"_{name}") for name in ("volume", "speed", "occupancy"))
    reason = pl.coalesce(
        pl.when(day.is_null()).then(pl.lit("date is not a date like 2026-03-02")),
        pl.when(start.is_null()).then(pl.lit("period_from is not a time like 07:53:00")),
        missing_problem("detector_id"),
        missing_problem("lane_id"),
        pl.when(~pl.col("valid").is_in(["Y", "N"]).fill_null(False)).then(
            pl.lit("valid is not Y or N")
        ),
        pl.when(online & ~volume.is_between(0, limits.max_volume).fill_null(False)).then(
            pl.lit(f"volume is not a whole number from 0 to {limits.max_volume}")
        ),
        pl.when(online & ~speed.is_between(0, limits.max_speed).fill_null(False)).then(
            pl.lit(f"speed is not a whole number from 0 to {limits.max_speed} km/h")
        ),
        pl.when(online & (speed == 0) & (volume > 0)).then(
            pl.lit("speed is 0 while vehicles passed (volume above 0)")
        ),
        pl.when(online & ~occupancy.is_between(-1, 100).fill_null(False)).then(
            pl.lit("occupancy is not a whole number from -1 (unknown) to 100")
        ),
    )
    return lanes.with_columns(
        fixed.dt.combine(start).dt.replace_time_zone(HONG_KONG).alias("timestamp"),
        redated.fill_null(False).alias("redated"),
        *(
            pl.col(name).cast(pl.Int64, strict=False).alias(f"_{name}")
            for name in ("volume", "speed", "occupancy")
        ),
    ).with_columns(reason.alias("_reason"))


def _read_delimited(path: Path, required: tuple[str, ...]) -> tuple[RawTable, str]:
    """Read a CSV in either of TD's encodings, chosen by its byte-order mark."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    data = path.read_bytes()
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        codec, delimiter, encoding = "UTF-16", "\t", "UTF-16, tab"
        text = data.decode("utf-16", errors="replace")
    else:
        codec = "UTF-8"
        text = data.decode("utf-8-sig", errors="replace")
        encoding = "UTF-8 with BOM, comma" if data.startswith(codecs.BOM_UTF8) else "UTF-8, comma"
        delimiter = "\t" if "\t" in text.split("\n", 1)[0] else ","
    lines = [
        (line_number, line.removesuffix("\r"))
        for line_number, line in enumerate(text.split("\n"), start=1)
        if line.strip()
    ]
    if not lines:
        raise DataError(f"{path}: the file is empty; expected a header with {', '.join(required)}")
    try:
        header = [name.strip() for name in _split(lines[0][1], delimiter)]
    except csv.Error as error:
        raise DataError(
            f"{path}, line {lines[0][0]}: the header cannot be split into fields ({error})"
        ) from error
    missing = [name for name in required if name not in header]
    if missing:
        raise DataError(
            f"{path}, line {lines[0][0]}: missing column(s) {', '.join(missing)}; "
            f"found {', '.join(header)}; required {', '.join(required)}"
        )
    good: list[tuple[int, str, list[str]]] = []
    bad: list[tuple[int, str, str]] = []
    for line_number, line in lines[1:]:
        try:
            fields = _split(line, delimiter)
        except csv.Error as error:
            bad.append((line_number, line, f"the line cannot be split into fields ({error})"))
            continue
        if "\ufffd" in line:
            bad.append((line_number, line, f"not valid {codec}"))
        elif len(fields) != len(header):
            bad.append((line_number, line, f"expected {len(header)} fields, found {len(fields)}"))
        else:
            good.append((line_number, line, fields))
    rows = pl.DataFrame(
        {
            "_line": [number for number, _, _ in good],
            "_raw": [line for _, line, _ in good],
            **{name: [fields[i] for _, _, fields in good] for i, name in enumerate(header)},
        },
        schema={"_line": pl.Int64, "_raw": pl.String} | dict.fromkeys(header, pl.String),
    )
    unreadable = pl.DataFrame(
        bad, schema={"_line": pl.Int64, "_raw": pl.String, "reason": pl.String}, orient="row"
    )
    quarantine = quarantine_rows(unreadable, path.name, pl.col("reason"))
    return RawTable(file=path.name, rows=rows, quarantine=quarantine), encoding


def _split(line: str, delimiter: str) -> list[str]:
    """The fields of one line; ``csv.Error`` where a stray carriage return breaks it."""
    return next(csv.reader([line], delimiter=delimiter), [])
