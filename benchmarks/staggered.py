"""Staggered adoption: our Callaway & Sant'Anna ATT(g,t) against csdid and moderndid.

Data (``make_data``): ``n_units`` units over 12 periods labelled 2001-2012; 40% are never
treated and the rest are spread evenly over four cohorts first treated in 2005, 2007, 2009 and
2011. The outcome is a unit level plus a period shock plus noise, and on treated cells an effect
``1 + 0.1 x`` event time, so cohorts and event times differ.

Comparisons, each on the same data in the same process:

- analytic standard errors: ``estimate_staggered`` with its defaults (never-treated comparison
  group, varying base period) against csdid ``ATTgt(...).fit(est_method="reg", bstrap=False)``
  with ``aggte("simple")``, and moderndid ``att_gt(est_method="reg", boot=False)`` with
  ``aggte(type="simple")``. Without covariates the outcome-regression, IPW and doubly robust
  estimators coincide; "reg" is the cheapest route for the peers. Our call also computes the
  group, dynamic and calendar aggregations and the chart series, which the peers' calls do not.
- multiplier bootstrap with 999 draws, csdid's default inference: ``bootstrap=True`` against
  ``bstrap=True, biters=999``.

Agreement: every ATT(g,t) and the simple aggregation to 1e-6 (absolute); analytic standard
errors to 1e-6 (relative). Bootstrap standard errors differ by Monte Carlo noise and are only
reported.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from benchmarks import Report, Row, Timing, best_of, check
from evaluation.panel import PANEL_SCHEMA, Panel
from evaluation.result import Estimate
from evaluation.staggered import StaggeredConfig, estimate_staggered

N_UNITS = 30_000
N_PERIODS = 12
FIRST_YEAR = 2001
COHORTS = (4, 6, 8, 10)  # time index of each cohort's first treated period
NEVER_TREATED_SHARE = 0.4
BOOTSTRAP_DRAWS = 999
TOLERANCE = 1e-6
GOAL = "≥ 10x csdid and < 1 s"


@dataclass(frozen=True)
class StaggeredData:
    """A balanced panel in long form, one row per unit and period, units in order.

    ``cohort`` is the time index of the unit's first treated period, -1 for never treated.
    """

    unit: np.ndarray
    time: np.ndarray
    y: np.ndarray
    cohort: np.ndarray

    def panel(self) -> Panel:
        """Our input: the ``Panel`` with time labels 2001, 2002... and one cluster per unit."""
        unit = pl.Series(self.unit).cast(pl.String)
        treated = self.cohort >= 0
        frame = pl.DataFrame(
            {
                "unit": unit,
                "time": self.time,
                "y": self.y,
                "treated": treated,
                "post": treated & (self.time >= self.cohort),
                "cohort": pl.Series(self.cohort).replace(-1, None),
                "cluster": unit,
                "weight": np.ones(self.y.size),
            }
        ).cast(PANEL_SCHEMA)  # type: ignore[arg-type]
        years = range(FIRST_YEAR, FIRST_YEAR + int(self.time.max()) + 1)
        return Panel(frame=frame, outcome="y", times=tuple(years))

    def peer_frame(self) -> pl.DataFrame:
        """The peers' input: ``id, year, y, first_treat`` with 0 for never treated (R ``did``)."""
        return pl.DataFrame(
            {
                "id": self.unit,
                "year": self.time + FIRST_YEAR,
                "y": self.y,
                "first_treat": np.where(self.cohort >= 0, self.cohort + FIRST_YEAR, 0),
            }
        )


def make_data(n_units: int = N_UNITS, seed: int = 0) -> StaggeredData:
    """Deterministic staggered panel of ``n_units`` units over ``N_PERIODS`` periods."""
    rng = np.random.default_rng(seed)
    treated_share = (1 - NEVER_TREATED_SHARE) / len(COHORTS)
    first = rng.choice(
        np.array([-1, *COHORTS]),
        size=n_units,
        p=[NEVER_TREATED_SHARE] + [treated_share] * len(COHORTS),
    )
    periods = np.arange(N_PERIODS)
    event_time = periods - first[:, None]
    treated = (first[:, None] >= 0) & (event_time >= 0)
    y = (
        rng.normal(0, 1, n_units)[:, None]
        + rng.normal(0, 1, N_PERIODS)
        + rng.normal(0, 1, (n_units, N_PERIODS))
        + np.where(treated, 1.0 + 0.1 * event_time, 0.0)
    )
    return StaggeredData(
        unit=np.repeat(np.arange(n_units), N_PERIODS),
        time=np.tile(periods, n_units),
        y=y.ravel(),
        cohort=np.repeat(first, N_PERIODS),
    )


@dataclass(frozen=True)
class _PeerResult:
    """A peer's ATT(g,t) keyed by (cohort year, year) labels, and its simple aggregation."""

    cells: dict[tuple[str, str], float]
    simple: float
    simple_se: float


def run(n_units: int = N_UNITS) -> Report:
    data = make_data(n_units)
    panel = data.panel()
    peer_polars = data.peer_frame()
    peer_pandas = peer_polars.to_pandas()
    size = f"{n_units:,} units x {N_PERIODS} periods, {len(COHORTS)} cohorts + never treated"

    ours = best_of(lambda: estimate_staggered(panel))
    csdid = best_of(lambda: _csdid(peer_pandas, bootstrap=False))
    moderndid = best_of(lambda: _moderndid(peer_polars))
    boot_config = StaggeredConfig(bootstrap=True, n_bootstrap=BOOTSTRAP_DRAWS)
    ours_boot = best_of(lambda: estimate_staggered(panel, boot_config))
    csdid_boot = best_of(lambda: _csdid(peer_pandas, bootstrap=True))

    rows = [
        Row(
            "staggered (analytic SE)",
            size,
            ours,
            "csdid 0.4.3",
            csdid,
            _agreement("csdid", ours.result, csdid.result, compare_se=True),
            GOAL,
            _goal_met(ours, csdid),
        ),
        Row(
            "staggered (analytic SE)",
            size,
            ours,
            "moderndid 0.2.0",
            moderndid,
            _agreement("moderndid", ours.result, moderndid.result, compare_se=True),
        ),
        Row(
            f"staggered (bootstrap, {BOOTSTRAP_DRAWS} draws)",
            size,
            ours_boot,
            "csdid 0.4.3",
            csdid_boot,
            _agreement("csdid (bootstrap)", ours_boot.result, csdid_boot.result, compare_se=False),
            GOAL,
            _goal_met(ours_boot, csdid_boot),
        ),
    ]
    notes = [
        "staggered: csdid and moderndid run est_method='reg' (equal to 'dr' and 'ipw' without "
        "covariates) and compute only the simple aggregation; ours also computes the group, "
        "dynamic and calendar aggregations and the chart series.",
        "staggered (bootstrap): standard errors of the simple aggregation are Monte Carlo "
        f"estimates, {_se(ours_boot.result):.5f} (ours, Rademacher weights, seed 0) vs "
        f"{csdid_boot.result.simple_se:.5f} (csdid, unseeded); the analytic value is "
        f"{_se(ours.result):.5f}.",
    ]
    return Report(rows, notes)


def _csdid(frame: Any, *, bootstrap: bool) -> _PeerResult:
    from csdid.att_gt import ATTgt

    model = ATTgt(
        yname="y",
        tname="year",
        idname="id",
        gname="first_treat",
        data=frame,
        control_group="nevertreated",
        biters=BOOTSTRAP_DRAWS,
    ).fit(est_method="reg", bstrap=bootstrap)
    # aggte prints its summary table.
    with contextlib.redirect_stdout(io.StringIO()):
        model.aggte(typec="simple")
    results = model.results
    cells = {
        (str(int(g)), str(int(t))): float(a)
        for g, t, a in zip(results["group"], results["year"], results["att"], strict=True)
    }
    overall_se = float(np.ravel(model.atte["overall_se"])[0])
    return _PeerResult(cells, float(model.atte["overall_att"]), overall_se)


def _moderndid(frame: pl.DataFrame) -> _PeerResult:
    from moderndid import aggte, att_gt

    result = att_gt(
        frame,
        yname="y",
        tname="year",
        idname="id",
        gname="first_treat",
        est_method="reg",
        boot=False,
        cband=False,
    )
    simple = aggte(result, type="simple", boot=False, cband=False)
    cells = {
        (str(int(g)), str(int(t))): float(a)
        for g, t, a in zip(result.groups, result.times, result.att_gt, strict=True)
    }
    return _PeerResult(cells, float(simple.overall_att), float(simple.overall_se))


def _agreement(peer: str, estimate: Estimate, theirs: _PeerResult, *, compare_se: bool) -> str:
    """Check ATT(g,t), the simple aggregation and (analytic) its SE; describe the differences."""
    if not estimate.ok:
        raise AssertionError(f"staggered: our estimate failed: {estimate.message}")
    cells = {(row["group"], row["time"]): row["att"] for row in estimate.details["att_gt"]}
    if set(cells) != set(theirs.cells):
        raise AssertionError(
            f"staggered vs {peer}: different ATT(g,t) cells; only ours: "
            f"{sorted(set(cells) - set(theirs.cells))}, only theirs: "
            f"{sorted(set(theirs.cells) - set(cells))}"
        )
    cell_gap = max(abs(cells[key] - theirs.cells[key]) for key in cells)
    check(f"staggered vs {peer}: ATT(g,t)", cell_gap, TOLERANCE)
    simple = estimate.details["aggregations"]["simple"]["effect"]
    simple_gap = check(f"staggered vs {peer}: simple ATT", abs(simple - theirs.simple), TOLERANCE)
    text = f"ATT(g,t) {cell_gap:.1e} ({len(cells)} cells), simple ATT {simple_gap:.1e}"
    if compare_se:
        se_gap = check(
            f"staggered vs {peer}: SE of the simple ATT (relative)",
            abs(_se(estimate) / theirs.simple_se - 1),
            TOLERANCE,
        )
        text += f", its SE {se_gap:.1e} (rel.)"
    return text


def _se(estimate: Estimate) -> float:
    if estimate.se is None:
        raise AssertionError(f"staggered: our estimate has no standard error: {estimate.message}")
    return estimate.se


def _goal_met(ours: Timing, theirs: Timing) -> bool:
    return theirs.seconds >= 10 * ours.seconds and ours.seconds < 1.0
