"""Simulation-based power and MDE for any estimation method, on the pilot's own history.

Where no formula fits (synthetic control, staggered designs, a few geographic units) power is
estimated the way GeoLift does: replay the trial many times on historical data in which nothing
was treated. Each simulation picks ``n_treated`` units at random as pseudo-treated and a
pseudo-start at random such that ``min_pre_periods`` periods precede it and ``n_post`` follow it,
keeps the periods up to the end of that window, multiplies the pseudo-treated units' outcomes
after the pseudo-start by ``1 + effect`` and runs the method. Power is the share of simulations
whose p-value is below alpha; a simulation in which the method cannot estimate counts as not
rejecting (the trial would have given no answer), and how many did is reported. With ``effect =
0`` the same share is the method's false-positive rate on this data, which should be near alpha.

Each simulation is an independent ``SimulationJob`` with its own seed, spawned from the caller's
seed with ``numpy.random.SeedSequence``; ``simulate_power`` maps ``run_simulation`` over the jobs,
so the map can be handed to a process pool or a cluster without changing any result.
``simulated_mde`` bisects on the effect for the target power, re-using the same seeds at every
effect (common random numbers) so that the estimated power rises smoothly with the effect.

Assumptions: the history is representative of the trial period, and the effect is multiplicative
and constant over the post periods. The panel's own ``treated``, ``post`` and ``cohort`` columns
are ignored and rewritten.

References
----------
GeoLift (Meta Open Source), *GeoLiftMarketSelection* and *GeoLiftPower* documentation:
simulation-based power on pre-treatment data.
Burlig, F., Preonas, L. & Woerman, M. (2020). Panel data and experimental design. *Journal of
Development Economics* 144, 102458 (simulating on the units' own history).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import polars as pl

from evaluation.panel import Panel
from evaluation.result import Estimate
from livinglab.errors import InputError

Estimator = Callable[[Panel], Estimate]


@dataclass(frozen=True)
class SimulationJob:
    """One replay: its seed and the trial it imitates."""

    seed: int
    effect: float
    n_treated: int
    n_post: int
    alpha: float
    min_pre_periods: int


@dataclass(frozen=True)
class SimulatedPower:
    """Share of ``n_simulations`` replays that rejected; ``n_failed`` could not estimate."""

    effect: float
    power: float
    n_simulations: int
    n_rejected: int
    n_failed: int
    alpha: float


@dataclass(frozen=True)
class SimulatedMde:
    """Smallest relative effect found with at least the target power, or None with a message."""

    mde: float | None
    power: float
    target_power: float
    evaluations: tuple[SimulatedPower, ...]
    message: str = ""


def simulation_jobs(
    *,
    effect: float,
    n_treated: int,
    n_post: int,
    n_simulations: int,
    seed: int,
    alpha: float = 0.05,
    min_pre_periods: int = 2,
) -> list[SimulationJob]:
    """Independent jobs with seeds spawned from ``seed``; the same seed gives the same replays."""
    seeds = np.random.SeedSequence(seed).generate_state(n_simulations, dtype=np.uint64)
    return [SimulationJob(int(s), effect, n_treated, n_post, alpha, min_pre_periods) for s in seeds]


def run_simulation(panel_pre: Panel, estimate: Estimator, job: SimulationJob) -> bool | None:
    """Whether one replay rejects at ``job.alpha``; None when the method cannot estimate."""
    result = estimate(pseudo_trial(panel_pre, job))
    if not result.ok or result.p_value is None:
        return None
    return result.p_value < job.alpha


def pseudo_trial(panel_pre: Panel, job: SimulationJob) -> Panel:
    """The history cut to a random window, with random pseudo-treated units and the effect."""
    frame = panel_pre.frame
    units = np.sort(frame["unit"].unique().to_numpy())
    times = np.sort(frame["time"].unique().to_numpy())
    _check_room(units.size, times.size, job)
    rng = np.random.default_rng(job.seed)
    treated = rng.choice(units, size=job.n_treated, replace=False).tolist()
    start_index = int(rng.integers(job.min_pre_periods, times.size - job.n_post + 1))
    start, last = int(times[start_index]), int(times[start_index + job.n_post - 1])
    is_treated = pl.col("unit").is_in(treated)
    post = pl.col("time") >= start
    trial = frame.filter(pl.col("time") <= last).with_columns(
        is_treated.alias("treated"),
        post.alias("post"),
        pl.when(is_treated).then(pl.lit(start, dtype=pl.Int64)).alias("cohort"),
        pl.when(is_treated & post)
        .then(pl.col("y") * (1 + job.effect))
        .otherwise(pl.col("y"))
        .alias("y"),
    )
    return panel_pre.with_frame(trial)


def simulate_power(
    panel_pre: Panel,
    estimate: Estimator,
    effect: float,
    n_treated: int,
    n_post: int,
    n_simulations: int,
    seed: int,
    *,
    alpha: float = 0.05,
    min_pre_periods: int = 2,
) -> SimulatedPower:
    """Rejection rate of ``estimate`` over replays with a relative ``effect`` injected."""
    jobs = simulation_jobs(
        effect=effect,
        n_treated=n_treated,
        n_post=n_post,
        n_simulations=n_simulations,
        seed=seed,
        alpha=alpha,
        min_pre_periods=min_pre_periods,
    )
    # A plain map over independent jobs: swap in a pool's map to fan the replays out.
    outcomes = list(map(partial(run_simulation, panel_pre, estimate), jobs))
    rejected = sum(outcome is True for outcome in outcomes)
    failed = sum(outcome is None for outcome in outcomes)
    return SimulatedPower(effect, rejected / n_simulations, n_simulations, rejected, failed, alpha)


def simulated_mde(
    panel_pre: Panel,
    estimate: Estimator,
    n_treated: int,
    n_post: int,
    n_simulations: int,
    seed: int,
    *,
    power: float = 0.8,
    alpha: float = 0.05,
    max_effect: float = 1.0,
    tolerance: float = 0.01,
    min_pre_periods: int = 2,
) -> SimulatedMde:
    """Bisect on the relative effect between 0 and ``max_effect`` (negative for decreases).

    Returns the smallest effect tried whose simulated power reaches ``power``, within
    ``tolerance`` of the boundary; ``mde`` is None when even ``max_effect`` falls short.
    """
    if not 0 < power < 1 or max_effect == 0 or tolerance <= 0:
        raise InputError(
            f"simulated_mde needs 0 < power < 1, a non-zero max_effect and a positive tolerance; "
            f"got power {power}, max_effect {max_effect}, tolerance {tolerance}"
        )

    def at(effect: float) -> SimulatedPower:
        return simulate_power(
            panel_pre,
            estimate,
            effect,
            n_treated,
            n_post,
            n_simulations,
            seed,
            alpha=alpha,
            min_pre_periods=min_pre_periods,
        )

    evaluations = [at(max_effect)]
    if evaluations[0].power < power:
        return SimulatedMde(
            None,
            evaluations[0].power,
            power,
            tuple(evaluations),
            f"even an effect of {max_effect:+.0%} reaches only power {evaluations[0].power:.2f}",
        )
    weak, strong = 0.0, max_effect
    best = evaluations[0]
    while abs(strong - weak) > tolerance:
        middle = at((weak + strong) / 2)
        evaluations.append(middle)
        if middle.power >= power:
            strong, best = middle.effect, middle
        else:
            weak = middle.effect
    return SimulatedMde(strong, best.power, power, tuple(evaluations))


def _check_room(n_units: int, n_times: int, job: SimulationJob) -> None:
    if not 1 <= job.n_treated < n_units:
        raise InputError(
            f"n_treated: {job.n_treated} is not allowed; the history has {n_units} units, so use "
            f"1 to {n_units - 1} to leave a control"
        )
    if job.n_post < 1 or job.min_pre_periods < 1 or job.min_pre_periods + job.n_post > n_times:
        raise InputError(
            f"n_post: {job.n_post} post periods after {job.min_pre_periods} pre periods do not "
            f"fit in the {n_times} periods of history"
        )
