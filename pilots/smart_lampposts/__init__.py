"""Smart lampposts: conventional street lights converted, in phases, to smart LED lampposts."""

from __future__ import annotations

from pathlib import Path

from pilots.contract import Pilot
from pilots.smart_lampposts.adapter import load_smart_lampposts
from pilots.smart_lampposts.design import DEFAULT_EFFECT
from pilots.smart_lampposts.metrics import METRICS
from pilots.smart_lampposts.simulator import simulate_smart_lampposts

PILOT = Pilot(
    id="smart_lampposts",
    name="Smart lampposts",
    description=(
        "Conventional street lights are converted, in phases, to multi-functional smart LED "
        "lampposts with smart lighting management, hosting weather and traffic sensors."
    ),
    unit_of_analysis="lamppost",
    adapter=load_smart_lampposts,
    metrics=METRICS,
    simulator=simulate_smart_lampposts,
    demo_spec=Path(__file__).resolve().parents[2]
    / "experiments"
    / "trials"
    / "smart_lampposts.toml",
    default_effect=DEFAULT_EFFECT,
)
