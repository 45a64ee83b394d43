"""Numbers, times and small counts of people as the dossier prints them."""

from __future__ import annotations

import re
from datetime import UTC, datetime

SMALL_COUNT = 10
SUPPRESSED = f"<{SMALL_COUNT}"
# Words that make a unit a count of people (passengers per vehicle-hour, residents, ...).
PEOPLE = re.compile(
    r"\b(people|persons?|passengers?|riders?|residents?|pedestrians?|visitors?|users?|"
    r"patients?|participants?|customers?|households?|commuters?|students?|workers?)\b",
    re.IGNORECASE,
)


def suppress_small_counts(value: float | None, unit: str, shown: str) -> str:
    """``shown`` (``value`` as formatted), or "<10" when ``unit`` counts people and ``value``
    is below ``SMALL_COUNT``: small counts of people are suppressed in committee views."""
    if value is not None and PEOPLE.search(unit) and abs(value) < SMALL_COUNT:
        return SUPPRESSED
    return shown


def signed(value: float | None) -> str:
    """An effect: three significant digits with its sign (``-1.58``); "–" when missing."""
    return "–" if value is None else f"{value:+.3g}"


def level(value: float | None) -> str:
    return "–" if value is None else f"{value:.3g}"


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value:+.0%}"


def p_text(value: float | None) -> str:
    """A p-value in a table: three significant digits, or "<0.001"."""
    if value is None:
        return "–"
    return "<0.001" if value < 0.001 else f"{value:.3g}"


def p_relation(value: float) -> str:
    """A p-value in a sentence, after "p": "= 0.0433" or "< 0.001"."""
    return "< 0.001" if value < 0.001 else f"= {value:.3g}"


def timestamp(moment: datetime | str | None) -> str:
    """An ISO-8601 UTC timestamp to the second."""
    if moment is None:
        return "–"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(UTC).isoformat(timespec="seconds")
