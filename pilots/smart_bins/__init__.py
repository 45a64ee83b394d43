"""Smart bins: fill-level sensors let trucks empty street bins when they are full, not by rota."""

from __future__ import annotations

from pathlib import Path

from pilots.contract import Pilot
from pilots.smart_bins.adapter import load_smart_bins
from pilots.smart_bins.metrics import METRICS
from pilots.smart_bins.simulator import simulate_smart_bins

PILOT = Pilot(
    id="smart_bins",
    name="Smart bins",
    description=(
        "Fill-level sensors in street litter bins let collection routes switch from a fixed "
        "schedule to emptying bins when they need it."
    ),
    unit_of_analysis="bin",
    adapter=load_smart_bins,
    metrics=METRICS,
    simulator=simulate_smart_bins,
    demo_spec=Path(__file__).resolve().parents[2] / "experiments" / "trials" / "smart_bins.toml",
    default_effect=-0.3,
)
