"""Kowloon East: smart parking information and adaptive signals in HK's smart-city test bed."""

from __future__ import annotations

from pathlib import Path

from pilots.contract import Pilot
from pilots.kowloon_east.adapter import load_kowloon_east
from pilots.kowloon_east.metrics import METRICS
from pilots.kowloon_east.simulator import simulate_kowloon_east

PILOT = Pilot(
    id="kowloon_east",
    name="Kowloon East smart traffic and parking",
    description=(
        "Real-time car-park vacancy information and adaptive traffic signals in Kowloon East "
        "(Kowloon Bay and Kwun Tong), evaluated against 40 other Hong Kong areas with a "
        "synthetic control."
    ),
    unit_of_analysis="area",
    adapter=load_kowloon_east,
    metrics=METRICS,
    simulator=simulate_kowloon_east,
    demo_spec=Path(__file__).resolve().parents[2] / "experiments" / "trials" / "kowloon_east.toml",
    default_effect=0.08,
)
