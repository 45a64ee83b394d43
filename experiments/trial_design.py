"""The Trial page's design section: the rollout timeline and the sites, as plain rows.

``first_start`` dates the rollout, ``timeline_rows`` draws its bars (before window, cohorts,
after window), ``mapped_sites`` and ``district_rows`` place the units of each arm.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from experiments.spec import TrialSpec
from experiments.trial_report import finite_number

NAMED_GROUPS = 3  # a timeline bar names at most this many treated groups, else counts them
ARM_LABELS = {"treated": "Treated", "control": "Control", "switchback": "Switchback"}


def first_start(spec: TrialSpec) -> date:
    """The earliest treatment start (the start of the post window when none is given)."""
    starts = [spec.treatment_start] if spec.treatment_start else []
    starts += [start for _, start in spec.start_by_unit]
    return min(starts, default=spec.post[0])


def mapped_sites(sites: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Sites with coordinates, as ``unit, arm, district, lat, lon`` rows for a map."""
    return [
        {
            "unit": site["unit"],
            "arm": ARM_LABELS.get(site.get("arm", ""), site.get("arm", "")),
            "district": site.get("district") or "not recorded",
            "start": site.get("start") or "",
            "lat": float(site["lat"]),
            "lon": float(site["lon"]),
        }
        for site in sites
        if finite_number(site.get("lat")) is not None and finite_number(site.get("lon")) is not None
    ]


def district_rows(sites: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Units per district and arm: the design in a table when there is no map to draw."""
    arms = [arm for arm in ARM_LABELS if any(site.get("arm") == arm for site in sites)]
    counts = Counter((site.get("district") or "not recorded", site.get("arm")) for site in sites)
    districts = sorted({district for district, _ in counts})
    return [
        {"District": district}
        | {f"{ARM_LABELS[arm]} units": counts[(district, arm)] for arm in arms}
        for district in districts
    ]


@dataclass(frozen=True)
class TimelineRow:
    """One bar of the rollout timeline."""

    stage: str
    start: date
    end: date
    kind: str  # "pre", "cohort" or "post"


def timeline_rows(spec: TrialSpec, sites: Sequence[Mapping[str, Any]]) -> list[TimelineRow]:
    """The pre window, one bar per cohort from its start, and the post window."""
    rows = [TimelineRow("Before (pre window)", spec.pre[0], spec.pre[1], "pre")]
    if spec.switchback:
        rows.append(
            TimelineRow(
                f"Switchback: {len(spec.treated)} days with, {len(spec.control)} without",
                spec.treatment_start or spec.post[0],
                spec.post[1],
                "cohort",
            )
        )
    elif spec.start_by_unit:
        starts = Counter(
            site.get("start")
            for site in sites
            if site.get("arm") == "treated" and site.get("start")
        )
        groups: dict[date, list[str]] = {}
        for group, start in spec.start_by_unit:
            groups.setdefault(start, []).append(group)
        for start in sorted(groups):
            count = starts.get(start.isoformat(), 0)
            rows.append(
                TimelineRow(
                    f"Cohort {', '.join(groups[start])} treated{_units(count)}",
                    start,
                    spec.post[1],
                    "cohort",
                )
            )
    else:
        count = sum(1 for site in sites if site.get("arm") == "treated")
        named = (
            ", ".join(spec.treated)
            if len(spec.treated) <= NAMED_GROUPS
            else f"{len(spec.treated)} {spec.assigned_by}s"
        )
        start = spec.treatment_start or spec.post[0]
        rows.append(TimelineRow(f"{named} treated{_units(count)}", start, spec.post[1], "cohort"))
    rows.append(TimelineRow("After (post window)", spec.post[0], spec.post[1], "post"))
    return rows


def _units(count: int) -> str:
    if not count:
        return ""
    return f" ({count} unit{'s' if count != 1 else ''})"
