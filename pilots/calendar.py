"""Hong Kong's calendar, shared by simulators and analyses: public holidays from ``holidays``."""

from __future__ import annotations

from datetime import date

import holidays


def hong_kong_public_holidays(start: date, end: date) -> dict[date, str]:
    """Hong Kong general holidays between ``start`` and ``end`` inclusive, with their names.

    General holidays (when offices and schools close, Good Friday included) shape how the city
    moves and what it throws away; ``holidays`` files them under its ``optional`` category, apart
    from the narrower statutory list.
    """
    calendar = holidays.country_holidays(
        "HK", years=range(start.year, end.year + 1), categories=("optional",)
    )
    return {day: name for day, name in sorted(calendar.items()) if start <= day <= end}
