"""Power, sample size and minimum detectable effect (MDE) for every design, by formula.

``solve_design`` takes four quantities, ``n_units``, ``n_periods`` (periods after the start),
``mde`` (in outcome units) and ``power``, and solves for the one left as ``None``. Tests are
two-sided at level ``alpha``. What each design assumes:

- ``individual``: units randomised, each analysed by its mean over ``n_periods`` post periods,
  whose observations have standard deviation ``sd`` and AR(1) serial correlation ``ar1``, so a
  unit mean has variance ``sd^2 / T^2 sum_{s,t} ar1^|s-t|``. Power is the two-sample t-test's
  (noncentral t, statsmodels ``TTestIndPower``; Cohen 1988 ch. 2).
- ``cluster``: clusters of ``cluster_size`` units randomised; unit means correlate within a cluster
  with ``icc``, so a cluster mean has the unit-mean variance times the design effect
  ``1 + (m - 1) ICC`` over ``m`` (Donner & Klar 2000); the t-test is on cluster means and
  ``n_units`` counts clusters.
- ``switchback``: each of ``n_units`` routes is split into ``n_periods`` blocks randomised
  independently; the t-test is on blocks of standard deviation ``sd``, assuming no carry-over
  (drop washout blocks from ``n_periods`` if there is) and independent blocks.
- ``did``: difference-in-differences on a panel with ``n_pre`` pre periods and ``n_periods`` post
  periods, unit and period fixed effects and idiosyncratic errors of standard deviation ``sd``
  following an AR(1) with coefficient ``ar1``: Burlig, Preonas & Woerman's (2020)
  serial-correlation-robust variance ``[(m+r)/(mr) sd^2 + (r-1)/r psi_A + (m-1)/m psi_B -
  2 psi_X] / (P (1-P) J)``, the variance of a unit's post-minus-pre mean over ``P (1-P) J``,
  computed here in closed form for AR(1) errors (as ``pc_dd_analytic, ar1()`` does). Power is
  ``F(d - t) + F(-d - t)`` with ``F`` Student's t with ``J - 1`` degrees of freedom, matching
  the unit-clustered t test of ``evaluation.did`` (Bertrand, Duflo & Mullainathan 2004 explain
  why the serial correlation cannot be ignored).

``treated_share`` (default 0.5) is the share of randomisation units treated. When solving for
``n_units`` the treated and control counts are each rounded up, so the returned design has at
least the requested power (``details["achieved_power"]``; ``details["n_units_exact"]`` is the
unrounded solution); when solving for ``n_periods`` the smallest sufficient whole number is
returned.

References
----------
Cohen, J. (1988). *Statistical Power Analysis for the Behavioral Sciences*, 2nd ed., ch. 2.
Donner, A. & Klar, N. (2000). *Design and Analysis of Cluster Randomization Trials in Health
Research*. Arnold.
Burlig, F., Preonas, L. & Woerman, M. (2020). Panel data and experimental design. *Journal of
Development Economics* 144, 102458.
Bertrand, M., Duflo, E. & Mullainathan, S. (2004). How much should we trust
differences-in-differences estimates? *Quarterly Journal of Economics* 119(1), 249-275.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
from scipy import optimize, stats
from statsmodels.stats.power import TTestIndPower

from livinglab.errors import InputError, require_one_of

PowerDesign = Literal["individual", "cluster", "switchback", "did"]
MAX_PERIODS = 1_000
COMMON = {"sd": 1.0, "treated_share": 0.5}
DATA_PARAMS: dict[str, dict[str, float | None]] = {
    "individual": COMMON | {"ar1": 0.0},
    "cluster": COMMON | {"ar1": 0.0, "cluster_size": None, "icc": None},
    "switchback": dict(COMMON),
    "did": COMMON | {"ar1": 0.0, "n_pre": None},
}
METHODS = {
    "individual": "two-sample t-test on unit means (noncentral t, statsmodels TTestIndPower)",
    "cluster": "two-sample t-test on cluster means with design effect 1 + (m - 1) ICC",
    "switchback": "two-sample t-test on randomised time blocks, no carry-over",
    "did": "difference-in-differences, serial-correlation-robust variance with AR(1) errors "
    "(Burlig, Preonas & Woerman 2020)",
}
SOLVABLE = ("n_units", "n_periods", "mde", "power")


@dataclass(frozen=True)
class DesignSolution:
    """A design with all four quantities filled, which one was solved for, and how."""

    design: str
    n_units: int
    n_periods: int
    mde: float
    power: float
    alpha: float
    solved_for: str
    method: str
    details: Mapping[str, Any] = field(default_factory=dict)


def power_two_sample(
    effect_size: float, n_treated: float, n_control: float, alpha: float = 0.05
) -> float:
    """Power of the two-sided two-sample t-test for a standardised difference ``effect_size``.

    statsmodels' ``TTestIndPower`` returns NaN far in the noncentral t's tail with very few
    degrees of freedom (d = 9 with two units per arm); there the same power is computed from
    scipy's noncentral t directly, the far tail ``P(T < -t)`` as ``P(T > t)`` under the
    mirrored noncentrality, which scipy evaluates without losing it to NaN.
    """
    power = TTestIndPower().power(
        effect_size=effect_size, nobs1=n_treated, ratio=n_control / n_treated, alpha=alpha
    )
    if math.isnan(power):
        df = n_treated + n_control - 2
        shift = effect_size * math.sqrt(n_treated * n_control / (n_treated + n_control))
        t_crit = stats.t.ppf(1 - alpha / 2, df)
        power = stats.nct.sf(t_crit, df, shift) + stats.nct.sf(t_crit, df, -shift)
    return float(power)


def design_effect(cluster_size: float, icc: float) -> float:
    """Variance inflation of a cluster mean over a simple random sample: ``1 + (m - 1) ICC``."""
    return 1 + (cluster_size - 1) * icc


def mean_variance_factor(n: int, ar1: float) -> float:
    """Variance of the mean of ``n`` AR(1) observations with unit variance."""
    lags = np.arange(1, n)
    return float((n + 2 * ((n - lags) * ar1**lags).sum()) / n**2)


def did_variance_factor(n_pre: int, n_post: int, ar1: float) -> float:
    """Variance of a unit's post-period mean minus its pre-period mean, unit error variance.

    Equals Burlig, Preonas & Woerman's bracket ``(m+r)/(mr) + (r-1)/r psi_A + (m-1)/m psi_B -
    2 psi_X`` for AR(1) errors; the cross term is ``sum_{a=1}^{m} ar1^a sum_{b=0}^{r-1} ar1^b``.
    """
    cross = (ar1 ** np.arange(1, n_pre + 1)).sum() * (ar1 ** np.arange(n_post)).sum()
    return (
        mean_variance_factor(n_post, ar1)
        + mean_variance_factor(n_pre, ar1)
        - 2 * float(cross) / (n_pre * n_post)
    )


def solve_design(
    design: PowerDesign = "individual",
    n_units: int | None = None,
    n_periods: int | None = None,
    mde: float | None = None,
    power: float | None = None,
    alpha: float = 0.05,
    **data_params: float,
) -> DesignSolution:
    """Solve for whichever one of ``n_units``, ``n_periods``, ``mde`` and ``power`` is ``None``.

    ``data_params`` are the design's assumptions (see the module docstring): ``sd``,
    ``treated_share``, ``ar1``, ``cluster_size`` and ``icc`` (cluster), ``n_pre`` (did).
    Raises ``InputError`` unless exactly one of the four is ``None`` and every value is usable.
    """
    require_one_of("design", design, get_args(PowerDesign))
    given = {"n_units": n_units, "n_periods": n_periods, "mde": mde, "power": power}
    missing = [name for name, value in given.items() if value is None]
    if len(missing) != 1:
        raise InputError(
            "solve_design needs exactly one of n_units, n_periods, mde, power left as None; "
            f"got {len(missing)} None ({', '.join(missing) or 'none'})"
        )
    params = _data_params(design, data_params)
    _check_values(design, given, alpha, params)
    target = missing[0]
    share = params["treated_share"]
    details: dict[str, Any] = {}
    if target == "mde":
        mde = _solve_mde(design, n_units, n_periods, power, alpha, params)
    elif target == "n_units":
        exact = _solve_n_units(design, n_periods, mde, power, alpha, params)
        details["n_units_exact"] = exact
        if design == "switchback":
            n_units = math.ceil(exact - 1e-9)
        else:
            # Rounding each arm up keeps every arm at least as large as the exact solution's.
            n_treated = math.ceil(share * exact - 1e-9)
            n_units = n_treated + math.ceil((1 - share) * exact - 1e-9)
            params["treated_share"] = n_treated / n_units
            details["n_treated"] = n_treated
    elif target == "n_periods":
        n_periods = _solve_n_periods(design, n_units, mde, power, alpha, params)
    achieved = _power(design, n_units, n_periods, mde, alpha, params)
    if target == "power":
        power = achieved
    else:
        details["achieved_power"] = achieved
    details |= _assumptions(design, n_periods, params)
    return DesignSolution(
        design=design,
        n_units=int(n_units),
        n_periods=int(n_periods),
        mde=float(mde),
        power=float(power),
        alpha=alpha,
        solved_for=target,
        method=METHODS[design],
        details=details,
    )


def _power(
    design: str,
    n_units: float,
    n_periods: int,
    mde: float,
    alpha: float,
    params: Mapping[str, float],
) -> float:
    """Power at ``n_units`` randomisation units (a real number, so that solvers can bracket)."""
    sd, share = params["sd"], params["treated_share"]
    n_treated, n_control = share * n_units, (1 - share) * n_units
    if design == "did":
        factor = did_variance_factor(int(params["n_pre"]), n_periods, params["ar1"])
        shift = mde / (sd * math.sqrt(factor / (share * (1 - share) * n_units)))
        df = n_units - 1
        t_crit = stats.t.ppf(1 - alpha / 2, df)
        return float(stats.t.cdf(shift - t_crit, df) + stats.t.cdf(-shift - t_crit, df))
    if design == "switchback":
        return power_two_sample(mde / sd, n_treated * n_periods, n_control * n_periods, alpha)
    unit_sd = sd * math.sqrt(mean_variance_factor(n_periods, params["ar1"]))
    if design == "cluster":
        size = params["cluster_size"]
        unit_sd *= math.sqrt(design_effect(size, params["icc"]) / size)
    return power_two_sample(mde / unit_sd, n_treated, n_control, alpha)


def _solve_mde(
    design: str, n_units: int, n_periods: int, power: float, alpha: float, params: Mapping
) -> float:
    def gap(mde: float) -> float:
        return _power(design, n_units, n_periods, mde, alpha, params) - power

    high = params["sd"]
    while gap(high) < 0:
        high *= 2
    return float(optimize.brentq(gap, 0.0, high, xtol=1e-12 * high))


def _solve_n_units(
    design: str, n_periods: int, mde: float, power: float, alpha: float, params: Mapping
) -> float:
    share = params["treated_share"]
    low = _fewest_units(design, share, n_periods)

    def gap(n: float) -> float:
        return _power(design, n, n_periods, mde, alpha, params) - power

    if gap(low) >= 0:
        return low
    high = 2 * low
    while gap(high) < 0:
        high *= 2
    return float(optimize.brentq(gap, low, high, xtol=1e-10))


def _solve_n_periods(
    design: str, n_units: int, mde: float, power: float, alpha: float, params: Mapping
) -> int:
    share = params["treated_share"]
    first = 1
    if design == "switchback":
        first = math.ceil(_fewest_units(design, share, 1) / n_units - 1e-9)
    # Power need not rise monotonically with the number of periods under serial correlation, so
    # every length is tried in turn.
    for periods in range(first, MAX_PERIODS + 1):
        if _power(design, n_units, periods, mde, alpha, params) >= power:
            return periods
    raise InputError(
        f"no number of periods up to {MAX_PERIODS} gives power {power} for mde {mde} with "
        f"{n_units} units: the pre-period's noise, serial correlation or clustering limit what "
        "more periods can add; add units instead"
    )


def _data_params(design: str, given: Mapping[str, float]) -> dict[str, float]:
    allowed = DATA_PARAMS[design]
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise InputError(
            f"{', '.join(unknown)}: not a parameter of design {design!r}; use {', '.join(allowed)}"
        )
    params = {name: given.get(name, default) for name, default in allowed.items()}
    absent = [name for name, value in params.items() if value is None]
    if absent:
        raise InputError(f"design {design!r} needs {', '.join(absent)}")
    return {name: float(value) for name, value in params.items()}  # type: ignore[arg-type]


def _check_values(
    design: str, given: Mapping[str, float | None], alpha: float, params: Mapping
) -> None:
    share, n_periods = params["treated_share"], given["n_periods"]
    rules = {
        "alpha": (lambda v: 0 < v < 1, "a number between 0 and 1"),
        "sd": (lambda v: v > 0, "a positive number"),
        "treated_share": (lambda v: 0 < v < 1, "a share between 0 and 1"),
        "ar1": (lambda v: -1 < v < 1, "a correlation between -1 and 1"),
        "icc": (lambda v: 0 <= v <= 1, "a correlation between 0 and 1"),
        "cluster_size": (lambda v: v >= 1, "1 or more units"),
        "n_pre": (
            lambda v: v >= 1 and float(v).is_integer(),
            "a whole number of periods, 1 or more",
        ),
        "n_units": (
            lambda v: float(v).is_integer() and v >= _fewest_units(design, share, n_periods),
            "a whole number giving 2 randomisation units (switchback: blocks) in each arm",
        ),
        "n_periods": (lambda v: v >= 1 and float(v).is_integer(), "a whole number, 1 or more"),
        "mde": (lambda v: v > 0, "a positive number"),
        "power": (lambda v: alpha < v < 1, f"a number between alpha ({alpha}) and 1"),
    }
    for name, value in ({"alpha": alpha} | dict(params) | dict(given)).items():
        valid, allowed = rules[name]
        if value is not None and not valid(value):
            raise InputError(f"{name}: {value} is not allowed; use {allowed}")


def _fewest_units(design: str, share: float, n_periods: float | None) -> float:
    """Units giving two randomisation units (switchback: blocks) in the smaller arm.

    Fewer leave an arm without a variance or the t-test without degrees of freedom.
    """
    if design != "switchback":
        return 2 / min(share, 1 - share)
    return max(1.0, 2 / (min(share, 1 - share) * (n_periods or MAX_PERIODS)))


def _assumptions(design: str, n_periods: int, params: Mapping[str, float]) -> dict[str, float]:
    """The variance ingredients behind the answer, for the report."""
    out = dict(params)
    if design in ("individual", "cluster"):
        out["unit_mean_variance_factor"] = mean_variance_factor(n_periods, params["ar1"])
    if design == "cluster":
        out["design_effect"] = design_effect(params["cluster_size"], params["icc"])
    if design == "did":
        out["did_variance_factor"] = did_variance_factor(
            int(params["n_pre"]), n_periods, params["ar1"]
        )
    return out
