"""Small synthetic panels for estimator tests."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from evaluation.panel import PANEL_SCHEMA, Panel

START = date(2026, 1, 5)


def make_panel(
    *,
    n_treated: int = 6,
    n_control: int = 6,
    n_periods: int = 8,
    first_post: int = 4,
    effect: float = 0.0,
    seed: int = 0,
    noise: float = 1.0,
) -> Panel:
    """Units with their own level, a common period shock and ``effect`` on treated post cells.

    Each unit is its own cluster. Units are named ``u00``, ``u01``...; the first ``n_treated``
    are treated. Treatment starts at period ``first_post``.
    """
    rng = np.random.default_rng(seed)
    units = n_treated + n_control
    unit_level = rng.normal(10, 2, units)
    period_shock = rng.normal(0, 1, n_periods)
    rows = []
    for u in range(units):
        for t in range(n_periods):
            treated, post = u < n_treated, t >= first_post
            y = unit_level[u] + period_shock[t] + rng.normal(0, noise)
            rows.append(
                {
                    "unit": f"u{u:02d}",
                    "time": t,
                    "y": y + (effect if treated and post else 0.0),
                    "treated": treated,
                    "post": post,
                    "cohort": first_post if treated else None,
                    "cluster": f"u{u:02d}",
                    "weight": 1.0,
                }
            )
    frame = pl.DataFrame(rows, schema=PANEL_SCHEMA)
    times = tuple(START + timedelta(weeks=t) for t in range(n_periods))
    return Panel(frame=frame, outcome="y", times=times)
