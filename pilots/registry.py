"""Every pilot, built-in or third-party, is found through the ``livinglab.pilots`` entry points.

Built-in pilots are declared in this project's own ``pyproject.toml`` exactly like a third-party
package would declare its pilot, so both get the same treatment. A pilot that fails to load is
reported as a warning and left out; it never takes the others down with it.
"""

from __future__ import annotations

import warnings
from functools import cache
from importlib.metadata import entry_points

from livinglab.errors import UnknownNameError
from pilots.contract import Pilot

ENTRY_POINT_GROUP = "livinglab.pilots"


@cache
def available_pilots() -> dict[str, Pilot]:
    """Load every registered pilot once, keyed by its id."""
    pilots: dict[str, Pilot] = {}
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            pilot = entry.load()
        except Exception as exc:  # a broken plug-in must not break the platform
            warnings.warn(
                f"pilot plug-in {entry.name!r} ({entry.value}) failed to load: {exc}",
                stacklevel=2,
            )
            continue
        if not isinstance(pilot, Pilot):
            warnings.warn(
                f"pilot plug-in {entry.name!r} ({entry.value}) is not a Pilot; ignored",
                stacklevel=2,
            )
            continue
        pilots[pilot.id] = pilot
    return pilots


def get_pilot(pilot_id: str) -> Pilot:
    """Return the pilot with this id, or fail listing the ids that exist."""
    pilots = available_pilots()
    if pilot_id not in pilots:
        known = ", ".join(sorted(pilots)) or "none installed"
        raise UnknownNameError(f"unknown pilot {pilot_id!r}; available pilots: {known}")
    return pilots[pilot_id]
