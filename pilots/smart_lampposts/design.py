"""The demo trial's fixed design, shared by the simulator and checked against the demo spec.

About 400 lampposts in the pilot's four areas (FEEDS.md §1): Central/Admiralty, Causeway
Bay/Wan Chai, Tsim Sha Tsui and Kwun Tong/Kai Tak, 100 in each. Within every area the
contractor's conversion order is drawn at random (a stepped-wedge rollout): a quarter of the
lampposts are converted to smart LED lampposts in each of three phases about two months apart
and a quarter stay conventional throughout, so every phase has never-treated and not-yet-treated
comparisons. Conversions happen on a phase's start date, a Monday, so Monday-based weeks never
straddle one.

Some lampposts already carried devices from the OGCIO pilot's earlier stage: an HKO weather
station on a few, a TD traffic detector on twenty (in Wan Chai, Yau Tsim Mong and Kwun Tong, as
in the real detector list). They are spread over the phases and the conventional lampposts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

DEFAULT_EFFECT = -0.3  # LED road lights use about 30% less energy (HyD, FEEDS.md §1)
START = date(2026, 1, 5)
WEEKS = 38
END = START + timedelta(weeks=WEEKS) - timedelta(days=1)  # Sunday 27 September 2026

PHASE_STARTS: dict[str, date] = {
    "P1": date(2026, 3, 2),
    "P2": date(2026, 5, 4),
    "P3": date(2026, 7, 6),
}
CONVENTIONAL = "conventional"
PHASES = (*PHASE_STARTS, CONVENTIONAL)
LAMPPOSTS_PER_PHASE_AND_AREA = 25


@dataclass(frozen=True)
class Area:
    """One of the pilot's four areas, with the streets its lampposts stand on."""

    name: str
    district: str
    prefix: str  # LandsD lamppost numbers in the area start with these letters
    centre: tuple[float, float]  # WGS84 latitude, longitude
    streets: tuple[str, ...]
    weather_devices: int  # how many HKO weather stations stand in the area
    detectors: tuple[str, ...]  # the TD detectors on its lampposts


AREAS = (
    Area(
        "Central/Admiralty",
        "Central and Western",
        "CA",
        (22.2810, 114.1600),
        ("Queen's Road Central", "Connaught Road Central", "Harcourt Road", "Queensway"),
        weather_devices=3,
        detectors=(),
    ),
    Area(
        "Causeway Bay/Wan Chai",
        "Wan Chai",
        "WC",
        (22.2790, 114.1780),
        ("Hennessy Road", "Gloucester Road", "Yee Wo Street", "Lockhart Road"),
        weather_devices=2,
        detectors=tuple(f"AID2003{k}" for k in range(1, 8)),
    ),
    Area(
        "Tsim Sha Tsui",
        "Yau Tsim Mong",
        "TS",
        (22.2980, 114.1720),
        ("Nathan Road", "Salisbury Road", "Canton Road", "Chatham Road South"),
        weather_devices=2,
        detectors=tuple(f"AID200{k}" for k in range(54, 61)),
    ),
    Area(
        "Kwun Tong/Kai Tak",
        "Kwun Tong",
        "KT",
        (22.3120, 114.2200),
        ("Kwun Tong Road", "Hoi Bun Road", "Shing Kai Road", "How Ming Street"),
        weather_devices=3,
        detectors=tuple(f"AID2001{k}" for k in range(1, 7)),
    ),
)

# Chinese names of the detector roads, traditional and simplified, for the TD location list.
ROAD_NAMES: dict[str, tuple[str, str]] = {
    "Hennessy Road": ("軒尼詩道", "轩尼诗道"),
    "Gloucester Road": ("告士打道", "告士打道"),
    "Yee Wo Street": ("怡和街", "怡和街"),
    "Lockhart Road": ("駱克道", "骆克道"),
    "Nathan Road": ("彌敦道", "弥敦道"),
    "Salisbury Road": ("梳士巴利道", "梳士巴利道"),
    "Canton Road": ("廣東道", "广东道"),
    "Chatham Road South": ("漆咸道南", "漆咸道南"),
    "Kwun Tong Road": ("觀塘道", "观塘道"),
    "Hoi Bun Road": ("海濱道", "海滨道"),
    "Shing Kai Road": ("承啟道", "承启道"),
    "How Ming Street": ("巧明街", "巧明街"),
}
SPEED_LIMIT_KMH = 50  # urban roads; the detector feed repeats it as "speed" when volume is 0
