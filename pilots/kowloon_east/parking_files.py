"""Write the simulated car-park feeds in the one-stop parking vacancy API's JSON.

``carpark_info.json`` lists the pilot's car parks and a few elsewhere, with ``opening_status``
spelled ``OPEN``, ``open`` or null and one record without coordinates. The vacancy snapshots
carry the quirks the adapter must handle: ``-1`` while a car park is offline, type B car parks
that only flag full (0) or available (1), a car park closed for renovation (type C), stale
``lastupdate`` times, monthly entries listed before the hourly one, LGV entries, damaged records
(non-numeric or impossible vacancies, unknown types and car parks, missing ids, unreadable
times), missing hours, one truncated and one garbage snapshot.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np

from pilots.kowloon_east import design

HOURS = (12, 19)
MISSING_SNAPSHOTS = 0.01
STALE_SHARE = 0.01
CLOSED_DAYS = 14
OUTSIDE_PARKS = ("tdc95p1", "tdc95p2", "tdc96p1")
DAMAGES = (
    lambda park, stamp: (
        f'{{"park_Id": "{park}", "privateCar": [{{"vacancy_type": "A", '
        f'"vacancy": "N/A", "category": "HOURLY", "lastupdate": "{stamp}"}}]}}'
    ),
    lambda park, stamp: (
        f'{{"park_Id": "{park}", "privateCar": [{{"vacancy_type": "X", '
        f'"vacancy": 12, "category": "HOURLY", "lastupdate": "{stamp}"}}]}}'
    ),
    lambda park, stamp: (
        f'{{"privateCar": [{{"vacancy_type": "A", "vacancy": 30, '
        f'"category": "HOURLY", "lastupdate": "{stamp}"}}]}}'
    ),
    lambda park, stamp: (
        f'{{"park_Id": "{park}", "privateCar": [{{"vacancy_type": "A", '
        f'"vacancy": -7, "category": "HOURLY", "lastupdate": "{stamp}"}}]}}'
    ),
    lambda park, stamp: (
        f'{{"park_Id": "{park}", "privateCar": [{{"vacancy_type": "A", '
        f'"vacancy": 25, "category": "HOURLY", "lastupdate": "{stamp[:10].replace("-", "/")}"}}]}}'
    ),
)


def write_carpark_feeds(
    out_dir: Path,
    rng: np.random.Generator,
    days: list[date],
    occupancy: np.ndarray,
    reporting: np.ndarray,
) -> np.ndarray:
    """Write the info document and the snapshots; returns the (car park, day, hour) readings the
    adapter uses (delivered, reporting, fresh and open)."""
    parks = [p for index in range(len(design.AREAS)) for p in design.carpark_ids(index)]
    treated = np.repeat(
        [area.name == design.TREATED_AREA for area in design.AREAS], design.CARPARKS_PER_AREA
    )
    capacity = rng.integers(150, 900, len(parks))
    flag_only = ~treated & (rng.random(len(parks)) < 0.15)
    _write_info(out_dir, rng, parks, capacity)

    present = rng.random((len(days), len(HOURS))) > MISSING_SNAPSHOTS
    stale = rng.random(occupancy.shape) < STALE_SHARE
    closed = np.zeros(occupancy.shape, dtype=bool)
    closed_park = int(rng.choice(np.flatnonzero(~treated)))
    closed_from = int(rng.integers(0, len(days) - CLOSED_DAYS))
    closed[closed_park, closed_from : closed_from + CLOSED_DAYS] = True
    online = reporting[:, :, None] & ~closed
    used = present[None, :, :] & online & ~stale
    candidates = np.argwhere(used)
    picks = candidates[rng.choice(len(candidates), 2 * len(DAMAGES), replace=False)]
    damaged = {tuple(pick): i % len(DAMAGES) for i, pick in enumerate(picks)}
    used[tuple(picks.T)] = False
    snapshots = np.argwhere(present)
    truncated, garbage = (tuple(s) for s in snapshots[rng.choice(len(snapshots), 2, replace=False)])
    monthly = rng.random(len(parks)) < 0.1
    lgv = rng.random(len(parks)) < 0.05
    full = occupancy >= 1
    free = np.maximum(1, np.round(capacity[:, None, None] * (1 - occupancy))).astype(int)
    kind = np.where(closed, "C", np.where(flag_only[:, None, None], "B", "A"))
    vacancy = np.where(flag_only[:, None, None], 1, free)  # type B only flags free spaces
    vacancy = np.where(full, 0, vacancy)
    vacancy = np.where(reporting[:, :, None], vacancy, -1)
    vacancy = np.where(closed, 0, vacancy)
    lag = np.where(
        stale,
        rng.integers(3 * 3600, 30 * 3600, occupancy.shape),
        rng.integers(0, 900, occupancy.shape),
    )
    taken = np.array(days, dtype="datetime64[s]")[:, None] + np.array(HOURS) * np.timedelta64(
        3600, "s"
    )
    stamps = np.char.replace(
        np.datetime_as_string(taken[None, :, :] - lag.astype("timedelta64[s]")), "T", " "
    )

    folder = out_dir / "vacancy"
    folder.mkdir(exist_ok=True)
    for day, hour in snapshots:
        name = f"vacancy_{days[day]:%Y%m%d}-{HOURS[hour]:02d}.json"
        if (day, hour) == garbage:
            (folder / name).write_text("<html><body>Service Unavailable</body></html>\n")
            used[:, day, hour] = False
            continue
        columns = zip(
            kind[:, day, hour].tolist(),
            vacancy[:, day, hour].tolist(),
            stamps[:, day, hour].tolist(),
            strict=True,
        )
        records = []
        for p, (kind_now, vacancy_now, stamp) in enumerate(columns):
            if (p, day, hour) in damaged:
                records.append(DAMAGES[damaged[p, day, hour]](parks[p], stamp))
                continue
            entries = [_entry(kind_now, vacancy_now, stamp, "HOURLY", extras=bool(treated[p]))]
            if monthly[p]:
                entries.insert(0, _entry("A", int(capacity[p] // 10), stamp, "MONTHLY"))
            extra = f', "LGV": [{_entry("A", 3, stamp, "HOURLY")}]' if lgv[p] else ""
            records.append(
                f'{{"park_Id": "{parks[p]}", "privateCar": [{", ".join(entries)}]{extra}}}'
            )
        document = '{"results": [\n' + ",\n".join(records) + "\n]}\n"
        if (day, hour) == truncated:
            cut = len(records) // 2
            document = '{"results": [\n' + ",\n".join(records[:cut]) + ",\n" + records[cut][:30]
            used[cut:, day, hour] = False
        (folder / name).write_text(document)
    return used


def _entry(kind: str, vacancy: int, stamp: str, category: str, *, extras: bool = False) -> str:
    counts = ', "vacancyEV": 2, "vacancyDIS": 1' if extras and vacancy > 0 else ""
    return (
        f'{{"vacancy_type": "{kind}", "vacancy": {vacancy}{counts}, "category": "{category}", '
        f'"lastupdate": "{stamp}"}}'
    )


def _write_info(
    out_dir: Path, rng: np.random.Generator, parks: list[str], capacity: np.ndarray
) -> None:
    records = []
    statuses = ["OPEN", "open", None]
    for index, park in enumerate(parks):
        area = design.AREAS[index // design.CARPARKS_PER_AREA]
        records.append(
            {
                "park_Id": park,
                "name": f"{area.name} Car Park {index % design.CARPARKS_PER_AREA + 1}",
                "nature": "commercial" if index % 3 else "government",
                "carpark_Type": "multi-storey",
                "displayAddress": f"{10 + index} {area.name} Road, {area.district}",
                "district": area.district,
                "latitude": round(area.lat + float(rng.normal(0, 0.002)), 6),
                "longitude": round(area.lon + float(rng.normal(0, 0.002)), 6),
                "contactNo": f"2{rng.integers(1000000, 9999999)}",
                "opening_status": statuses[int(rng.integers(0, 3))],
                "privateCar": {"space": int(capacity[index]), "spaceEV": 4, "spaceDIS": 2},
                "lang": "en_US",
            }
        )
    for index, park in enumerate(OUTSIDE_PARKS):
        records.append(
            {
                "park_Id": park,
                "name": f"Public Car Park {index + 1}",
                "displayAddress": "Elsewhere",
                "district": "Islands",
                "latitude": None if index == 0 else 22.28,
                "longitude": 113.94,
                "opening_status": "OPEN",
                "lang": "en_US",
            }
        )
    (out_dir / "carpark_info.json").write_text(
        json.dumps({"results": records}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
