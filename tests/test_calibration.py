"""Calibration study: simulated pilots, the study loop, and every method's interval coverage."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import optimize

from evaluation.calibration import (
    BEGIN,
    END,
    Fit,
    main,
    run_job,
    run_study,
    study_jobs,
    summarise,
    write_report,
)
from evaluation.calibration_designs import (
    BINS_NOISE,
    DESIGNS,
    KOWLOON_NOISE,
    ar1,
    av_switchback,
    kowloon_east,
    smart_bins,
    smart_lampposts,
)
from evaluation.methods import METHODS
from evaluation.panel import PANEL_SCHEMA

# --- generators --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("design", "n_units", "n_periods"),
    [
        ("smart_bins", 120, 26),
        ("smart_bins_no_season", 120, 26),
        ("smart_lampposts", 400, 30),
        ("kowloon_east", 41, 52),
        ("av_switchback", 1, 120),
    ],
)
def test_each_design_draws_a_balanced_panel_of_its_shape(
    design: str, n_units: int, n_periods: int
) -> None:
    panel = DESIGNS[design].simulate(3, 0.0)
    frame = panel.frame
    assert frame.schema == PANEL_SCHEMA
    assert frame.height == n_units * n_periods
    assert frame["unit"].n_unique() == n_units
    assert frame.select("unit", "time").is_duplicated().sum() == 0
    assert len(panel.times) == n_periods
    assert frame["y"].is_finite().all()


@pytest.mark.parametrize("design", sorted(DESIGNS))
def test_the_effect_is_added_to_treated_post_outcomes_only(design: str) -> None:
    simulate = DESIGNS[design].simulate
    null, shifted = simulate(11, 0.0).frame, simulate(11, 2.5).frame
    difference = shifted["y"] - null["y"]
    treated_post = (null["treated"] & null["post"]).to_numpy()
    assert treated_post.any()
    np.testing.assert_allclose(difference.to_numpy()[treated_post], 2.5, rtol=1e-12)
    np.testing.assert_array_equal(difference.to_numpy()[~treated_post], 0.0)
    assert shifted.drop("y").equals(null.drop("y"))


@pytest.mark.parametrize("design", sorted(DESIGNS))
def test_a_seed_fixes_the_panel_and_another_seed_changes_it(design: str) -> None:
    simulate = DESIGNS[design].simulate
    assert simulate(5, 1.0).frame.equals(simulate(5, 1.0).frame)
    assert not simulate(5, 1.0).frame["y"].equals(simulate(6, 1.0).frame["y"])


def test_smart_bins_treats_half_the_routes_whole_from_week_12() -> None:
    frame = smart_bins(2, 0.0).frame
    routes = frame.group_by("cluster").agg(pl.col("treated").n_unique(), pl.col("unit").n_unique())
    assert routes.height == 12
    assert routes["treated"].to_list() == [1] * 12  # a route is treated whole
    assert routes["unit"].to_list() == [10] * 12
    assert frame.filter("treated")["cluster"].n_unique() == 6
    assert set(frame.filter("post")["time"].unique()) == set(range(12, 26))
    assert set(frame.filter("treated")["cohort"].unique()) == {12}
    assert frame.filter(~pl.col("treated"))["cohort"].null_count() == 26 * 60


def test_smart_lampposts_converts_a_quarter_of_each_district_per_phase() -> None:
    frame = smart_lampposts(4, 0.0).frame.filter(pl.col("time") == 0)
    district = (pl.col("unit").str.slice(4).cast(pl.Int64) // 100).alias("district")
    counts = frame.group_by(district, "cohort").len()
    assert counts.height == 16
    assert counts["len"].to_list() == [25] * 16
    assert sorted(frame["cohort"].drop_nulls().unique().to_list()) == [10, 16, 22]
    assert frame["cluster"].n_unique() == 400  # lampposts were converted one by one
    full = smart_lampposts(4, 0.0).frame
    assert full.filter("post").select((pl.col("time") >= pl.col("cohort")).all()).item()
    assert full.filter(pl.col("cohort").is_null())["post"].sum() == 0


def test_kowloon_east_treats_one_area_that_is_a_convex_combination_of_donors() -> None:
    frame = kowloon_east(8, 0.0).frame
    assert frame.filter("treated")["unit"].unique().to_list() == ["u000"]
    assert frame.filter("treated")["cohort"].unique().to_list() == [36]
    # Without unit errors the treated path is exactly a convex combination of donor paths: a
    # non-negative fit with a heavily weighted sum-to-one row leaves no residual.
    exact = kowloon_east(8, 0.0, replace(KOWLOON_NOISE, error=0.0)).frame.sort("unit", "time")
    wide = exact["y"].to_numpy().reshape(41, 52).T
    donors = np.vstack([wide[:, 1:], np.full(40, 1e3)])
    weights, residual = optimize.nnls(donors, np.append(wide[:, 0], 1e3))
    assert residual < 1e-6
    assert weights.sum() == pytest.approx(1.0)


def test_av_switchback_randomises_half_the_days_of_one_route() -> None:
    frame = av_switchback(9, 0.0).frame
    assert frame["unit"].unique().to_list() == ["r000"]
    assert frame["treated"].sum() == 60
    assert frame["post"].all()
    assert frame["cohort"].null_count() == 120


def test_ar1_paths_have_the_stated_sd_and_autocorrelation() -> None:
    paths = ar1(np.random.default_rng(0), 400, 500, 0.6, 2.0)
    lag1 = np.mean(paths[1:] * paths[:-1]) / np.mean(paths**2)
    assert paths.std() == pytest.approx(2.0, rel=0.02)
    assert lag1 == pytest.approx(0.6, abs=0.02)
    assert paths[0].std() == pytest.approx(2.0, rel=0.1)  # stationary from the first period


def test_effect_sizes_are_one_within_unit_sd() -> None:
    assert DESIGNS["smart_bins"].effect == pytest.approx(math.sqrt(3**2 / 2 + 2**2 + 1.5**2 + 4**2))
    assert DESIGNS["smart_bins_no_season"].effect == pytest.approx(math.sqrt(2**2 + 1.5**2 + 4**2))
    assert DESIGNS["kowloon_east"].effect == KOWLOON_NOISE.within_sd
    # Within-unit sd of untreated bins, pooled over many panels, matches the stated one up to
    # the part of the AR(1) variance a 26-week unit mean absorbs.
    deviations = [
        smart_bins(s, 0.0, BINS_NOISE)
        .frame.select(pl.col("y") - pl.col("y").mean().over("unit"))
        .to_series()
        .to_numpy()
        for s in range(40)
    ]
    assert np.std(np.concatenate(deviations)) == pytest.approx(BINS_NOISE.within_sd, rel=0.15)


# --- the study loop ----------------------------------------------------------------------------


def test_jobs_share_panels_across_methods_and_not_across_arms_or_trials() -> None:
    jobs = study_jobs(3, designs=["smart_bins"])
    methods = [m for m in DESIGNS["smart_bins"].methods if m in METHODS]
    assert len(jobs) == 2 * 3 * len(methods)
    seeds: dict[tuple[float, int], set[int]] = {}
    for job in jobs:
        seeds.setdefault((job.true_effect, job.trial), set()).add(job.seed)
    assert len(seeds) == 6  # 2 arms x 3 trials
    assert all(len(shared) == 1 for shared in seeds.values())  # one panel for every method
    assert len(set.union(*seeds.values())) == 6  # and a different panel for each
    assert {job.true_effect for job in jobs} == {0.0, DESIGNS["smart_bins"].effect}


def test_unregistered_methods_are_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(METHODS, "bsts")
    methods = {job.method for job in study_jobs(1, designs=["kowloon_east"])}
    assert "bsts" not in methods
    assert "did" in methods


def test_overrides_replace_a_designs_options() -> None:
    jobs = study_jobs(1, designs=["smart_bins"], overrides={"did": {"bootstrap_draws": 199}})
    options = {job.method: dict(job.options) for job in jobs}
    assert options["did"] == {"bootstrap_draws": 199}
    assert options["randomized"] == {"design": "cluster"}


def test_a_job_is_reproducible() -> None:
    job = study_jobs(1, designs=["smart_bins"], methods=["prepost"])[1]
    first, second = run_job(job), run_job(job)
    assert first.true_effect == DESIGNS["smart_bins"].effect
    # Not to the last bit: prepost averages periods with a multi-threaded polars group_by.
    assert (first.effect, first.ci_low, first.p_value) == pytest.approx(
        (second.effect, second.ci_low, second.p_value), rel=1e-12
    )


def fit(true: float, low: float | None, high: float | None, p: float | None, status: str) -> Fit:
    effect = None if low is None else (low + high) / 2  # type: ignore[operator]
    return Fit("did", "smart_bins", true, status, effect, low, high, p, 0.5)


def test_summary_counts_rejections_coverage_and_refusals() -> None:
    true = DESIGNS["smart_bins"].effect
    fits = [
        fit(0.0, -1.0, 1.0, 0.5, "ok"),
        fit(0.0, 0.5, 1.5, 0.01, "ok"),  # a false positive that misses 0
        fit(0.0, None, None, None, "cannot_estimate"),
        fit(true, true - 1, true + 1, 0.001, "ok"),
        fit(true, true - 1, true + 1, 0.2, "ok"),
        fit(true, None, None, None, "point_only"),
    ]
    row = summarise(fits).row(0, named=True)
    assert row["trials"] == 3
    assert row["fits_with_interval"] == 4
    assert row["false_positive_rate"] == 0.5
    assert row["coverage"] == 0.75
    assert row["power"] == 0.5
    assert row["cannot_estimate"] == pytest.approx(1 / 6)
    assert row["point_only"] == pytest.approx(1 / 6)
    assert row["disagree"] == 0.25  # p = 0.2 with an interval that excludes 0
    assert row["seconds"] == 0.5
    assert row["verdict"] == "ok"  # 4 fits cannot tell 0.75 from 0.95


def test_summary_flags_coverage_far_from_95_percent() -> None:
    hits = [fit(0.0, -1.0, 1.0, 0.5, "ok")] * 600
    misses = [fit(0.0, 1.0, 2.0, 0.01, "ok")] * 400
    assert summarise(hits + misses)["verdict"].item() == "under-covers"
    assert summarise(hits)["verdict"].item() == "over-covers"
    assert summarise(hits[:570] + misses[:30])["verdict"].item() == "ok"


def test_the_report_replaces_only_its_block(tmp_path: Path) -> None:
    path = tmp_path / "calibration.md"
    write_report(path, f"{BEGIN}\nfirst\n{END}")
    assert path.read_text().startswith("# Calibration study\n\n")
    path.write_text(path.read_text() + "\nOur reading of the table.\n")
    write_report(path, f"{BEGIN}\nsecond\n{END}")
    text = path.read_text()
    assert "second" in text
    assert "first" not in text
    assert text.endswith("Our reading of the table.\n")


def test_the_script_writes_a_row_per_registered_method_and_design(tmp_path: Path) -> None:
    out = tmp_path / "docs" / "calibration.md"
    main(["--trials", "1", "--out", str(out), "--workers", "1"])
    text = out.read_text()
    pairs = [(m, d) for d, design in DESIGNS.items() for m in design.methods if m in METHODS]
    for method, design in pairs:
        assert f"| {method} | {design} |" in text
    assert text.count("\n| ") - text.count("\n| design ") - text.count("\n| method ") == len(
        pairs
    ) + len(DESIGNS)


# --- coverage of every method on its primary design -------------------------------------------

TRIALS = 80  # per arm: 160 fits, so a 95% interval's coverage has a Monte Carlo sd of 0.017
PRIMARY = {
    "did": "smart_bins",
    "event_study": "smart_bins",
    "prepost": "smart_bins_no_season",
    "staggered": "smart_lampposts",
    "bsts": "kowloon_east",
    "randomized": "av_switchback",
    "synth": "kowloon_east",
}
# Fewer wild-bootstrap draws keep this test fast; the Monte Carlo error they add to the interval
# ends is small next to the coverage test's own.
QUICK = {"did": {"bootstrap_draws": 999}}
PREPOST_UNDER_COVERS = pytest.mark.xfail(
    strict=True,
    reason="one short before/after series cannot separate the pilot from persistent shocks: "
    "prepost's AR(1) intervals cover about 0.82 (docs/calibration.md)",
)


# bsts plugs in maximum-likelihood variances: when the level variance's estimate sits at zero
# (about 40% of kowloon_east fits) its forecast interval ignores level drift. Over 1,800 fits
# (seeds 0, 7, 2024 x 300 trials x 2 arms) its coverage was 0.93, 0.89 and 0.89, so its floor
# here is lower; the test still catches a collapse.
LOWEST_COVERAGE = {"bsts": 0.85}
# synth's conformal interval (moving-block permutations, 16 of 52 periods after the start) is
# valid but about 4.5 times wider than the estimator's spread: coverage 0.995 over 600 fits.
HIGHEST_COVERAGE = {"synth": 1.0}


@pytest.mark.parametrize(
    "method",
    [
        pytest.param(m, marks=PREPOST_UNDER_COVERS) if m == "prepost" else m
        for m in PRIMARY
        if m in METHODS
    ],
)
def test_95_percent_intervals_cover_the_true_effect(method: str) -> None:
    jobs = study_jobs(
        TRIALS, seed=2024, designs=[PRIMARY[method]], methods=[method], overrides=QUICK
    )
    row = summarise(run_study(jobs)).row(0, named=True)
    assert row["fits_with_interval"] == 2 * TRIALS
    low, high = LOWEST_COVERAGE.get(method, 0.90), HIGHEST_COVERAGE.get(method, 0.99)
    assert low <= row["coverage"] <= high, row
