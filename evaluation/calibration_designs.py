"""Simulated pilots for the calibration study: panels shaped like ours, with a known effect.

Each design draws a fresh ``Panel`` from a seed, with the structure real pilot data has: unit
levels, a common seasonal wave with a random phase, common time shocks, shocks shared by the
units of a group (a route, a district) and errors within each unit, the shocks and errors AR(1)
over time. A constant additive ``effect`` is added to every treated post-period outcome. With a
constant additive effect every method's estimand equals that constant: the 2x2 ATT, the TWFE
coefficient, the event-study average over event times 0..window, Callaway & Sant'Anna's simple
ATT, the average post-period gap of synthetic control and of the structural time-series
counterfactual, and the randomized ITT. So one true value judges every interval.

Designs (``DESIGNS``), each with the methods a pilot of that shape would use and their options:

- ``smart_bins``: 12 routes of 10 bins, 26 weeks; 6 routes drawn at random are treated from
  week 12 (a cluster-randomised common start).
- ``smart_bins_no_season``: the same without the seasonal wave, the design under which a
  before/after comparison's assumption (the pre-period trend continues) holds.
- ``smart_lampposts``: 400 lampposts in 4 districts, 30 months; in each district a quarter of
  the lampposts is converted in each of 3 phases (months 10, 16, 22) and a quarter never is.
- ``kowloon_east``: 1 treated area and 40 donor areas, 52 weeks, treated from week 36. Outcomes
  follow a linear factor model (a seasonal factor and two AR(1) factors) and the treated area's
  level and loadings are the average of 5 donors', so a convex combination of donors
  reproduces its untreated path (the synthetic-control assumption) up to noise.
- ``av_switchback``: one autonomous-vehicle route over 120 service days, 60 of them drawn at
  random as treated; a day-of-week pattern, a slow AR(1) drift and daily noise.

The effect of effect trials is one within-unit standard deviation of the outcome
(``Noise.within_sd``: the seasonal, common, group and unit-period parts together).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl
from scipy import signal

from evaluation.panel import PANEL_SCHEMA, Panel

START = date(2026, 1, 5)


@dataclass(frozen=True)
class Noise:
    """Scales of an outcome's parts and the AR(1) coefficients of its time-varying parts.

    ``unit``: sd of unit levels (a group's level, shared by its units, has half that sd);
    ``season``: amplitude of a sine wave of ``season_period`` periods shared by every unit;
    ``common``, ``group``, ``error``: stationary sd of the common shock, of a group's shock and
    of a unit's error, with AR(1) coefficients ``*_rho``.
    """

    unit: float
    season: float
    season_period: int
    common: float
    common_rho: float
    group: float
    group_rho: float
    error: float
    error_rho: float

    @property
    def within_sd(self) -> float:
        """The sd of one unit's outcome around its own level (a sine of amplitude A has A^2/2)."""
        return math.sqrt(self.season**2 / 2 + self.common**2 + self.group**2 + self.error**2)


BINS_NOISE = Noise(8.0, 3.0, 52, 2.0, 0.5, 1.5, 0.5, 4.0, 0.5)
SMOOTH_BINS_NOISE = replace(BINS_NOISE, season=0.0)
LAMPPOSTS_NOISE = Noise(10.0, 6.0, 12, 2.0, 0.6, 1.0, 0.6, 5.0, 0.5)
KOWLOON_NOISE = Noise(10.0, 4.0, 52, 3.0, 0.7, 2.0, 0.7, 1.5, 0.3)
SWITCHBACK_NOISE = Noise(0.0, 12.0, 7, 8.0, 0.9, 0.0, 0.0, 6.0, 0.0)


def ar1(
    rng: np.random.Generator, n_periods: int, n_series: int, rho: float, sd: float
) -> np.ndarray:
    """``(n_periods, n_series)`` stationary AR(1) paths with marginal sd ``sd``."""
    shocks = rng.normal(0.0, sd, (n_periods, n_series))
    shocks[1:] *= math.sqrt(1 - rho**2)
    return signal.lfilter([1.0], [1.0, -rho], shocks, axis=0)


def seasonal_wave(rng: np.random.Generator, n_periods: int, noise: Noise) -> np.ndarray:
    """A sine of ``noise.season`` amplitude and ``noise.season_period`` periods, random phase."""
    phase = rng.uniform(0, 2 * math.pi)
    return noise.season * np.sin(2 * math.pi * np.arange(n_periods) / noise.season_period + phase)


def grouped_outcomes(
    rng: np.random.Generator, noise: Noise, n_periods: int, groups: np.ndarray, base: float
) -> np.ndarray:
    """Untreated outcomes ``(n_periods, units)`` for units in ``groups`` (integer codes)."""
    n_units, n_groups = groups.size, int(groups.max()) + 1
    levels = (
        base + rng.normal(0, noise.unit, n_units) + rng.normal(0, noise.unit / 2, n_groups)[groups]
    )
    common = (
        seasonal_wave(rng, n_periods, noise)
        + ar1(rng, n_periods, 1, noise.common_rho, noise.common)[:, 0]
    )
    group = ar1(rng, n_periods, n_groups, noise.group_rho, noise.group)[:, groups]
    error = ar1(rng, n_periods, n_units, noise.error_rho, noise.error)
    return levels[None, :] + common[:, None] + group + error


def long_panel(
    y: np.ndarray,
    treated: np.ndarray,
    post: np.ndarray,
    cohort: np.ndarray,
    clusters: np.ndarray,
    times: tuple[date, ...],
    prefix: str = "u",
) -> Panel:
    """A ``Panel`` from wide ``(periods, units)`` outcomes, arms and post flags.

    ``cohort`` is each unit's first treated period, -1 for never-treated units; ``clusters``
    holds each unit's cluster name.
    """
    n_periods, n_units = y.shape
    names = np.array([f"{prefix}{u:03d}" for u in range(n_units)])
    frame = pl.DataFrame(
        {
            "unit": np.repeat(names, n_periods),
            "time": np.tile(np.arange(n_periods), n_units),
            "y": y.T.ravel(),
            "treated": treated.T.ravel(),
            "post": post.T.ravel(),
            "cohort": np.repeat(cohort, n_periods),
            "cluster": np.repeat(clusters, n_periods),
            "weight": np.ones(y.size),
        }
    ).with_columns(pl.when(pl.col("cohort") >= 0).then(pl.col("cohort")).alias("cohort"))
    return Panel(frame.cast(PANEL_SCHEMA), "y", times)  # type: ignore[arg-type]


def weekly(n_periods: int) -> tuple[date, ...]:
    return tuple(START + timedelta(weeks=t) for t in range(n_periods))


def smart_bins(seed: int, effect: float, noise: Noise = BINS_NOISE) -> Panel:
    """12 routes x 10 bins, 26 weeks; 6 random routes treated from week 12; cluster = route."""
    n_routes, per_route, n_periods, start = 12, 10, 26, 12
    rng = np.random.default_rng(seed)
    routes = np.repeat(np.arange(n_routes), per_route)
    y = grouped_outcomes(rng, noise, n_periods, routes, base=60.0)
    treated_routes = rng.permutation(n_routes) < n_routes // 2
    treated = np.broadcast_to(treated_routes[routes], y.shape)
    post = np.broadcast_to((np.arange(n_periods) >= start)[:, None], y.shape)
    cohort = np.where(treated_routes[routes], start, -1)
    clusters = np.array([f"route{r:02d}" for r in routes])
    return long_panel(y + effect * (treated & post), treated, post, cohort, clusters, weekly(26))


def smart_bins_no_season(seed: int, effect: float) -> Panel:
    """``smart_bins`` without the seasonal wave."""
    return smart_bins(seed, effect, SMOOTH_BINS_NOISE)


def smart_lampposts(seed: int, effect: float) -> Panel:
    """400 lampposts in 4 districts, 30 months, 3 rollout phases per district + never-treated.

    Each unit is its own cluster: lampposts were converted one by one.
    """
    n_districts, per_district, n_periods, phases = 4, 100, 30, np.array([10, 16, 22, -1])
    rng = np.random.default_rng(seed)
    districts = np.repeat(np.arange(n_districts), per_district)
    y = grouped_outcomes(rng, LAMPPOSTS_NOISE, n_periods, districts, base=50.0)
    # Within each district, a random quarter of the lampposts goes to each phase.
    slot = np.argsort(rng.random((n_districts, per_district)), axis=1).ravel() % phases.size
    cohort = phases[slot]
    treated_unit = cohort >= 0
    time = np.arange(n_periods)[:, None]
    post = treated_unit[None, :] & (time >= cohort[None, :])
    treated = np.broadcast_to(treated_unit, y.shape)
    clusters = np.array([f"lamp{u:03d}" for u in range(y.shape[1])])
    months = tuple(date(2024 + m // 12, m % 12 + 1, 1) for m in range(n_periods))
    return long_panel(y + effect * post, treated, post, cohort, clusters, months, "lamp")


def kowloon_east(seed: int, effect: float, noise: Noise = KOWLOON_NOISE) -> Panel:
    """1 treated area (unit 0) and 40 donors, 52 weeks, treated from week 36.

    ``y = level + loadings @ factors + error`` with three factors: the seasonal wave and two
    AR(1) shocks with ``noise``'s common and group scales; loadings are uniform on [0.5, 1.5].
    The treated area's level and loadings are the mean of 5 random donors', so its untreated
    path is a convex combination of theirs plus its own error.
    """
    n_donors, n_periods, start, sources = 40, 52, 36, 5
    rng = np.random.default_rng(seed)
    factors = np.column_stack(
        [
            seasonal_wave(rng, n_periods, noise),
            ar1(rng, n_periods, 1, noise.common_rho, noise.common)[:, 0],
            ar1(rng, n_periods, 1, noise.group_rho, noise.group)[:, 0],
        ]
    )
    donor_loadings = rng.uniform(0.5, 1.5, (n_donors, 3))
    donor_levels = 100.0 + rng.normal(0, noise.unit, n_donors)
    chosen = rng.choice(n_donors, sources, replace=False)
    loadings = np.vstack([donor_loadings[chosen].mean(axis=0), donor_loadings])
    levels = np.append(donor_levels[chosen].mean(), donor_levels)
    error = ar1(rng, n_periods, n_donors + 1, noise.error_rho, noise.error)
    y = levels[None, :] + factors @ loadings.T + error
    treated_unit = np.arange(n_donors + 1) == 0
    treated = np.broadcast_to(treated_unit, y.shape)
    post = np.broadcast_to((np.arange(n_periods) >= start)[:, None], y.shape)
    cohort = np.where(treated_unit, start, -1)
    clusters = np.array([f"area{u:03d}" for u in range(n_donors + 1)])
    return long_panel(y + effect * (treated & post), treated, post, cohort, clusters, weekly(52))


def av_switchback(seed: int, effect: float) -> Panel:
    """One route over 120 service days, 60 random days treated; every day is a post block."""
    n_days = 120
    noise = SWITCHBACK_NOISE
    rng = np.random.default_rng(seed)
    route = np.zeros(1, dtype=np.int64)
    y = grouped_outcomes(rng, noise, n_days, route, base=200.0)
    arm = (rng.permutation(n_days) < n_days // 2)[:, None]
    days = tuple(START + timedelta(days=d) for d in range(n_days))
    post = np.ones_like(arm)
    return long_panel(y + effect * arm, arm, post, np.array([-1]), np.array(["route0"]), days, "r")


@dataclass(frozen=True)
class Design:
    """A simulated pilot: its generator, its effect size and the methods run on it.

    ``methods`` maps each method name to the options passed to ``run_method``: only those that
    describe the design (what a randomized trial randomised); every other option keeps the
    method's default, so the study calibrates what users get.
    """

    name: str
    description: str
    simulate: Callable[[int, float], Panel]
    effect: float
    methods: Mapping[str, Mapping[str, Any]]


DESIGNS: dict[str, Design] = {
    design.name: design
    for design in (
        Design(
            "smart_bins",
            "12 routes x 10 bins, 26 weeks, 6 random routes treated from week 12",
            smart_bins,
            BINS_NOISE.within_sd,
            {
                "did": {},
                "event_study": {},
                "prepost": {},
                "randomized": {"design": "cluster"},
            },
        ),
        Design(
            "smart_bins_no_season",
            "smart_bins without the seasonal wave",
            smart_bins_no_season,
            SMOOTH_BINS_NOISE.within_sd,
            {"prepost": {}},
        ),
        Design(
            "smart_lampposts",
            "400 lampposts in 4 districts, 30 months, phases at months 10, 16, 22 + never",
            smart_lampposts,
            LAMPPOSTS_NOISE.within_sd,
            {"staggered": {}, "event_study": {}, "did": {}},
        ),
        Design(
            "kowloon_east",
            "1 treated area + 40 donors, 52 weeks, treated from week 36, factor model",
            kowloon_east,
            KOWLOON_NOISE.within_sd,
            {"synth": {}, "bsts": {}, "did": {}},
        ),
        Design(
            "av_switchback",
            "1 route, 120 service days, 60 random days treated",
            av_switchback,
            SWITCHBACK_NOISE.within_sd,
            {"randomized": {"design": "switchback", "adjustment": "none"}},
        ),
    )
}
