"""Write the simulated traffic feeds in TD's formats: segment speeds, detectors, the lookup.

Quirks written on purpose, so that the adapter's handling of each is exercised: offline segments
(``valid = N`` with the speed limit as placeholder), damaged records (empty, non-numeric or
out-of-range speeds, unknown ``valid`` flags, empty ids), snapshots missing from the archive or
archived twice, one truncated and one garbage (HTML error page) snapshot; for detectors, the
midnight file dated the day before, placeholder speeds where no vehicle passed, offline lanes,
``occupancy = -1``, contradictory and out-of-range lanes, a detector missing from the location
list and a truncated file; the location list with a byte-order mark, CRLF line ends and trailing
spaces; a lookup row of an unknown feature type.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np

from pilots.kowloon_east import design
from pilots.kowloon_east.model import City
from pilots.td_detectors import LOCATION_HEADER

PERIOD = timedelta(seconds=30)  # each detector period lasts 30 seconds

SEGMENT_TIMES = ("08:31:00", "18:31:00")
SEGMENT_FILE_TIMES = ("0838", "1838")  # archived some minutes after the measurement
MISSING_SNAPSHOTS = 0.015
OUTSIDE_SEGMENTS = tuple(str(90001 + 7 * k) for k in range(6))
SEGMENT_DAMAGES = (
    lambda sid, speed: f"<segment><segment_id>{sid}</segment_id><speed/><valid>Y</valid></segment>",
    lambda sid, speed: (
        f"<segment><segment_id>{sid}</segment_id><speed>n/a</speed><valid>Y</valid></segment>"
    ),
    lambda sid, speed: (
        f"<segment><segment_id>{sid}</segment_id><speed>250.0</speed><valid>Y</valid></segment>"
    ),
    lambda sid, speed: (
        f"<segment><segment_id>{sid}</segment_id><speed>{speed}</speed><valid>U</valid></segment>"
    ),
    lambda sid, speed: (
        f"<segment><segment_id></segment_id><speed>{speed}</speed><valid>Y</valid></segment>"
    ),
)
GARBAGE = (
    "<html><head><title>503 Service Unavailable</title></head>"
    "<body><h1>Service Unavailable</h1></body></html>\n"
)
LANES = (("Fast Lane", 1.08, 7.0), ("Slow Lane", 0.92, 10.0))  # name, speed factor, vehicles
OUTSIDE_DETECTORS = ("TDSIEC10001",)
UNLISTED_DETECTOR = "AID99901"


def write_lookup(out_dir: Path, lengths: np.ndarray) -> None:
    """``area_lookup.csv``: every area's corridor segments, car parks and detector."""
    lines = ["area,district,feature_type,feature_id,corridor_order,length_m"]
    for index, area in enumerate(design.AREAS):
        for order, segment in enumerate(design.segment_ids(index)):
            length = lengths[index * design.SEGMENTS_PER_AREA + order]
            lines.append(f"{area.name},{area.district},segment,{segment},{order + 1},{length:.0f}")
        for park in design.carpark_ids(index):
            lines.append(f"{area.name},{area.district},carpark,{park},,")
        lines.append(f"{area.name},{area.district},detector,{design.detector_id(index)},,")
    lines.append("Kowloon East,Kwun Tong,bus_stop,KT123,,")
    (out_dir / "area_lookup.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_segment_archive(
    out_dir: Path,
    rng: np.random.Generator,
    days: list[date],
    speeds: np.ndarray,
    online: np.ndarray,
) -> np.ndarray:
    """Write the snapshots; returns which (segment, day, snapshot) readings the adapter gets."""
    folder = out_dir / "irnAvgSpeed"
    folder.mkdir(exist_ok=True)
    ids = [sid for index in range(len(design.AREAS)) for sid in design.segment_ids(index)]
    placeholder = rng.choice([50.0, 70.0, 80.0], len(ids))
    present = rng.random(speeds.shape[1:]) > MISSING_SNAPSHOTS
    delivered = np.broadcast_to(present, speeds.shape).copy()
    candidates = np.argwhere(online & delivered)
    picks = candidates[rng.choice(len(candidates), 3 * len(SEGMENT_DAMAGES), replace=False)]
    damaged = {tuple(pick): i % len(SEGMENT_DAMAGES) for i, pick in enumerate(picks)}
    delivered[tuple(picks.T)] = False
    snapshots = np.argwhere(present)
    chosen = snapshots[rng.choice(len(snapshots), 5, replace=False)]
    truncated, garbage, copies = tuple(chosen[0]), tuple(chosen[1]), {tuple(c) for c in chosen[2:]}
    outside = rng.uniform(20, 90, (len(OUTSIDE_SEGMENTS), 2))

    for day, snapshot in snapshots:
        when = days[day]
        name = f"{when:%Y%m%d}-{SEGMENT_FILE_TIMES[snapshot]}-irnAvgSpeed-all.xml"
        if (day, snapshot) == garbage:
            (folder / name).write_text(GARBAGE)
            delivered[:, day, snapshot] = False
            continue
        parts = []
        for g, sid in enumerate(ids):
            speed = speeds[g, day, snapshot]
            if (g, day, snapshot) in damaged:
                parts.append(SEGMENT_DAMAGES[damaged[g, day, snapshot]](sid, speed))
            elif online[g, day, snapshot]:
                parts.append(_segment(sid, f"{speed:.1f}", "Y"))
            else:
                parts.append(_segment(sid, f"{placeholder[g]:.1f}", "N"))
        parts += [
            _segment(s, f"{v:.1f}", "Y")
            for s, v in zip(OUTSIDE_SEGMENTS, outside[:, snapshot], strict=True)
        ]
        head = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<segment_speed_list><date>'
            f"{when.isoformat()}</date><time>{SEGMENT_TIMES[snapshot]}</time>"
            "<irn_version>20221210</irn_version><segments>\n"
        )
        if (day, snapshot) == truncated:
            cut = len(parts) // 2
            (folder / name).write_text(head + "\n".join(parts[:cut]) + "\n" + parts[cut][:40])
            delivered[cut:, day, snapshot] = False
            continue
        document = head + "\n".join(parts) + "\n</segments></segment_speed_list>\n"
        (folder / name).write_text(document)
        if (day, snapshot) in copies:
            copy = f"{when:%Y%m%d}-{int(SEGMENT_FILE_TIMES[snapshot]) + 2:04d}-irnAvgSpeed-all.xml"
            (folder / copy).write_text(document)
    return delivered


def write_detector_feeds(
    out_dir: Path, rng: np.random.Generator, city: City, speed: np.ndarray
) -> None:
    """The location list and the archive: a morning-peak file a day, a midnight file on Mondays.

    ``speed`` is each area's daily peak speed on its corridor (km/h); the strategic road the
    detector watches runs faster. Every other donor's detector watches a single lane.
    """
    detectors = [design.detector_id(i) for i in range(len(design.AREAS))] + list(OUTSIDE_DETECTORS)
    _write_locations(out_dir, detectors)
    folder = out_dir / "rawSpeedVol"
    folder.mkdir(exist_ok=True)
    count, days = len(detectors), len(city.days)
    limits = rng.choice([50, 70, 80], count)
    road = np.vstack([speed, rng.uniform(60, 80, (len(OUTSIDE_DETECTORS), days))]) * 1.3
    offline = np.zeros((count, days), dtype=bool)
    for unit, day in np.argwhere(rng.random(offline.shape) < 1 / 120):
        offline[unit, day : day + rng.integers(1, 8)] = True
    severe = np.array([day in city.severe for day in city.days])
    weekend = np.array([day.weekday() >= 5 for day in city.days])
    busy = {"peak": np.where(severe, 0.3, np.where(weekend, 0.8, 1.0)), "night": np.full(days, 0.1)}
    lanes = {kind: _lanes(rng, road, busy[kind], limits, offline) for kind in busy}
    truncated_day, unlisted_day = rng.choice(days, 2, replace=False)
    damage_days = set(rng.choice(days, 9, replace=False).tolist())
    single = [k % 2 == 1 for k in range(count)]  # these detectors watch the slow lane only

    for day, when in enumerate(city.days):
        files = [(f"{when:%Y%m%d}-0838", when, ("08:30:00", "08:30:30"), "peak")]
        if when.weekday() == 0:  # the 00:00 periods carry the previous day's date
            midnight = ("00:00:00", "00:00:30")
            files.append((f"{when:%Y%m%d}-0007", when - timedelta(days=1), midnight, "night"))
        for stem, stated, periods, kind in files:
            body = []
            for p, start in enumerate(periods):
                end = (datetime.strptime(start, "%H:%M:%S") + PERIOD).strftime("%H:%M:%S")
                blocks = []
                for k, detector in enumerate(detectors):
                    readings = lanes[kind][k][day][p][1:] if single[k] else lanes[kind][k][day][p]
                    if day in damage_days and kind == "peak" and k == day % len(design.AREAS):
                        readings = [_damaged_lane(day), *readings[1:]]
                    blocks.append(_detector(detector, readings))
                if day == unlisted_day and kind == "peak":
                    lane = _lane_xml("Fast Lane", "80", "4", "5", "4.0", "Y")
                    blocks.append(_detector(UNLISTED_DETECTOR, [lane]))
                body.append(
                    f"<period><period_from>{start}</period_from><period_to>{end}</period_to>"
                    f"<detectors>{''.join(blocks)}</detectors></period>"
                )
            document = (
                '<?xml version="1.0" encoding="UTF-8"?>\n<raw_speed_volume_list><date>'
                f"{stated.isoformat()}</date><periods>\n"
                + "\n".join(body)
                + "\n</periods></raw_speed_volume_list>\n"
            )
            if day == truncated_day and kind == "peak":
                document = document[: len(document) * 2 // 3]
            (folder / f"{stem}-rawSpeedVol-all.xml").write_text(document)


def _lanes(
    rng: np.random.Generator,
    road: np.ndarray,
    busy: np.ndarray,
    limits: np.ndarray,
    offline: np.ndarray,
) -> list[list[list[list[str]]]]:
    """``<lane>`` elements indexed [detector][day][period][lane] for one time of day.

    Without a vehicle the feed repeats the speed limit with s.d. 0; ``occupancy`` is now and
    then -1; offline detectors' lanes read normally but say ``valid = N``.
    """
    count, days = road.shape
    shape = (count, days, 2, len(LANES))
    factor = np.array([f for _, f, _ in LANES])
    vehicles = np.array([v for _, _, v in LANES])
    volume = rng.poisson(vehicles * busy[None, :, None, None], shape)
    measured = road[:, :, None, None] * factor * (1 + rng.normal(0, 0.06, shape))
    speed = np.clip(np.round(measured), 5, 125).astype(int)
    occupancy = np.minimum(100, np.round(volume * 90 / speed)).astype(int)
    occupancy[rng.random(shape) < 0.005] = -1
    sd = np.round(rng.uniform(2, 9, shape), 1)
    empty = volume == 0
    speed = np.where(empty, limits[:, None, None, None], speed)
    sd = np.where(empty, 0.0, sd)
    occupancy = np.where(empty, 0, occupancy)
    valid = np.where(offline, "N", "Y")[:, :, None, None].repeat(2, axis=2).repeat(len(LANES), 3)
    names = [name for name, _, _ in LANES]
    columns = zip(
        speed.ravel().tolist(),
        occupancy.ravel().tolist(),
        volume.ravel().tolist(),
        sd.ravel().tolist(),
        valid.ravel().tolist(),
        strict=True,
    )
    flat = [
        _lane_xml(names[i % len(LANES)], str(v), str(o), str(n), f"{d:.1f}", ok)
        for i, (v, o, n, d, ok) in enumerate(columns)
    ]
    per_period = [flat[i : i + len(LANES)] for i in range(0, len(flat), len(LANES))]
    per_day = [per_period[i : i + 2] for i in range(0, len(per_period), 2)]
    return [per_day[k * days : (k + 1) * days] for k in range(count)]


def _segment(sid: str, speed: str, valid: str) -> str:
    return (
        f"<segment><segment_id>{sid}</segment_id><speed>{speed}</speed>"
        f"<valid>{valid}</valid></segment>"
    )


def _damaged_lane(day: int) -> str:
    """A contradictory or unreadable lane, the kinds the adapter quarantines."""
    kind = day % 3
    if kind == 0:
        return _lane_xml("Fast Lane", "0", "12", "9", "0.0", "Y")  # speed 0 while vehicles pass
    if kind == 1:
        return _lane_xml("Fast Lane", "141", "3", "4", "6.1", "Y")  # faster than any lane reads
    return _lane_xml("Fast Lane", "64", "5", "", "4.0", "Y")  # volume missing


def _lane_xml(lane: str, speed: str, occupancy: str, volume: str, sd: str, valid: str) -> str:
    return (
        f"<lane><lane_id>{lane}</lane_id><speed>{speed}</speed><occupancy>{occupancy}</occupancy>"
        f"<volume>{volume}</volume><s.d.>{sd}</s.d.><valid>{valid}</valid></lane>"
    )


def _detector(detector: str, lanes: list[str]) -> str:
    return (
        f"<detector><detector_id>{detector}</detector_id><direction>South East</direction>"
        f"<lanes>{''.join(lanes)}</lanes></detector>"
    )


def _write_locations(out_dir: Path, detectors: list[str]) -> None:
    """TD's location list: UTF-8 with a byte-order mark, CRLF, trailing spaces in the values."""
    rows = [",".join(LOCATION_HEADER)]
    for index, detector in enumerate(detectors):
        area = design.AREAS[index] if index < len(design.AREAS) else design.AREAS[index % 7 + 20]
        rows.append(
            f"{detector},{area.district} ,{area.name} Road - Eastbound [{detector}] ,"
            f"{area.name}路 ,{area.name}路 ,{836000 + 90 * index},{818000 + 70 * index},"
            f"{area.lat + 0.002:.6f},{area.lon - 0.002:.6f},South East ,135"
        )
    (out_dir / "traffic_speed_volume_occ_info.csv").write_bytes(
        ("\ufeff" + "\r\n".join(rows) + "\r\n").encode("utf-8")
    )
