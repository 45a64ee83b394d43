"""A pilot without a plug-in: any CSV, Parquet or SQLite table, described in the trial spec.

The owner of a new pilot (an electronic road pricing scheme, smart parking meters) declares in
the spec's ``[data]`` table where the table is, which columns are the unit, the time and the unit
attributes, and which metrics to compute; no Python is needed. The same validation, quarantine
and data health apply as for the built-in pilots. ``livinglab simulate tabular`` writes an
example: parking meters under demand-responsive pricing (``experiments/trials/tabular.toml``).
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from pilots.contract import Pilot
from pilots.tabular.adapter import load_table
from pilots.tabular.example import simulate_parking_meters
from pilots.tabular.source import parse_source


def configure(data: Any) -> Pilot:
    """The tabular pilot configured by a spec's ``[data]`` table (``SpecError`` if invalid)."""
    source = parse_source(data)
    return replace(PILOT, adapter=partial(load_table, source), metrics=source.metrics)


def _unconfigured(data_dir: Path) -> Any:
    from livinglab.errors import SpecError

    raise SpecError("the tabular pilot reads its data as a trial spec's [data] table describes")


PILOT = Pilot(
    id="tabular",
    name="Any table",
    description=(
        "A pilot without a plug-in: a CSV, Parquet or SQLite table whose columns and metrics "
        "are declared in the trial spec."
    ),
    unit_of_analysis="as declared",
    adapter=_unconfigured,
    metrics=(),
    simulator=simulate_parking_meters,
    demo_spec=Path(__file__).resolve().parents[2] / "experiments" / "trials" / "tabular.toml",
    default_effect=-0.1,
    configure=configure,
)
