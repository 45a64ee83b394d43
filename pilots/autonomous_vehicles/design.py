"""The demo trial's fixed design, shared by the simulator and checked against the demo spec.

One airport shuttle route, ``AS1``, between HKIA Car Park 4 and Chek Lap Kok South Road (the
North Lantau corridor of Hong Kong's first AV pilot licence, FEEDS.md section 3). Four weeks of
conventional-only baseline are followed by a twelve-week switchback: each service day runs either
the autonomous shuttle or the conventional minibus, for the whole day.

The schedule is randomised in matched pairs for balance: the same weekday of two consecutive
weeks forms a pair and a fair coin picks which of the two runs the AV. Every weekday therefore
runs the AV on exactly six of its twelve trial days, and each fortnight is balanced. It was drawn
once with ``SCHEDULE_SEED``; the demo spec lists the same days (a test checks this).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

ROUTE = "AS1"
ROUTE_NAME = "HKIA Car Park 4 - Chek Lap Kok South Road"
ROUTE_KM = 4.6
TERMINI = ("CP4", "CLKS")  # outbound trips leave Car Park 4, inbound trips Chek Lap Kok South Rd

BASELINE_START = date(2026, 5, 4)
TRIAL_START = date(2026, 6, 1)
TRIAL_WEEKS = 12
END = TRIAL_START + timedelta(weeks=TRIAL_WEEKS) - timedelta(days=1)
SCHEDULE_SEED = 20260601

# Departures every 15 minutes from 07:00 to 22:45 from each terminus.
FIRST_DEPARTURE_MIN = 7 * 60
LAST_DEPARTURE_MIN = 22 * 60 + 45
HEADWAY_MIN = 15
DEPARTURES_PER_DIRECTION = (LAST_DEPARTURE_MIN - FIRST_DEPARTURE_MIN) // HEADWAY_MIN + 1
TRIPS_PER_DAY = 2 * DEPARTURES_PER_DIRECTION

# The operator's fleet: fleet number, type, seats. Fleet numbers are the pseudonymous key.
FLEET: tuple[tuple[str, str, int], ...] = (
    ("AV-01", "autonomous", 14),
    ("AV-02", "autonomous", 14),
    ("AV-03", "autonomous", 14),
    ("CS-01", "conventional", 19),
    ("CS-02", "conventional", 19),
)
MANUFACTURER = "Harbour Autonomy Ltd"
PERMIT = "AVPL-2025-003"


def draw_schedule(seed: int = SCHEDULE_SEED) -> tuple[date, ...]:
    """Service days that run the AV: one day of each same-weekday pair of consecutive weeks."""
    rng = np.random.default_rng(seed)
    days = []
    for fortnight in range(TRIAL_WEEKS // 2):
        second_week = rng.random(7) < 0.5
        for weekday in range(7):
            week = 2 * fortnight + int(second_week[weekday])
            days.append(TRIAL_START + timedelta(weeks=week, days=weekday))
    return tuple(sorted(days))


AV_DAYS = draw_schedule()
TRIAL_DAYS = tuple(TRIAL_START + timedelta(days=d) for d in range(7 * TRIAL_WEEKS))
CONVENTIONAL_DAYS = tuple(day for day in TRIAL_DAYS if day not in set(AV_DAYS))
