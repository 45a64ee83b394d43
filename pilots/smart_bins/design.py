"""The demo trial's fixed design, shared by the simulator and checked against the demo spec.

Twelve collection routes in six districts, ten bins each. Six routes, drawn once at random,
switch from a fixed collection schedule to sensor-driven collection on Monday 30 March 2026.
"""

from __future__ import annotations

from datetime import date, timedelta

START = date(2026, 1, 5)
WEEKS = 26
TREATMENT_START = date(2026, 3, 30)
END = START + timedelta(weeks=WEEKS) - timedelta(days=1)

BINS_PER_ROUTE = 10
ROUTES: dict[str, str] = {
    "R01": "Central and Western",
    "R02": "Central and Western",
    "R03": "Wan Chai",
    "R04": "Wan Chai",
    "R05": "Yau Tsim Mong",
    "R06": "Yau Tsim Mong",
    "R07": "Sham Shui Po",
    "R08": "Sham Shui Po",
    "R09": "Kwun Tong",
    "R10": "Kwun Tong",
    "R11": "Sha Tin",
    "R12": "Sha Tin",
}
TREATED_ROUTES = ("R02", "R03", "R05", "R08", "R10", "R11")
CONTROL_ROUTES = tuple(route for route in ROUTES if route not in TREATED_ROUTES)

# Fixed schedule: collection weekdays per route (Monday = 0).
SCHEDULES: dict[str, tuple[int, ...]] = {
    "R01": (0, 1, 2, 3, 4, 5, 6),
    "R02": (0, 1, 2, 3, 4, 5, 6),
    "R03": (0, 1, 2, 3, 4, 5),
    "R04": (0, 1, 2, 3, 4, 5),
    "R05": (0, 1, 2, 3, 4, 5, 6),
    "R06": (0, 2, 4, 5),
    "R07": (0, 2, 4, 5),
    "R08": (0, 1, 2, 3, 4, 5),
    "R09": (0, 1, 2, 3, 4, 5, 6),
    "R10": (0, 2, 4, 5),
    "R11": (0, 2, 4),
    "R12": (0, 2, 4),
}

# Approximate district centres (WGS84) for placing bins on the map.
DISTRICT_CENTRES: dict[str, tuple[float, float]] = {
    "Central and Western": (22.2866, 114.1548),
    "Wan Chai": (22.2783, 114.1747),
    "Yau Tsim Mong": (22.3049, 114.1718),
    "Sham Shui Po": (22.3305, 114.1622),
    "Kwun Tong": (22.3133, 114.2258),
    "Sha Tin": (22.3817, 114.1887),
}
