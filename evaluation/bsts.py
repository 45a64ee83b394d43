"""Structural time-series counterfactual for the treated group's mean (CausalImpact-like).

Estimand: the average effect on the treated units' mean outcome over the post periods, i.e. the
observed mean minus the mean the treated series would have had without the intervention. That
counterfactual is forecast from a structural time-series model fitted to the pre-period only:
a local level (or, with ``trend``, a local linear trend), an optional stochastic dummy
seasonal, and a static regression on control series whose post-period values are known
(Brodersen, Gallusser, Koehler, Remy & Scott 2015, *Annals of Applied Statistics* 9(1)).
Assumptions: the controls were not affected by the intervention, and the pre-period relation
between the treated series and the controls would have continued unchanged.

Differences from CausalImpact, which fits a Bayesian model by MCMC with a spike-and-slab prior
on the regression:

- the variances are maximum-likelihood estimates with exact diffuse initialisation of the
  level, trend, seasonal and regression states (Durbin & Koopman 2012, *Time Series Analysis
  by State Space Methods*, 2nd ed., ch. 5 and 7); the regression coefficients are states, so
  their uncertainty enters the forecast, but the variances are plugged in, so intervals ignore
  their estimation error and can be somewhat narrower than CausalImpact's;
- with more usable control units than ``max_controls`` (or than the pre-period can support),
  the ones most correlated (in absolute value) with the treated series in the pre-period are
  used; they are listed in ``details["model"]["controls"]``;
- counterfactual paths are simulated from the fitted model in antithetic pairs (each deviation
  from the forecast mean is used with both signs, valid because the forecast is linear-Gaussian
  given the parameters), so the simulated distribution is symmetric about the forecast and the
  interval always contains the estimate;
- the p-value is two-sided: ``2 (min(#{S >= O}, #{S <= O}) + 1) / (n + 1)``, capped at 1, for
  the observed post-period mean ``O`` and the ``n`` simulated counterfactual means ``S``
  (CausalImpact reports the one-sided version). The interval is the set of effects this test
  does not reject at ``alpha``, so ``p < alpha`` exactly when it excludes zero.

The treated and control series are standardised with their pre-period mean and standard
deviation before fitting (as CausalImpact does) and transformed back afterwards. Pre-period
counterfactuals are the smoothed in-sample predictions with Gaussian intervals; cumulative
effects are zero before the start, as in CausalImpact.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import polars as pl
import statsmodels.api as sm
from scipy import stats
from statsmodels.tsa.statespace.mlemodel import MLEResults

from evaluation.bsts_report import ImpactSummary, impact_report
from evaluation.config import MethodConfig
from evaluation.panel import Panel
from evaluation.result import Estimate, cannot_estimate
from evaluation.series import series
from livinglab.errors import InputError, SpecError

METHOD = "bsts"
ESTIMAND = (
    "average effect on the treated group's mean after the start vs a structural time-series "
    "counterfactual"
)
MIN_PRE = 8
MIN_SEASONAL_CYCLES = 2
# Observations the likelihood keeps beyond the diffuse states and the variances, so the
# variances are not estimated from a handful of points; controls beyond that are not used.
SPARE_OBSERVATIONS = 3
MIN_SIMULATIONS = 100


@dataclass(frozen=True)
class BstsConfig(MethodConfig):
    """Structural time-series options.

    ``trend``: local linear trend instead of a local level; ``seasonal_period``: length of a
    seasonal cycle in periods (7 for daily data with a weekly pattern, 52 for weekly data with
    a yearly one; ``None`` for no seasonality); ``max_controls``: the most control series used
    as regressors; ``n_simulations``: counterfactual paths drawn (rounded up to an even number).
    """

    trend: bool = False
    seasonal_period: int | None = None
    max_controls: int = 10
    n_simulations: int = 1000

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.seasonal_period is not None and self.seasonal_period < 2:
            raise SpecError(
                f"seasonal_period: {self.seasonal_period} is not allowed; use an integer of at "
                "least 2, or None for no seasonality"
            )
        if self.max_controls < 0:
            raise SpecError(f"max_controls: {self.max_controls} is not allowed; use 0 or more")
        least = max(MIN_SIMULATIONS, math.ceil(2 / self.alpha))
        if self.n_simulations < least:
            raise SpecError(
                f"n_simulations: {self.n_simulations} is too few for alpha {self.alpha}; use at "
                f"least {least}"
            )


@dataclass(frozen=True)
class StructuralFit:
    """A structural time-series model fitted on standardised data, reported in original units."""

    results: MLEResults
    y_mean: float
    y_scale: float
    x_mean: np.ndarray
    x_scale: np.ndarray

    def parameters(self) -> dict[str, float]:
        """Maximum-likelihood variances in the outcome's squared units."""
        names = self.results.model.param_names
        values = np.asarray(self.results.params) * self.y_scale**2
        return {name: float(v) for name, v in zip(names, values, strict=True)}

    def coefficients(self) -> list[float]:
        """Regression coefficients per control, in outcome units per control unit."""
        k = self.x_mean.size
        if k == 0:
            return []
        beta = self.results.smoothed_state[-k:, -1]
        return (beta * self.y_scale / self.x_scale).tolist()

    def in_sample(self, alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Smoothed predictions of the fitted series with Gaussian ``1 - alpha`` intervals."""
        prediction = self.results.get_prediction(information_set="smoothed")
        mean = self.y_mean + self.y_scale * np.asarray(prediction.predicted_mean)
        sd = self.y_scale * np.sqrt(np.clip(np.asarray(prediction.var_pred_mean), 0, None))
        z = float(stats.norm.ppf(1 - alpha / 2))
        return mean, mean - z * sd, mean + z * sd

    def forecast(self, steps: int, exog: np.ndarray | None) -> np.ndarray:
        """Counterfactual mean for ``steps`` periods after the fitted sample."""
        forecast = self.results.get_forecast(steps, exog=self._scaled(exog))
        return self.y_mean + self.y_scale * np.asarray(forecast.predicted_mean)

    def simulate(
        self, steps: int, exog: np.ndarray | None, pairs: int, rng: np.random.Generator
    ) -> np.ndarray:
        """``steps x 2 pairs`` counterfactual paths: antithetic pairs around the forecast."""
        scaled = self._scaled(exog)
        center = np.asarray(self.results.get_forecast(steps, exog=scaled).predicted_mean)
        draws = self.results.simulate(steps, anchor="end", repetitions=pairs, exog=scaled, rng=rng)
        deviation = self.y_scale * (np.asarray(draws).reshape(steps, pairs) - center[:, None])
        mean = self.y_mean + self.y_scale * center[:, None]
        return np.hstack([mean + deviation, mean - deviation])

    def _scaled(self, exog: np.ndarray | None) -> np.ndarray | None:
        return None if exog is None else (exog - self.x_mean) / self.x_scale


def fit_structural_model(
    endog: np.ndarray,
    exog: np.ndarray | None = None,
    *,
    trend: bool = False,
    seasonal_period: int | None = None,
) -> StructuralFit:
    """Fit a local level (or local linear trend) model with optional seasonal and regression.

    ``endog`` may hold NaN for missing periods; ``exog`` (periods x controls, or one control as a
    vector) must be complete and non-constant. Raises ``InputError`` when the likelihood cannot
    be maximised.
    """
    y_mean = float(np.nanmean(endog))
    y_scale = float(np.nanstd(endog))
    if not y_scale > 0:
        raise InputError(
            "the treated series is constant before the start; there is no "
            "variation to fit a time-series model to"
        )
    if exog is not None:
        exog = np.asarray(exog, dtype=float).reshape(len(endog), -1)
    has_exog = exog is not None and exog.shape[1] > 0
    x_mean = exog.mean(axis=0) if has_exog else np.zeros(0)
    x_scale = exog.std(axis=0) if has_exog else np.ones(0)
    model = sm.tsa.UnobservedComponents(
        (endog - y_mean) / y_scale,
        "lltrend" if trend else "llevel",
        seasonal=seasonal_period,
        exog=(exog - x_mean) / x_scale if has_exog else None,
        mle_regression=False,
        use_exact_diffuse=True,
    )
    try:
        with warnings.catch_warnings():
            # Convergence is judged from the optimiser's own flag below, not from warnings.
            warnings.simplefilter("ignore")
            results = model.fit(disp=False)
            if not results.mle_retvals["converged"]:
                # L-BFGS stops on a failed line search when a variance sits near zero, often
                # at the optimum already; Nelder-Mead from there settles it without gradients.
                results = model.fit(
                    start_params=results.params, method="nm", maxiter=5000, disp=False
                )
    except (np.linalg.LinAlgError, ValueError, FloatingPointError) as exc:
        raise InputError(f"the structural time-series model could not be fitted: {exc}") from exc
    if not results.mle_retvals["converged"] or not np.isfinite(results.llf):
        raise InputError(
            "the structural time-series model could not be fitted: maximum likelihood did not "
            "converge"
        )
    return StructuralFit(results, y_mean, y_scale, x_mean, x_scale)


@dataclass(frozen=True)
class _Design:
    times: np.ndarray
    y: np.ndarray
    post: np.ndarray
    controls: np.ndarray
    control_names: list[str]
    notes: list[str]


def estimate_bsts(panel: Panel, config: BstsConfig | None = None) -> Estimate:
    config = config or BstsConfig()
    frame = panel.frame
    counts = {
        "n_obs": frame.height,
        "n_units": frame["unit"].n_unique(),
        "n_treated": frame.filter("treated")["unit"].n_unique(),
    }
    design = _design(frame, config)
    if isinstance(design, str):
        return cannot_estimate(METHOD, ESTIMAND, design, **counts, warnings=panel.notes)
    pre, post = ~design.post, design.post
    try:
        fit = fit_structural_model(
            design.y[pre],
            design.controls[pre],
            trend=config.trend,
            seasonal_period=config.seasonal_period,
        )
        pairs = math.ceil(config.n_simulations / 2)
        rng = np.random.default_rng(config.seed)
        steps = int(post.sum())
        exog_post = design.controls[post] if design.controls.shape[1] else None
        forecast = fit.forecast(steps, exog_post)
        paths = fit.simulate(steps, exog_post, pairs, rng)
    except InputError as exc:
        return cannot_estimate(METHOD, ESTIMAND, str(exc), **counts, warnings=panel.notes)
    except (np.linalg.LinAlgError, ValueError) as exc:
        message = f"the counterfactual could not be forecast from the fitted model: {exc}"
        return cannot_estimate(METHOD, ESTIMAND, message, **counts, warnings=panel.notes)
    observed_post = design.y[post]
    seen = ~np.isnan(observed_post)
    n_sims = paths.shape[1]
    rank = _rank(config.alpha, n_sims)

    actual = float(observed_post[seen].mean())
    predicted = float(forecast[seen].mean())
    simulated = np.sort(paths[seen].mean(axis=0))
    effect = actual - predicted
    ci_low, ci_high = actual - simulated[n_sims - rank], actual - simulated[rank - 1]
    tail = min(int((simulated >= actual).sum()), int((simulated <= actual).sum()))
    p_value = min(1.0, 2 * (tail + 1) / (n_sims + 1))
    relative = effect / predicted if predicted else None
    n_seen = int(seen.sum())
    summary = ImpactSummary(
        actual_mean=actual,
        actual_sum=actual * n_seen,
        predicted_mean=predicted,
        predicted_mean_interval=(float(simulated[rank - 1]), float(simulated[n_sims - rank])),
        predicted_sum=predicted * n_seen,
        predicted_sum_interval=(
            float(simulated[rank - 1] * n_seen),
            float(simulated[n_sims - rank] * n_seen),
        ),
        effect=effect,
        effect_interval=(float(ci_low), float(ci_high)),
        cumulative_effect=effect * n_seen,
        cumulative_interval=(float(ci_low * n_seen), float(ci_high * n_seen)),
        relative=relative,
        relative_interval=_ordered(ci_low / predicted, ci_high / predicted) if predicted else None,
        p_value=p_value,
        alpha=config.alpha,
        outcome=panel.outcome,
    )
    return Estimate(
        method=METHOD,
        estimand=ESTIMAND,
        effect=effect,
        se=float(simulated.std(ddof=1)),
        ci_low=float(ci_low),
        ci_high=float(ci_high),
        p_value=p_value,
        relative_effect=relative,
        **counts,
        warnings=(*panel.notes, *design.notes),
        details={
            "series": _series(panel, design, fit, forecast, paths, rank, config.alpha),
            "cumulative": {
                "effect": summary.cumulative_effect,
                "ci_low": summary.cumulative_interval[0],
                "ci_high": summary.cumulative_interval[1],
            },
            "counterfactual_mean": predicted,
            "observed_mean": actual,
            "n_pre": int((~np.isnan(design.y[pre])).sum()),
            "n_post": n_seen,
            "model": {
                "trend": config.trend,
                "seasonal_period": config.seasonal_period,
                "n_controls": len(design.control_names),
                "controls": design.control_names,
                "coefficients": dict(zip(design.control_names, fit.coefficients(), strict=True)),
                "parameters": fit.parameters(),
                "log_likelihood": float(fit.results.llf),
                "n_simulations": n_sims,
            },
            "report": impact_report(summary),
        },
    )


def _ordered(a: float, b: float) -> tuple[float, float]:
    """A relative interval keeps low before high when the counterfactual mean is negative."""
    return (float(min(a, b)), float(max(a, b)))


def _rank(alpha: float, n_sims: int) -> int:
    """1-based order statistic bounding the interval: the test inversion of the p-value.

    An effect ``d`` is kept when ``2 (min(#{S >= O - d}, #{S <= O - d}) + 1) / (n + 1) >=
    alpha``, i.e. when ``O - d`` lies between the ``k``-th smallest and ``k``-th largest draw.
    """
    return math.ceil(alpha * (n_sims + 1) / 2 - 1)


def _design(frame: pl.DataFrame, config: BstsConfig) -> _Design | str:
    """The treated mean series and control matrix on one time grid, or why there are none."""
    treated = frame.filter("treated")
    if treated.height == 0:
        return "no treated units have outcomes"
    cohorts = treated["cohort"].unique()
    if cohorts.null_count():
        return "some treated units have no treatment start (cohort); each needs one"
    if cohorts.len() > 1:
        starts = ", ".join(str(c) for c in cohorts.sort().to_list())
        return (
            f"treated units start at different times (periods {starts}); one counterfactual "
            "series needs a single common start"
        )
    start = int(cohorts[0])
    # Sorting before averaging makes the mean independent of row order to the last bit.
    means = treated.group_by("time").agg(pl.col("y").sort().mean()).sort("time")
    times = np.arange(int(means["time"].min()), int(means["time"].max()) + 1)  # type: ignore[arg-type]
    y = np.full(times.size, np.nan)
    y[means["time"].to_numpy() - times[0]] = means["y"].to_numpy()
    post = times >= start
    n_pre = int((~np.isnan(y[~post])).sum())
    n_post = int((~np.isnan(y[post])).sum())
    season = config.seasonal_period
    needed = max(MIN_PRE, MIN_SEASONAL_CYCLES * season) if season else MIN_PRE
    if n_pre < needed:
        why = f" ({MIN_SEASONAL_CYCLES} full cycles of {season})" if season else ""
        return (
            f"the structural time-series model needs at least {needed} pre-period points"
            f"{why}; found {n_pre}"
        )
    if n_post == 0:
        return "no treated outcomes after the start of treatment"
    notes = []
    if missing := int(np.isnan(y).sum()):
        notes.append(
            f"the treated mean is missing in {missing} period(s); the model treats them as "
            "missing and the effect averages over the other post periods"
        )

    diffuse = 1 + config.trend + (season - 1 if season else 0)
    variances = 2 + config.trend + bool(season)
    room = max(0, n_pre - diffuse - variances - SPARE_OBSERVATIONS)
    controls, names, control_notes = _controls(
        frame, times, y, post, min(config.max_controls, room)
    )
    return _Design(times, y, post, controls, names, notes + control_notes)


def _controls(
    frame: pl.DataFrame, times: np.ndarray, y: np.ndarray, post: np.ndarray, limit: int
) -> tuple[np.ndarray, list[str], list[str]]:
    """Complete, non-constant control series, the ``limit`` most correlated with ``y`` first."""
    rows = (
        frame.filter(
            ~pl.col("treated"),
            pl.col("cohort").is_null(),
            pl.col("time").is_between(int(times[0]), int(times[-1])),
        )
        .group_by("unit", "time")
        .agg(pl.col("y").mean())
    )
    n_units = rows["unit"].n_unique()
    if n_units == 0:
        return (
            np.empty((times.size, 0)),
            [],
            [
                "no control units: the counterfactual is the treated series' own forecast, so "
                "nothing absorbs shocks common to all units after the start"
            ],
        )
    complete = rows.filter(pl.len().over("unit") == times.size).sort("unit", "time")
    names = complete["unit"].unique(maintain_order=True).to_list()
    matrix = complete["y"].to_numpy().reshape(len(names), times.size).T
    notes = []
    if dropped := n_units - len(names):
        notes.append(f"{dropped} control unit(s) with missing periods were left out")
    pre = ~post & ~np.isnan(y)
    spread = matrix[pre].std(axis=0)
    varying = spread > 0
    if constant := int((~varying).sum()):
        notes.append(f"{constant} control unit(s) constant before the start were left out")
    matrix, spread = matrix[:, varying], spread[varying]
    names = [n for n, keep in zip(names, varying, strict=True) if keep]
    target = (y[pre] - y[pre].mean()) / y[pre].std()
    correlation = ((matrix[pre] - matrix[pre].mean(axis=0)) / spread * target[:, None]).mean(axis=0)
    order = np.argsort(-np.abs(np.nan_to_num(correlation)), kind="stable")[:limit]
    if order.size < len(names):
        notes.append(
            f"{order.size} of {len(names)} usable control units were used as regressors (those "
            "most correlated with the treated series before the start), limited by "
            "max_controls or by the length of the pre-period"
        )
    return matrix[:, order], [names[i] for i in order], notes


def _series(
    panel: Panel,
    design: _Design,
    fit: StructuralFit,
    forecast: np.ndarray,
    paths: np.ndarray,
    rank: int,
    alpha: float,
) -> dict[str, list]:
    """Observed, counterfactual, pointwise and cumulative effects with their intervals."""
    pre, post = ~design.post, design.post
    fitted, fitted_low, fitted_high = fit.in_sample(alpha)
    ordered = np.sort(paths, axis=1)
    n_sims = paths.shape[1]
    counterfactual = np.concatenate([fitted, forecast])
    low = np.concatenate([fitted_low, ordered[:, rank - 1]])
    high = np.concatenate([fitted_high, ordered[:, n_sims - rank]])
    observed = design.y
    gap_paths = np.nan_to_num(observed[post][:, None] - paths)
    cumulative_paths = np.sort(np.cumsum(gap_paths, axis=0), axis=1)
    cumulative = np.concatenate(
        [np.zeros(int(pre.sum())), np.cumsum(np.nan_to_num(observed[post] - forecast))]
    )
    cumulative_low = np.concatenate([np.zeros(int(pre.sum())), cumulative_paths[:, rank - 1]])
    cumulative_high = np.concatenate([np.zeros(int(pre.sum())), cumulative_paths[:, n_sims - rank]])
    return series(
        panel,
        observed=_floats(observed),
        counterfactual=_floats(counterfactual),
        times=design.times.tolist(),
        counterfactual_low=_floats(low),
        counterfactual_high=_floats(high),
        pointwise_effect=_floats(observed - counterfactual),
        pointwise_low=_floats(observed - high),
        pointwise_high=_floats(observed - low),
        cumulative_effect=_floats(cumulative),
        cumulative_low=_floats(cumulative_low),
        cumulative_high=_floats(cumulative_high),
    )


def _floats(values: np.ndarray) -> list[float | None]:
    return [float(v) if np.isfinite(v) else None for v in values]
