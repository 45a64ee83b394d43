"""Benchmarks at tiny sizes, our side only: the data generators give the benchmarks what they
expect, and the timing and agreement helpers behave.

The peers (the ``bench`` dependency group) are not installed by ``make test``, so nothing here
imports them; ``make bench`` runs the comparisons themselves.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from benchmarks import Row, Timing, best_of, check
from benchmarks import staggered as staggered_bench
from benchmarks import synth as synth_bench
from benchmarks import twfe as twfe_bench
from evaluation.did import estimate_did
from evaluation.staggered import estimate_staggered
from evaluation.synth import estimate_synth


def test_staggered_data_gives_both_sides_the_same_cohorts_and_cells() -> None:
    data = staggered_bench.make_data(200)
    panel, peer = data.panel(), data.peer_frame()
    n_periods = staggered_bench.N_PERIODS
    assert panel.frame.height == peer.height == 200 * n_periods
    assert panel.times[0] == staggered_bench.FIRST_YEAR
    cohorts = set(panel.frame["cohort"].drop_nulls().unique().to_list())
    assert cohorts == set(staggered_bench.COHORTS)
    # R did's coding: the first treated year, 0 for never treated.
    expected = panel.frame.select(
        pl.col("cohort").fill_null(-staggered_bench.FIRST_YEAR) + staggered_bench.FIRST_YEAR
    ).to_series()
    assert peer["first_treat"].to_list() == expected.to_list()
    estimate = estimate_staggered(panel)
    assert estimate.ok
    # The benchmark compares every ATT(g,t): each cohort in every period after the first.
    assert len(estimate.details["att_gt"]) == len(staggered_bench.COHORTS) * (n_periods - 1)
    labels = {(row["group"], row["time"]) for row in estimate.details["att_gt"]}
    assert ("2005", "2002") in labels


def test_staggered_data_is_deterministic() -> None:
    first, second = staggered_bench.make_data(50), staggered_bench.make_data(50)
    np.testing.assert_array_equal(first.y, second.y)
    assert not np.array_equal(first.y, staggered_bench.make_data(50, seed=1).y)


def test_twfe_data_gives_both_sides_the_same_treatment() -> None:
    data = twfe_bench.make_data(40, 10)
    panel, peer = data.panel(), data.peer_frame()
    assert panel.frame.height == len(peer) == 400
    assert peer["D"].tolist() == panel.frame["post"].cast(pl.Float64).to_list()
    assert peer["unit"].tolist() == panel.frame["unit"].to_list()
    estimate = estimate_did(panel, twfe_bench.CONFIG)
    assert estimate.ok
    assert estimate.details["model"] == "twfe"
    assert estimate.details["n_clusters"] == 40
    assert estimate.se is not None
    assert abs(estimate.effect - twfe_bench.EFFECT) < 4 * estimate.se


def test_synth_data_gives_pysyncon_the_pre_period_outcomes_as_predictors() -> None:
    data = synth_bench.make_data(10, 20)
    assert data.outcomes.shape == (20, 11)
    assert data.start == 15
    peer = data.peer_frame()
    assert data.lag_columns == [f"y_{t}" for t in range(15)]
    treated = peer[peer["unit"] == data.units[0]]
    np.testing.assert_array_equal(treated[data.lag_columns].iloc[0], data.outcomes[:15, 0])
    np.testing.assert_array_equal(treated.sort_values("time")["y"], data.outcomes[:, 0])
    estimate = estimate_synth(data.panel(), synth_bench.CONFIG)
    assert estimate.ok
    assert sum(estimate.details["weights"].values()) == pytest.approx(1.0)
    assert [row["unit"] for row in estimate.details["placebo"]] == data.units[1:]


def test_check_fails_beyond_the_tolerance_and_on_nan() -> None:
    assert check("x", 1e-9, 1e-8) == 1e-9
    with pytest.raises(AssertionError, match=r"x: difference 0\.1 exceeds the tolerance 1e-08"):
        check("x", 0.1, 1e-8)
    with pytest.raises(AssertionError, match="disagree"):
        check("x", math.nan, 1e-8)


def test_best_of_warms_up_once_then_times_up_to_repeats_within_the_budget() -> None:
    calls: list[int] = []

    def call() -> int:
        calls.append(1)
        return len(calls)

    timing = best_of(call, repeats=3)
    assert (len(calls), timing.runs, timing.result) == (4, 3, 4)
    assert timing.seconds >= 0
    calls.clear()
    assert best_of(call, repeats=3, budget=0.0).runs == 1
    assert len(calls) == 2
    calls.clear()
    warm = best_of(call, repeats=2, warm_up=lambda: None)
    assert (warm.runs, warm.result) == (2, 2)


def test_row_ratio_is_peer_time_over_ours() -> None:
    row = Row("b", "s", Timing(0.5, 3, None), "peer", Timing(2.0, 1, None), "same")
    assert row.ratio == 4.0
    assert row.met is None
