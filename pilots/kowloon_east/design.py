"""The demo trial's fixed design, shared by the simulator and checked against the demo spec.

Kowloon East (the Kowloon Bay and Kwun Tong business areas) switches on smart parking
information and adaptive traffic signals on Monday 4 May 2026. Forty other busy areas of Hong
Kong, none next to Kowloon East (Kwun Tong, Ngau Tau Kok, Lam Tin, Kai Tak and San Po Kong are
left out so that spill-overs cannot reach the donors), form the donor pool of a synthetic
control: with 40 donors the in-space placebo p-value can fall to 1/41, below 0.05.

Every area has a corridor of three road segments (``irnAvgSpeed-all.xml`` segment ids), two
car parks reporting to the one-stop vacancy API and one strategic-road traffic detector.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

START = date(2025, 9, 1)
WEEKS = 47
END = START + timedelta(weeks=WEEKS) - timedelta(days=1)
TREATMENT_START = date(2026, 5, 4)

TREATED_AREA = "Kowloon East"
SEGMENTS_PER_AREA = 3
CARPARKS_PER_AREA = 2


@dataclass(frozen=True)
class Area:
    name: str
    district: str
    region: str
    lat: float
    lon: float


AREAS: tuple[Area, ...] = (
    Area(TREATED_AREA, "Kwun Tong", "Kowloon", 22.3127, 114.2160),
    Area("Central", "Central and Western", "Hong Kong Island", 22.2819, 114.1582),
    Area("Sheung Wan", "Central and Western", "Hong Kong Island", 22.2865, 114.1500),
    Area("Admiralty", "Central and Western", "Hong Kong Island", 22.2790, 114.1650),
    Area("Wan Chai", "Wan Chai", "Hong Kong Island", 22.2770, 114.1730),
    Area("Causeway Bay", "Wan Chai", "Hong Kong Island", 22.2803, 114.1838),
    Area("Happy Valley", "Wan Chai", "Hong Kong Island", 22.2690, 114.1830),
    Area("North Point", "Eastern", "Hong Kong Island", 22.2913, 114.2005),
    Area("Quarry Bay", "Eastern", "Hong Kong Island", 22.2870, 114.2130),
    Area("Shau Kei Wan", "Eastern", "Hong Kong Island", 22.2790, 114.2290),
    Area("Chai Wan", "Eastern", "Hong Kong Island", 22.2650, 114.2370),
    Area("Aberdeen", "Southern", "Hong Kong Island", 22.2480, 114.1550),
    Area("Wong Chuk Hang", "Southern", "Hong Kong Island", 22.2480, 114.1690),
    Area("Tsim Sha Tsui", "Yau Tsim Mong", "Kowloon", 22.2976, 114.1722),
    Area("Jordan", "Yau Tsim Mong", "Kowloon", 22.3050, 114.1710),
    Area("Yau Ma Tei", "Yau Tsim Mong", "Kowloon", 22.3120, 114.1700),
    Area("Mong Kok", "Yau Tsim Mong", "Kowloon", 22.3193, 114.1694),
    Area("Tai Kok Tsui", "Yau Tsim Mong", "Kowloon", 22.3200, 114.1610),
    Area("Sham Shui Po", "Sham Shui Po", "Kowloon", 22.3303, 114.1622),
    Area("Cheung Sha Wan", "Sham Shui Po", "Kowloon", 22.3360, 114.1560),
    Area("Lai Chi Kok", "Sham Shui Po", "Kowloon", 22.3370, 114.1480),
    Area("Hung Hom", "Kowloon City", "Kowloon", 22.3030, 114.1820),
    Area("To Kwa Wan", "Kowloon City", "Kowloon", 22.3160, 114.1880),
    Area("Kowloon City", "Kowloon City", "Kowloon", 22.3280, 114.1910),
    Area("Wong Tai Sin", "Wong Tai Sin", "Kowloon", 22.3420, 114.1940),
    Area("Diamond Hill", "Wong Tai Sin", "Kowloon", 22.3400, 114.2010),
    Area("Tsuen Wan", "Tsuen Wan", "New Territories", 22.3710, 114.1140),
    Area("Kwai Chung", "Kwai Tsing", "New Territories", 22.3630, 114.1310),
    Area("Kwai Fong", "Kwai Tsing", "New Territories", 22.3570, 114.1280),
    Area("Tsing Yi", "Kwai Tsing", "New Territories", 22.3580, 114.1070),
    Area("Sha Tin", "Sha Tin", "New Territories", 22.3817, 114.1887),
    Area("Tai Wai", "Sha Tin", "New Territories", 22.3730, 114.1780),
    Area("Ma On Shan", "Sha Tin", "New Territories", 22.4250, 114.2320),
    Area("Tai Po", "Tai Po", "New Territories", 22.4500, 114.1680),
    Area("Fanling", "North", "New Territories", 22.4920, 114.1390),
    Area("Sheung Shui", "North", "New Territories", 22.5010, 114.1280),
    Area("Yuen Long", "Yuen Long", "New Territories", 22.4450, 114.0220),
    Area("Tin Shui Wai", "Yuen Long", "New Territories", 22.4600, 114.0040),
    Area("Tuen Mun", "Tuen Mun", "New Territories", 22.3910, 113.9770),
    Area("Tseung Kwan O", "Sai Kung", "New Territories", 22.3080, 114.2600),
    Area("Tung Chung", "Islands", "New Territories", 22.2890, 113.9430),
)
DONOR_AREAS = tuple(area.name for area in AREAS if area.name != TREATED_AREA)


def segment_ids(area_index: int) -> list[str]:
    """Road Network v2 ROUTE_IDs of the area's corridor, in driving order."""
    return [str(52011 + 97 * area_index + 13 * k) for k in range(SEGMENTS_PER_AREA)]


def carpark_ids(area_index: int) -> list[str]:
    return [str(101 + CARPARKS_PER_AREA * area_index + k) for k in range(CARPARKS_PER_AREA)]


def detector_id(area_index: int) -> str:
    return f"AID{area_index + 1:02d}1{area_index % 7 + 1:02d}"
