"""Callaway & Sant'Anna group-time effects: R ``did`` golden numbers, moderndid, refusals.

Golden numbers are R ``did`` 2.5.1 on its ``mpdta`` data (county teen employment, minimum wage),
``att_gt(yname = "lemp", tname = "year", idname = "countyreal", gname = "first.treat")``. R's
printed standard errors come from the multiplier bootstrap, so analytic ones are checked
exactly against moderndid 0.2.0 (``boot=False``), computed here, and only roughly against R's.
"""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from moderndid import aggte, att_gt, load_mpdta
from scipy import stats

from evaluation.panel import PANEL_SCHEMA, Panel
from evaluation.result import Estimate
from evaluation.staggered import StaggeredConfig, estimate_staggered
from livinglab.errors import SpecError
from tests.panels import make_panel

# github.com/bcallaway11/did README.md ("A short example", summary(out)): ATT(g,t) and their
# bootstrap standard errors, est_method = "reg" (identical to "dr" without covariates).
README_ATT_GT = {
    ("2004", "2004"): (-0.0105, 0.0246),
    ("2004", "2005"): (-0.0704, 0.0332),
    ("2004", "2006"): (-0.1373, 0.0397),
    ("2004", "2007"): (-0.1008, 0.0357),
    ("2006", "2004"): (0.0065, 0.0229),
    ("2006", "2005"): (-0.0028, 0.0197),
    ("2006", "2006"): (-0.0046, 0.0179),
    ("2006", "2007"): (-0.0412, 0.0192),
    ("2007", "2004"): (0.0305, 0.0154),
    ("2007", "2005"): (-0.0027, 0.0164),
    ("2007", "2006"): (-0.0311, 0.0184),
    ("2007", "2007"): (-0.0261, 0.0170),
}
# Same README, summary(aggte(out, type = "dynamic")): event-time effects and the overall -0.0772.
README_DYNAMIC = {
    -3: 0.0305,
    -2: -0.0006,
    -1: -0.0245,
    0: -0.0199,
    1: -0.0510,
    2: -0.1373,
    3: -0.1008,
}
README_DYNAMIC_OVERALL = -0.0772
# Same README, summary(aggte(out, type = "group")): per-cohort effects and the overall -0.031.
README_GROUP = {"2004": -0.0797, "2006": -0.0229, "2007": -0.0261}
README_GROUP_OVERALL = -0.0310
# The README prints no simple aggregation; R did's reference page for aggte
# (github.com/bcallaway11/did docs/reference/aggte.md: same data, xformla = NULL, i.e. doubly
# robust without covariates, which equals "reg") prints aggte(out, type = "simple") = -0.04 and
# aggte(out, type = "calendar") = -0.0417 with its per-year effects.
R_SIMPLE = -0.0400
R_CALENDAR = {"2004": -0.0105, "2005": -0.0704, "2006": -0.0488, "2007": -0.0371}
R_CALENDAR_OVERALL = -0.0417


@pytest.fixture(scope="module")
def mpdta() -> pl.DataFrame:
    return load_mpdta()


@pytest.fixture(scope="module")
def mpdta_panel(mpdta: pl.DataFrame) -> Panel:
    return _mpdta_panel(mpdta)


def _mpdta_panel(data: pl.DataFrame, weight: str | None = None) -> Panel:
    years = sorted(data["year"].unique().to_list())
    county = pl.col("countyreal").cast(pl.String)
    treated = pl.col("first.treat") > 0
    frame = data.select(
        county.alias("unit"),
        (pl.col("year") - years[0]).alias("time"),
        pl.col("lemp").alias("y"),
        treated.alias("treated"),
        (treated & (pl.col("year") >= pl.col("first.treat"))).alias("post"),
        pl.when(treated).then(pl.col("first.treat") - years[0]).alias("cohort"),
        county.alias("cluster"),
        (pl.col(weight) if weight else pl.lit(1.0)).alias("weight"),
    ).cast(PANEL_SCHEMA)  # type: ignore[arg-type]
    return Panel(frame=frame, outcome="lemp", times=tuple(years))


def _moderndid(data: pl.DataFrame, **options: object):
    return att_gt(
        data,
        yname="lemp",
        tname="year",
        idname="countyreal",
        gname="first.treat",
        est_method="reg",
        boot=False,
        cband=False,
        **options,
    )


def _cells(estimate: Estimate) -> dict[tuple[str, str], dict]:
    return {(row["group"], row["time"]): row for row in estimate.details["att_gt"]}


def _reference_cells(result) -> dict[tuple[str, str], tuple[float, float]]:
    return {
        (str(int(g)), str(int(t))): (a, s)
        for g, t, a, s in zip(result.groups, result.times, result.att_gt, result.se_gt, strict=True)
    }


def test_att_gt_match_the_r_did_readme(mpdta_panel: Panel) -> None:
    estimate = estimate_staggered(mpdta_panel)
    cells = _cells(estimate)
    assert estimate.ok
    assert set(cells) == set(README_ATT_GT)
    for key, (att, bootstrap_se) in README_ATT_GT.items():
        assert round(cells[key]["att"], 4) == pytest.approx(att, abs=1e-12), key
        # Analytic vs R's printed bootstrap SEs: same target, Monte Carlo noise of 999 draws.
        assert cells[key]["se"] == pytest.approx(bootstrap_se, rel=0.12), key
    assert estimate.details["n_cohorts"] == 3
    assert (estimate.n_units, estimate.n_treated, estimate.n_obs) == (500, 191, 2500)


def test_aggregations_match_r_did(mpdta_panel: Panel) -> None:
    aggregations = estimate_staggered(mpdta_panel).details["aggregations"]
    assert round(aggregations["dynamic"]["effect"], 4) == README_DYNAMIC_OVERALL
    dynamic = {row["event_time"]: row["att"] for row in aggregations["dynamic"]["by"]}
    assert {e: round(a, 4) for e, a in dynamic.items()} == README_DYNAMIC
    assert round(aggregations["group"]["effect"], 4) == README_GROUP_OVERALL
    group = {row["group"]: round(row["att"], 4) for row in aggregations["group"]["by"]}
    assert group == README_GROUP
    assert round(aggregations["simple"]["effect"], 4) == R_SIMPLE
    assert round(aggregations["calendar"]["effect"], 4) == R_CALENDAR_OVERALL
    calendar = {row["time"]: round(row["att"], 4) for row in aggregations["calendar"]["by"]}
    assert calendar == R_CALENDAR


def test_headline_is_the_simple_aggregation_with_normal_inference(mpdta_panel: Panel) -> None:
    estimate = estimate_staggered(mpdta_panel, StaggeredConfig(alpha=0.10))
    simple = estimate.details["aggregations"]["simple"]
    assert (estimate.effect, estimate.se) == (simple["effect"], simple["se"])
    z = stats.norm.ppf(0.95)
    assert estimate.ci_low == pytest.approx(estimate.effect - z * estimate.se, rel=1e-12)
    assert estimate.ci_high == pytest.approx(estimate.effect + z * estimate.se, rel=1e-12)
    assert estimate.p_value == pytest.approx(2 * stats.norm.sf(abs(estimate.effect / estimate.se)))


@pytest.mark.parametrize(
    ("config", "options"),
    [
        (StaggeredConfig(), {}),
        (StaggeredConfig(control_group="notyet"), {"control_group": "notyettreated"}),
        (StaggeredConfig(base_period="universal"), {"base_period": "universal"}),
        (
            StaggeredConfig(control_group="notyet", base_period="universal"),
            {"control_group": "notyettreated", "base_period": "universal"},
        ),
    ],
)
def test_cells_and_aggregations_match_moderndid(
    mpdta: pl.DataFrame, mpdta_panel: Panel, config: StaggeredConfig, options: dict
) -> None:
    reference = _moderndid(mpdta, **options)
    estimate = estimate_staggered(mpdta_panel, config)
    cells = _cells(estimate)
    expected = _reference_cells(reference)
    assert set(cells) == set(expected)
    for key, (att, se) in expected.items():
        assert cells[key]["att"] == pytest.approx(att, abs=1e-10), key
        if np.isnan(se):  # universal base period: ATT(g, g-1) = 0 by construction
            assert cells[key]["att"] == 0.0
            assert cells[key]["se"] is None
        else:
            assert cells[key]["se"] == pytest.approx(se, rel=1e-8), key
    for kind in ("simple", "group", "dynamic", "calendar"):
        ours = estimate.details["aggregations"][kind]
        theirs = aggte(reference, type=kind, boot=False, cband=False)
        assert ours["effect"] == pytest.approx(theirs.overall_att, abs=1e-10), kind
        assert ours["se"] == pytest.approx(theirs.overall_se, rel=1e-8), kind
        if kind != "simple":
            by_se = [np.nan if row["se"] is None else row["se"] for row in ours["by"]]
            np.testing.assert_allclose([row["att"] for row in ours["by"]], theirs.att_by_event)
            np.testing.assert_allclose(by_se, theirs.se_by_event, rtol=1e-8)


def test_universal_base_period_sets_the_reference_cell_to_zero(mpdta_panel: Panel) -> None:
    estimate = estimate_staggered(mpdta_panel, StaggeredConfig(base_period="universal"))
    cells = _cells(estimate)
    for group, reference in (("2004", "2003"), ("2006", "2005"), ("2007", "2006")):
        assert cells[group, reference] == {
            "group": group,
            "time": reference,
            "att": 0.0,
            "se": None,
        }
    # Post-treatment cells compare with g-1 under either base period.
    varying = _cells(estimate_staggered(mpdta_panel))
    assert cells["2004", "2006"]["att"] == pytest.approx(varying["2004", "2006"]["att"])
    assert len(cells) == 15


@pytest.mark.filterwarnings("ignore:Not returning pre-test Wald statistic")
def test_without_never_treated_units_notyet_drops_the_last_cohort_as_r_does(
    mpdta: pl.DataFrame,
) -> None:
    treated_only = mpdta.filter(pl.col("first.treat") > 0)
    estimate = estimate_staggered(
        _mpdta_panel(treated_only), StaggeredConfig(control_group="notyet")
    )
    reference = _reference_cells(_moderndid(treated_only, control_group="notyettreated"))
    cells = _cells(estimate)
    # R keeps periods before 2007 and estimates no cell for the 2007 cohort (only a comparison);
    # moderndid additionally reports that cohort's pre-treatment cells.
    assert set(cells) == {key for key in reference if key[0] != "2007"}
    for key, row in cells.items():
        assert row["att"] == pytest.approx(reference[key][0], abs=1e-10)
        assert row["se"] == pytest.approx(reference[key][1], rel=1e-8)
    assert any("serves only as a comparison" in w for w in estimate.warnings)
    simple = aggte(_moderndid(treated_only, control_group="notyettreated"), type="simple")
    assert estimate.effect == pytest.approx(simple.overall_att, abs=1e-10)


def test_weighted_cells_match_moderndid_and_aggregations_use_weighted_cohort_shares(
    mpdta: pl.DataFrame,
) -> None:
    estimate = estimate_staggered(_mpdta_panel(mpdta, weight="lpop"))
    cells = _cells(estimate)
    for key, (att, se) in _reference_cells(_moderndid(mpdta, weightsname="lpop")).items():
        assert cells[key]["att"] == pytest.approx(att, abs=1e-10)
        assert cells[key]["se"] == pytest.approx(se, rel=1e-8)
    # R's aggte weights cohorts by their summed sampling weights (moderndid 0.2.0 drops the
    # weights at this step, so the simple aggregation is checked by hand).
    first_year = mpdta.filter(pl.col("year") == 2003)
    share = {
        str(g): first_year.filter(pl.col("first.treat") == g)["lpop"].sum()
        for g in (2004, 2006, 2007)
    }
    post = [row for row in cells.values() if row["time"] >= row["group"]]
    expected = sum(share[r["group"]] * r["att"] for r in post) / sum(
        share[r["group"]] for r in post
    )
    assert estimate.effect == pytest.approx(expected, abs=1e-12)


def test_bootstrap_is_seeded_and_close_to_the_analytic_errors(mpdta_panel: Panel) -> None:
    analytic = estimate_staggered(mpdta_panel)
    boot = estimate_staggered(mpdta_panel, StaggeredConfig(bootstrap=True, seed=3))
    again = estimate_staggered(mpdta_panel, StaggeredConfig(bootstrap=True, seed=3))
    other = estimate_staggered(mpdta_panel, StaggeredConfig(bootstrap=True, seed=4))
    assert boot == again
    assert boot.se != other.se
    assert boot.effect == analytic.effect
    assert boot.se == pytest.approx(analytic.se, rel=0.15)
    for row, reference in zip(boot.details["att_gt"], analytic.details["att_gt"], strict=True):
        assert row["se"] == pytest.approx(reference["se"], rel=0.2)
    critical = boot.details["aggregations"]["dynamic"]["uniform_critical_value"]
    # A uniform band over 7 event times is wider than pointwise, narrower than Bonferroni.
    assert stats.norm.ppf(0.975) < critical < stats.norm.ppf(1 - 0.025 / 7)
    assert analytic.details["aggregations"]["dynamic"]["uniform_critical_value"] is None
    assert "Rademacher" in boot.details["inference"]


def test_clustered_errors_are_the_cluster_sum_sandwich() -> None:
    """One cohort vs never treated: ATT(g,t) is the OLS slope of y_t - y_{g-1} on treatment, so
    its clustered error is the sandwich with cluster sums and no small-sample factor."""
    panel = make_panel(n_treated=12, n_control=12, n_periods=4, first_post=2, seed=5)
    cluster = pl.col("unit").str.slice(1).cast(pl.Int64) // 3
    frame = panel.frame.with_columns(cluster.cast(pl.String).alias("cluster"))
    frame = frame.with_columns(pl.col("y") + pl.col("cluster").cast(pl.Float64) * pl.col("time"))
    weight = 1 + (pl.col("unit").str.slice(1).cast(pl.Int64) % 4).cast(pl.Float64)
    frame = frame.with_columns(weight.alias("weight"))
    estimate = estimate_staggered(panel.with_frame(frame))

    wide = frame.pivot(on="time", index=["unit", "treated", "cluster", "weight"], values="y")
    change = (wide["3"] - wide["1"]).to_numpy()
    design = sm.add_constant(wide["treated"].cast(pl.Float64).to_numpy())
    fit = sm.WLS(change, design, weights=wide["weight"].to_numpy()).fit(
        cov_type="cluster",
        cov_kwds={"groups": wide["cluster"].cast(pl.Int64).to_numpy(), "use_correction": False},
    )
    cell = next(row for row in estimate.details["att_gt"] if row["time"] == panel.time_label(3))
    assert cell["att"] == pytest.approx(fit.params[1], abs=1e-10)
    assert cell["se"] == pytest.approx(fit.bse[1], rel=1e-8)
    assert estimate.details["n_clusters"] == 8
    assert any("only 8 clusters" in warning for warning in estimate.warnings)


def test_relative_effect_and_series_use_the_treated_units_counterfactual(
    mpdta_panel: Panel,
) -> None:
    estimate = estimate_staggered(mpdta_panel)
    frame = mpdta_panel.frame
    treated_post = frame.filter(pl.col("cohort").is_not_null(), pl.col("time") >= pl.col("cohort"))
    counterfactual = treated_post["y"].mean() - estimate.effect
    assert estimate.relative_effect == pytest.approx(estimate.effect / counterfactual)
    series = estimate.details["series"]
    assert series["period"] == ["2003", "2004", "2005", "2006", "2007"]
    observed = frame.filter(pl.col("cohort").is_not_null()).group_by("time").agg(pl.col("y").mean())
    np.testing.assert_allclose(series["observed"], observed.sort("time")["y"].to_numpy())
    gap = np.subtract(series["observed"], series["counterfactual"])
    np.testing.assert_allclose(gap, series["effect"], atol=1e-15)
    assert series["effect"][0] == 0.0
    # In the last period every cohort is treated: the effect is the calendar aggregation.
    calendar = estimate.details["aggregations"]["calendar"]["by"]
    assert series["effect"][-1] == pytest.approx(calendar[-1]["att"])


def test_result_serialises_to_plain_json_data(mpdta_panel: Panel) -> None:
    estimate = estimate_staggered(mpdta_panel, StaggeredConfig(bootstrap=True))
    data = json.loads(json.dumps(estimate.to_dict(), allow_nan=False))
    assert Estimate.from_dict(data) == Estimate.from_dict(estimate.to_dict())
    assert data["details"]["control_group"] == "never"
    assert data["details"]["base_period"] == "varying"
    assert data["details"]["att_gt"][0] == {
        "group": "2004",
        "time": "2004",
        "att": pytest.approx(-0.0105, abs=5e-5),
        "se": pytest.approx(0.0246, rel=0.15),
    }


# --- inputs the method cleans up, with a warning ---------------------------------------------


def _staggered(
    n_units: int = 40, n_periods: int = 6, seed: int = 0, effect: float = 1.0, never: int = 10
) -> Panel:
    """Units with their own level, common period shocks, cohorts spread over periods 1..T-1.

    The first ``never`` units are never treated; ``effect`` is added from a unit's cohort on.
    """
    rng = np.random.default_rng(seed)
    cohorts = rng.integers(1, n_periods, n_units).astype(float)
    cohorts[:never] = np.nan
    time = np.tile(np.arange(n_periods), n_units)
    cohort = np.repeat(cohorts, n_periods)
    post = time >= np.nan_to_num(cohort, nan=np.inf)
    level = np.repeat(rng.normal(10, 2, n_units), n_periods)
    y = level + rng.normal(0, 1, n_periods)[time] + rng.normal(0, 1, time.size) + effect * post
    units = [f"u{u:03d}" for u in range(n_units) for _ in range(n_periods)]
    frame = pl.DataFrame(
        {
            "unit": units,
            "time": time,
            "y": y,
            "treated": ~np.isnan(cohort),
            "post": post,
            "cohort": pl.Series(cohort, nan_to_null=True).cast(pl.Int64),
            "cluster": units,
            "weight": 1.0,
        },
        schema=PANEL_SCHEMA,
    )
    return Panel(frame=frame, outcome="y", times=tuple(range(2010, 2010 + n_periods)))


def test_unbalanced_units_are_dropped_with_a_warning() -> None:
    panel = _staggered(seed=1)
    gappy = panel.frame.filter(~((pl.col("unit").is_in(["u011", "u012"])) & (pl.col("time") == 3)))
    estimate = estimate_staggered(panel.with_frame(gappy))
    balanced = panel.frame.filter(~pl.col("unit").is_in(["u011", "u012"]))
    assert estimate.effect == pytest.approx(
        estimate_staggered(panel.with_frame(balanced)).effect, abs=1e-12
    )
    assert estimate.n_units == 38
    assert any("2 of 40 units were dropped" in warning for warning in estimate.warnings)


def test_units_treated_in_the_first_period_are_dropped_with_a_warning() -> None:
    panel = _staggered(seed=2)
    always = panel.frame.with_columns(
        pl.when(pl.col("unit") == "u020").then(0).otherwise(pl.col("cohort")).alias("cohort")
    )
    estimate = estimate_staggered(panel.with_frame(always))
    without = estimate_staggered(panel.with_frame(panel.frame.filter(pl.col("unit") != "u020")))
    assert estimate.effect == pytest.approx(without.effect, abs=1e-12)
    assert estimate.se == pytest.approx(without.se, rel=1e-12)
    assert any("1 units treated from the first period 2010" in w for w in estimate.warnings)


def test_a_single_unit_cohort_is_kept_and_named() -> None:
    panel = _staggered(n_periods=6, seed=3)
    lonely = panel.frame.with_columns(
        pl.when(pl.col("unit") == "u030").then(5).otherwise(pl.col("cohort")).alias("cohort")
    )
    lonely = lonely.with_columns(
        pl.when(pl.col("cohort") == 5, pl.col("unit") != "u030")
        .then(4)
        .otherwise(pl.col("cohort"))
        .alias("cohort")
    )
    estimate = estimate_staggered(panel.with_frame(lonely))
    assert estimate.ok
    assert any(row["group"] == "2015" for row in estimate.details["att_gt"])
    assert any("first treated at 2015 have a single unit" in w for w in estimate.warnings)


# --- refusals ----------------------------------------------------------------------------


def test_covariates_are_refused() -> None:
    panel = _staggered()
    with_covariate = Panel(panel.frame, panel.outcome, panel.times, covariates=("population",))
    estimate = estimate_staggered(with_covariate)
    assert estimate.status == "cannot_estimate"
    assert "covariates are not supported by the staggered method yet" in estimate.message
    assert (estimate.effect, estimate.se, estimate.p_value) == (None, None, None)


def test_never_treated_controls_need_never_treated_units() -> None:
    estimate = estimate_staggered(_staggered(never=0))
    assert estimate.status == "cannot_estimate"
    assert "no never-treated units" in estimate.message
    assert "control_group='notyet'" in estimate.message
    assert estimate_staggered(_staggered(never=0), StaggeredConfig(control_group="notyet")).ok


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (pl.lit(None, dtype=pl.Int64), "no unit is treated within the panel"),
        (pl.lit(0, dtype=pl.Int64), "no unit is treated within the panel"),
    ],
)
def test_no_treated_cohort_cannot_be_estimated(change: pl.Expr, message: str) -> None:
    panel = _staggered()
    estimate = estimate_staggered(
        panel.with_frame(panel.frame.with_columns(change.alias("cohort")))
    )
    assert estimate.status == "cannot_estimate"
    assert message in estimate.message


def test_a_single_cohort_without_never_treated_units_has_no_comparison() -> None:
    panel = make_panel(n_treated=6, n_control=0)
    estimate = estimate_staggered(panel, StaggeredConfig(control_group="notyet"))
    assert estimate.status == "cannot_estimate"
    assert "single treatment cohort: there is no comparison group" in estimate.message


def test_a_panel_without_any_complete_unit_cannot_be_estimated() -> None:
    panel = _staggered(n_units=4, never=2)
    staircase = panel.frame.filter(pl.col("time") != pl.col("unit").str.slice(1).cast(pl.Int64))
    estimate = estimate_staggered(panel.with_frame(staircase))
    assert estimate.status == "cannot_estimate"
    assert "no unit is observed in every period" in estimate.message


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            pl.when(pl.col("time") == 0).then(pl.lit("elsewhere")).otherwise("cluster"),
            "cluster must be the same in every period of a unit",
        ),
        (
            pl.when(pl.col("time") == 0).then(2.0).otherwise("weight"),
            "weight must be the same in every period of a unit",
        ),
    ],
)
def test_unit_attributes_must_not_vary_over_time(change: pl.Expr, message: str) -> None:
    panel = _staggered()
    column = "cluster" if "cluster" in message else "weight"
    estimate = estimate_staggered(panel.with_frame(panel.frame.with_columns(change.alias(column))))
    assert estimate.status == "cannot_estimate"
    assert message in estimate.message


def test_duplicate_unit_periods_are_refused() -> None:
    panel = _staggered()
    duplicated = pl.concat([panel.frame, panel.frame.head(1)])
    estimate = estimate_staggered(panel.with_frame(duplicated))
    assert estimate.status == "cannot_estimate"
    assert "more than one row for the same period" in estimate.message


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"control_group": "notyettreated"}, "control_group: 'notyettreated' is not allowed"),
        ({"base_period": "fixed"}, "use one of 'varying', 'universal'"),
        ({"n_bootstrap": 10}, "n_bootstrap: 10 is not allowed"),
    ],
)
def test_invalid_options_are_rejected(options: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        StaggeredConfig(**options)  # type: ignore[arg-type]


# --- properties ----------------------------------------------------------------------------

configs = st.builds(
    StaggeredConfig,
    control_group=st.sampled_from(["never", "notyet"]),
    base_period=st.sampled_from(["varying", "universal"]),
)
panels = st.builds(
    _staggered,
    n_units=st.integers(12, 30),
    n_periods=st.integers(3, 7),
    seed=st.integers(0, 10_000),
    effect=st.floats(-5, 5),
    never=st.integers(3, 6),
)


@settings(max_examples=30, deadline=None)
@given(panel=panels, config=configs, shift=st.floats(-100, 100).filter(lambda d: abs(d) > 1e-6))
def test_shifting_treated_post_outcomes_by_d_shifts_the_effect_by_d(
    panel: Panel, config: StaggeredConfig, shift: float
) -> None:
    post = pl.col("cohort").is_not_null() & (pl.col("time") >= pl.col("cohort"))
    shifted = panel.frame.with_columns(
        pl.when(post).then(pl.col("y") + shift).otherwise(pl.col("y")).alias("y")
    )
    before = estimate_staggered(panel, config)
    after = estimate_staggered(panel.with_frame(shifted), config)
    assert after.effect == pytest.approx(before.effect + shift, abs=1e-8 * (1 + abs(shift)))


@settings(max_examples=25, deadline=None)
@given(panel=panels, config=configs, order_seed=st.integers(0, 1000))
def test_unit_order_and_labels_do_not_matter(
    panel: Panel, config: StaggeredConfig, order_seed: int
) -> None:
    units = panel.frame["unit"].unique().sort()
    shuffled = units.sample(fraction=1, shuffle=True, seed=order_seed)
    renamed = {old: f"x{new}" for old, new in zip(units, shuffled, strict=True)}
    permuted = panel.frame.with_columns(
        pl.col("unit").replace(renamed), pl.col("cluster").replace(renamed)
    ).sample(fraction=1, shuffle=True, seed=order_seed)
    original = estimate_staggered(panel, config)
    reordered = estimate_staggered(panel.with_frame(permuted), config)
    assert reordered.effect == pytest.approx(original.effect, abs=1e-9)
    assert reordered.se == pytest.approx(original.se, rel=1e-9)
    cells = [row["att"] for row in original.details["att_gt"]]
    assert [row["att"] for row in reordered.details["att_gt"]] == pytest.approx(cells, abs=1e-9)


@settings(max_examples=30, deadline=None)
@given(panel=panels, config=configs, alpha=st.sampled_from([0.01, 0.05, 0.1, 0.2]))
def test_interval_contains_the_estimate_and_p_is_a_probability(
    panel: Panel, config: StaggeredConfig, alpha: float
) -> None:
    estimate = estimate_staggered(
        panel,
        StaggeredConfig(
            alpha=alpha, control_group=config.control_group, base_period=config.base_period
        ),
    )
    assert estimate.ok
    assert estimate.ci_low <= estimate.effect <= estimate.ci_high
    assert 0.0 <= estimate.p_value <= 1.0
    assert (estimate.p_value < alpha) == (estimate.ci_low > 0 or estimate.ci_high < 0)


def test_rows_in_any_order_are_checked_like_rows_grouped_by_unit() -> None:
    """Rows not grouped by unit and period take the general path: a repeated period and a
    weight that varies within a unit are still refused, naming the first such unit."""
    panel = _staggered()
    shuffled = panel.frame.sample(fraction=1, shuffle=True, seed=1)
    repeated = pl.concat([shuffled, shuffled.filter(pl.col("unit") == "u007").head(1)])
    estimate = estimate_staggered(panel.with_frame(repeated))
    assert estimate.message == "some units have more than one row for the same period"
    changed = (pl.col("unit").is_in(["u013", "u021"])) & (pl.col("time") == 2)
    varying = shuffled.with_columns(pl.when(changed).then(2.0).otherwise("weight").alias("weight"))
    estimate = estimate_staggered(panel.with_frame(varying))
    first = varying.filter(pl.col("unit").is_in(["u013", "u021"]))["unit"][0]
    assert estimate.message == (
        f"weight must be the same in every period of a unit; it varies for unit {first}"
    )
