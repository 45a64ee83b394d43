"""Autonomous shuttle: a switchback trial of an AV against the conventional airport minibus."""

from __future__ import annotations

from pathlib import Path

from pilots.autonomous_vehicles.adapter import load_autonomous_vehicles
from pilots.autonomous_vehicles.metrics import METRICS
from pilots.autonomous_vehicles.simulator import simulate_autonomous_vehicles
from pilots.contract import Pilot

PILOT = Pilot(
    id="autonomous_vehicles",
    name="Autonomous shuttle",
    description=(
        "An autonomous shuttle with a backup operator aboard takes over the HKIA Car Park 4 - "
        "Chek Lap Kok South Road route on randomly chosen service days; the conventional "
        "minibus runs the others."
    ),
    unit_of_analysis="route",
    adapter=load_autonomous_vehicles,
    metrics=METRICS,
    simulator=simulate_autonomous_vehicles,
    demo_spec=(
        Path(__file__).resolve().parents[2] / "experiments" / "trials" / "autonomous_vehicles.toml"
    ),
    # The AV is held to 50 km/h and brakes early at crossings: trips about 8% longer (see the
    # simulator's docstring).
    default_effect=0.08,
)
