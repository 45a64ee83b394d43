"""Two-way fixed effects with clustered errors: ``estimate_did`` against pyfixest and linearmodels.

Data (``make_data``): ``n_units`` units over ``n_periods`` periods; a quarter of the units are
never treated and the others are spread evenly over cohorts first treated 30%, 50% and 70% of
the way through. The outcome is a unit level plus a period shock plus noise, plus 0.5 on treated
cells. Every library gets the same string unit labels.

Comparisons: ``estimate_did(panel, DidConfig(model="twfe", se="cluster"))`` against pyfixest
``feols("y ~ D | unit + time", vcov={"CRV1": "unit"})`` and linearmodels
``PanelOLS(entity_effects=True, time_effects=True).fit(cov_type="clustered",
cluster_entity=True)`` (the frame is indexed by unit and time before timing).

Agreement: the coefficient with both peers and the standard error with pyfixest to 1e-8
(relative): both follow R fixest's CR1 convention, ``G/(G-1) x (N-1)/(N-K)`` with ``K`` the
regressor plus the fixed effects not nested in the clusters (unit effects count as one).
linearmodels' default (``debiased=True``) scales by ``N/(N-d-k)`` instead, with ``d = N+T-1``
absorbed effects counted in full, ``k`` regressors, and no cluster-count factor. Its standard
error is checked against ours times the square root of the ratio of the two factors, which
states the difference exactly instead of tolerating it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from benchmarks import Report, Row, best_of, check
from evaluation.did import DidConfig, estimate_did
from evaluation.panel import PANEL_SCHEMA, Panel
from evaluation.result import Estimate

N_UNITS = 10_000
N_PERIODS = 100
COHORT_FRACTIONS = (0.3, 0.5, 0.7)
NEVER_TREATED_SHARE = 0.25
EFFECT = 0.5
TOLERANCE = 1e-8
CONFIG = DidConfig(model="twfe", se="cluster")


@dataclass(frozen=True)
class TwfeData:
    """A balanced panel in long form, units in order; ``cohort`` is -1 for never treated."""

    unit: np.ndarray
    time: np.ndarray
    y: np.ndarray
    cohort: np.ndarray

    @property
    def n_units(self) -> int:
        return int(self.unit.max()) + 1

    @property
    def n_periods(self) -> int:
        return int(self.time.max()) + 1

    @property
    def treatment(self) -> np.ndarray:
        return (self.cohort >= 0) & (self.time >= self.cohort)

    def labels(self) -> pl.Series:
        return pl.Series("unit", self.unit).cast(pl.String)

    def panel(self) -> Panel:
        """Our input: treatment assigned (and errors clustered) by unit."""
        unit = self.labels()
        frame = pl.DataFrame(
            {
                "unit": unit,
                "time": self.time,
                "y": self.y,
                "treated": self.cohort >= 0,
                "post": self.treatment,
                "cohort": pl.Series(self.cohort).replace(-1, None),
                "cluster": unit,
                "weight": np.ones(self.y.size),
            }
        ).cast(PANEL_SCHEMA)  # type: ignore[arg-type]
        return Panel(frame=frame, outcome="y", times=tuple(range(self.n_periods)))

    def peer_frame(self) -> Any:
        """The peers' input (pandas): ``unit, time, y, D``."""
        return pl.DataFrame(
            {"unit": self.labels(), "time": self.time, "y": self.y, "D": self.treatment * 1.0}
        ).to_pandas()


def make_data(n_units: int = N_UNITS, n_periods: int = N_PERIODS, seed: int = 0) -> TwfeData:
    """Deterministic staggered panel with a constant effect ``EFFECT``."""
    rng = np.random.default_rng(seed)
    starts = [round(fraction * n_periods) for fraction in COHORT_FRACTIONS]
    treated_share = (1 - NEVER_TREATED_SHARE) / len(starts)
    first = rng.choice(
        np.array([-1, *starts]),
        size=n_units,
        p=[NEVER_TREATED_SHARE] + [treated_share] * len(starts),
    )
    periods = np.arange(n_periods)
    treated = (first[:, None] >= 0) & (periods >= first[:, None])
    y = (
        rng.normal(0, 1, n_units)[:, None]
        + rng.normal(0, 1, n_periods)
        + rng.normal(0, 1, (n_units, n_periods))
        + EFFECT * treated
    )
    return TwfeData(
        unit=np.repeat(np.arange(n_units), n_periods),
        time=np.tile(periods, n_units),
        y=y.ravel(),
        cohort=np.repeat(first, n_periods),
    )


def run(n_units: int = N_UNITS, n_periods: int = N_PERIODS) -> Report:
    data = make_data(n_units, n_periods)
    panel = data.panel()
    frame = data.peer_frame()
    indexed = frame.set_index(["unit", "time"])
    # Warming the slow peer up on the full data would cost as much as a timed run.
    warm_up = make_data(50, 10).peer_frame().set_index(["unit", "time"])
    size = f"{n_units:,} units x {n_periods} periods ({n_units * n_periods:,} rows)"

    ours = best_of(lambda: estimate_did(panel, CONFIG))
    pyfixest = best_of(lambda: _pyfixest(frame))
    linearmodels = best_of(lambda: _linearmodels(indexed), warm_up=lambda: _linearmodels(warm_up))

    effect, se = _numbers(ours.result)
    fixest_coef, fixest_se = pyfixest.result
    coef_gap = check(
        "twfe vs pyfixest: coefficient (relative)", abs(fixest_coef / effect - 1), TOLERANCE
    )
    se_gap = check("twfe vs pyfixest: clustered SE (relative)", abs(fixest_se / se - 1), TOLERANCE)
    lm_agreement, lm_note = _linearmodels_agreement(effect, se, linearmodels.result, data)
    rows = [
        Row(
            "did (TWFE, clustered SE)",
            size,
            ours,
            "pyfixest 0.60.0",
            pyfixest,
            f"coef {coef_gap:.1e}, SE {se_gap:.1e} (rel.)",
            "no slower than pyfixest",
            pyfixest.seconds >= ours.seconds,
        ),
        Row("did (TWFE, clustered SE)", size, ours, "linearmodels 7.1", linearmodels, lm_agreement),
    ]
    return Report(rows, [lm_note])


def _linearmodels_agreement(
    effect: float, se: float, theirs: tuple[float, float, int], data: TwfeData
) -> tuple[str, str]:
    """Check the coefficient, and the SE against linearmodels' own convention; describe both."""
    lm_coef, lm_se, lm_df_model = theirs
    coef_gap = check(
        "twfe vs linearmodels: coefficient (relative)", abs(lm_coef / effect - 1), TOLERANCE
    )
    n_obs, n_clusters, n_periods = data.y.size, data.n_units, data.n_periods
    n_params = 1 + n_periods  # D, the unit effects (nested in the clusters: one) and T-1 periods
    fixest_factor = n_clusters / (n_clusters - 1) * (n_obs - 1) / (n_obs - n_params)
    linearmodels_factor = n_obs / (n_obs - lm_df_model)
    predicted = math.sqrt(linearmodels_factor / fixest_factor)
    check(
        "twfe vs linearmodels: SE ratio against its small-sample convention (relative)",
        abs(lm_se / se / predicted - 1),
        TOLERANCE,
    )
    agreement = f"coef {coef_gap:.1e} (rel.); SE {lm_se / se - 1:+.3%} = its convention (see notes)"
    note = (
        f"did: linearmodels' clustered SE is {lm_se:.8f} vs {se:.8f} (ours and pyfixest), "
        f"{lm_se / se - 1:+.3%}. It scales the covariance by N/(N-d-k) = "
        f"{linearmodels_factor:.6f} with d + k = {lm_df_model:,} (N+T-1 absorbed effects and "
        f"the regressor), fixest by G/(G-1) x (N-1)/(N-K) = {fixest_factor:.6f} with "
        f"K = {n_params}; the square root of their ratio, {predicted:.8f}, accounts for the "
        "whole difference (checked to 1e-8)."
    )
    return agreement, note


def _pyfixest(frame: Any) -> tuple[float, float]:
    import pyfixest

    fit = pyfixest.feols("y ~ D | unit + time", data=frame, vcov={"CRV1": "unit"})
    return float(fit.coef()["D"]), float(fit.se()["D"])


def _linearmodels(indexed: Any) -> tuple[float, float, int]:
    """Coefficient, clustered SE and the parameters linearmodels counted (effects + regressor)."""
    from linearmodels import PanelOLS

    fit = PanelOLS(indexed["y"], indexed[["D"]], entity_effects=True, time_effects=True).fit(
        cov_type="clustered", cluster_entity=True
    )
    return float(fit.params["D"]), float(fit.std_errors["D"]), int(fit.df_model)


def _numbers(estimate: Estimate) -> tuple[float, float]:
    if not estimate.ok or estimate.effect is None or estimate.se is None:
        raise AssertionError(f"twfe: our estimate has no standard error: {estimate.message}")
    return estimate.effect, estimate.se
