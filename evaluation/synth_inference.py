"""Synthetic-control weights and the inference built on refitting them many times.

Weights. For a target series ``a`` (one column of ``targets``) and donor series ``D`` (the columns
of ``design``), the weights solve ``min_w ||a - D w||^2`` subject to ``w >= 0`` and
``sum(w) = 1`` (Abadie, Diamond & Hainmueller 2010, with the pre-period outcomes as the
predictors). ``simplex_least_squares`` solves a whole batch of such problems at once with a
primal active-set method: Lawson & Hanson's NNLS (1974, *Solving Least Squares Problems*,
ch. 23) with the sum-to-one constraint kept in the KKT system of each face. Every problem adds
the donor whose multiplier most violates optimality, solves the equality-constrained least
squares on its support, and steps back to the boundary when a weight would turn negative; the
problems advance in lock step, so each iteration is one batched linear solve. It stops when the
KKT conditions hold to a relative tolerance, so the answer is the exact optimum up to rounding
(the tests check it against ``scipy.optimize.minimize`` with SLSQP); with nearly collinear
donors a problem may instead stop, uncertified, where rounding stops it improving. Because the
weights sum to one, subtracting the donors' per-row mean from targets and donors leaves the
objective unchanged; the solver does so to keep the normal equations well conditioned. When the
target lies inside the donors' convex hull the optimum can be non-unique; the solver returns the
optimum its path reaches, which depends only on the data, not on the donors' order (ties aside).

In-space placebo (Abadie, Diamond & Hainmueller 2010; Abadie 2021): every donor in turn is
treated as if it were the treated unit and fitted from the other donors (the treated unit is
never a donor). The ratio of post- to pre-period root mean squared prediction error (RMSPE)
ranks the units; the p-value is the share of units whose ratio is at least the treated one's,
``#{j: r_j >= r_1} / (J + 1)``, which cannot fall below ``1 / (J + 1)``.

Conformal inference (Chernozhukov, Wuthrich & Zhu 2021, *JASA* 116(536)): under the
sharp null that the effect is ``theta`` in every post period, ``y_t - theta`` is the treated
unit's untreated outcome after the start. The weights are refitted on all periods with that
imputation (outcomes only, no covariates: the proxy must treat every period alike for the
permutation to be exact), the statistic is the mean absolute post-period residual (their
``S_q`` with ``q = 1``), and its p-value is the share of the ``T`` cyclic (moving-block) shifts
of the residuals whose statistic is at least as large. The confidence set collects the
``theta`` not rejected at level ``alpha``: it is an interval for a constant effect, the
post-period average when effects are homogeneous. The smallest p-value is ``1 / T``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KKT_TOLERANCE = 1e-10
EXACT_FIT = 1e-12
GRID_POINTS = 41
REFINE_POINTS = 20
GRID_EXPANSIONS = 4
GRID_HALF_WIDTH = 4.0


@dataclass(frozen=True)
class SimplexFit:
    """``weights[:, k]`` solves problem ``k``; ``converged[k]`` says its KKT conditions held."""

    weights: np.ndarray
    converged: np.ndarray


def simplex_least_squares(
    design: np.ndarray, targets: np.ndarray, allowed: np.ndarray | None = None
) -> SimplexFit:
    """Minimise ``||targets[:, k] - design @ w||^2`` over the simplex, for every column ``k``.

    ``design`` is ``(rows, J)``, ``targets`` is ``(rows, K)``; ``allowed`` (``(J, K)``, all
    true by default) restricts the donors problem ``k`` may use. Each problem needs at least one
    allowed donor.
    """
    centre = design.mean(axis=1, keepdims=True)
    donors = design - centre
    gram = donors.T @ donors
    linear = donors.T @ (targets - centre)
    n_donors, n_problems = linear.shape
    if allowed is None:
        allowed = np.ones((n_donors, n_problems), dtype=bool)
    scale = float(np.trace(gram)) / n_donors
    if scale > 0:
        gram, linear = gram / scale, linear / scale
    threshold = KKT_TOLERANCE * (1.0 + np.abs(linear).max(axis=0))

    # Start from the best single donor: the vertex of the simplex nearest the target.
    start = np.where(allowed, np.diag(gram)[:, None] - 2 * linear, np.inf).argmin(axis=0)
    weights = np.zeros((n_donors, n_problems))
    weights[start, np.arange(n_problems)] = 1.0
    support = weights > 0
    converged = np.zeros(n_problems, dtype=bool)
    active = np.arange(n_problems)
    for _ in range(10 * (n_donors + 1)):
        if active.size == 0:
            break
        on, current, lin = support[:, active], weights[:, active], linear[:, active]
        face, multiplier = _face_optimum(gram, lin, on)
        blocked = on & (face <= 0)
        infeasible = blocked.any(axis=0)
        # Step from the current weights towards the face optimum until a weight reaches zero.
        ratio = np.where(blocked, current / np.where(blocked, current - face, 1.0), np.inf)
        step = np.where(infeasible, ratio.min(axis=0), 0.0)
        moved = np.where(infeasible, current + step * (face - current), face)
        moved = np.where(~on | (blocked & (ratio <= step)), 0.0, np.maximum(moved, 0.0))
        on = np.where(infeasible, moved > 0, on)
        # KKT: the gradient plus the multiplier is zero on the support, non-negative off it.
        dual = gram @ moved - lin + multiplier
        limit = threshold[active]
        stationary = np.where(on, np.abs(dual) <= limit, True).all(axis=0)
        candidates = np.where(allowed[:, active] & ~on, dual, np.inf)
        entering = candidates.min(axis=0) < -limit
        optimal = ~infeasible & ~entering & stationary
        grow = ~infeasible & entering
        on[candidates.argmin(axis=0)[grow], np.flatnonzero(grow)] = True
        weights[:, active], support[:, active] = moved, on
        converged[active[optimal]] = True
        # A donor that entered with a negative multiplier must get a positive weight; if it is
        # dropped at once the face system is too ill-conditioned (nearly collinear donors) to
        # improve on the current weights, so that problem stops uncertified.
        stalled = infeasible & (step <= 0)
        active = active[~optimal & ~stalled]
    return SimplexFit(weights / weights.sum(axis=0), converged)


def _face_optimum(
    gram: np.ndarray, linear: np.ndarray, support: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Least squares on each problem's support with the weights summing to one (KKT system)."""
    n_donors, n_problems = support.shape
    size = int(support.sum(axis=0).max())
    index = np.argsort(~support, axis=0, kind="stable")[:size].T
    valid = np.take_along_axis(support.T, index, axis=1)
    mask = valid.astype(float)
    kkt = np.zeros((n_problems, size + 1, size + 1))
    both = valid[:, :, None] & valid[:, None, :]
    kkt[:, :size, :size] = np.where(both, gram[index[:, :, None], index[:, None, :]], 0.0)
    # Padding slots get an identity row so every system stays square and non-singular.
    kkt[:, :size, :size] += np.eye(size) * (1.0 - mask)[:, None, :]
    kkt[:, :size, size] = mask
    kkt[:, size, :size] = mask
    rhs = np.concatenate(
        [np.take_along_axis(linear.T, index, axis=1) * mask, np.ones((n_problems, 1))], axis=1
    )
    try:
        solution = np.linalg.solve(kkt, rhs[:, :, None])[:, :, 0]
    except np.linalg.LinAlgError:
        solution = (np.linalg.pinv(kkt) @ rhs[:, :, None])[:, :, 0]
    face = np.zeros((n_donors, n_problems))
    np.put_along_axis(face.T, index, solution[:, :size] * mask, axis=1)
    return face, solution[:, size]


@dataclass(frozen=True)
class Placebos:
    """Fits of the treated series (column 0) and of every donor as a pseudo-treated unit."""

    weights: np.ndarray
    synthetic: np.ndarray
    pre_rmspe: np.ndarray
    post_rmspe: np.ndarray
    ratio: np.ndarray
    average_gap: np.ndarray
    p_value: float
    converged: bool


def in_space_placebos(design: np.ndarray, outcomes: np.ndarray, post: np.ndarray) -> Placebos:
    """Fit column 0 of ``design`` from the donors, and each donor from the other donors.

    ``design`` holds the fitted rows (units in columns, treated first); ``outcomes`` holds the
    series whose gaps are measured, rows split by the boolean ``post``.
    """
    n_donors = design.shape[1] - 1
    allowed = np.ones((n_donors, n_donors + 1), dtype=bool)
    allowed[np.arange(n_donors), np.arange(1, n_donors + 1)] = False
    fit = simplex_least_squares(design[:, 1:], design, allowed)
    synthetic = outcomes[:, 1:] @ fit.weights
    gaps = outcomes - synthetic
    pre_rmspe = np.sqrt(np.mean(gaps[~post] ** 2, axis=0))
    post_rmspe = np.sqrt(np.mean(gaps[post] ** 2, axis=0))
    # An exact pre-period fit would divide by zero; floor the RMSPE far below any real misfit.
    floor = EXACT_FIT * max(float(np.abs(outcomes).max()), 1.0)
    ratio = post_rmspe / np.maximum(pre_rmspe, floor)
    # Ratios equal up to rounding count as ties, so the rank does not depend on unit order.
    p_value = float(np.mean(ratio >= ratio[0] * (1 - 1e-9)))
    return Placebos(
        weights=fit.weights,
        synthetic=synthetic,
        pre_rmspe=pre_rmspe,
        post_rmspe=post_rmspe,
        ratio=ratio,
        average_gap=gaps[post].mean(axis=0),
        p_value=p_value,
        converged=bool(fit.converged[0]),
    )


def placebo_interval(effect: float, placebo_gaps: np.ndarray, alpha: float) -> tuple[float, float]:
    """``effect`` plus or minus the (1 - alpha) quantile of the placebos' absolute average gaps.

    Under no effect a donor's average gap is a draw of the estimation error; the symmetric
    interval always contains the estimate. The ``higher`` quantile keeps it conservative when
    donors are few.
    """
    half_width = float(np.quantile(np.abs(placebo_gaps), 1 - alpha, method="higher"))
    return effect - half_width, effect + half_width


def conformal_possible(n_periods: int, alpha: float) -> bool:
    """The moving-block test rejects only if its smallest p-value, ``1 / T``, is at most alpha."""
    return 1.0 / n_periods <= alpha


@dataclass(frozen=True)
class ConformalInterval:
    """The hull of the accepted effects; ``widened`` when it had to be stretched to the estimate."""

    low: float
    high: float
    p_value_no_effect: float
    widened: bool
    details: dict[str, float | int | bool | str]


def conformal_interval(
    treated: np.ndarray,
    donors: np.ndarray,
    post: np.ndarray,
    effect: float,
    alpha: float,
    spread: float,
) -> ConformalInterval:
    """Invert the conformal test over a grid of constant effects centred on ``effect``.

    ``treated`` is ``(T,)`` and ``donors`` ``(T, J)`` over all periods, the post periods last.
    The grid starts ``GRID_HALF_WIDTH * spread`` either side and widens fourfold (up to
    ``GRID_EXPANSIONS`` times) while the accepted set reaches its edge; then the two ends are
    refined between the last rejected and first accepted grid points.
    """
    half_width = GRID_HALF_WIDTH * spread
    for _ in range(GRID_EXPANSIONS + 1):
        grid = effect + np.linspace(-half_width, half_width, GRID_POINTS)
        p_values = conformal_p_values(treated, donors, post, np.append(grid, 0.0))
        p_zero, p_values = float(p_values[-1]), p_values[:-1]
        accepted = p_values > alpha
        touches_edge = bool(accepted[0] or accepted[-1])
        if not touches_edge:
            break
        half_width *= 4
    thetas = grid[accepted]
    if accepted.any():
        first, last = np.flatnonzero(accepted)[[0, -1]]
        fine = []
        if first > 0:
            fine.append(np.linspace(grid[first - 1], grid[first], REFINE_POINTS + 2)[1:-1])
        if last < GRID_POINTS - 1:
            fine.append(np.linspace(grid[last], grid[last + 1], REFINE_POINTS + 2)[1:-1])
        if fine:
            points = np.concatenate(fine)
            fine_accepted = conformal_p_values(treated, donors, post, points) > alpha
            thetas = np.concatenate([thetas, points[fine_accepted]])
    low = float(min(thetas.min(), effect)) if thetas.size else effect
    high = float(max(thetas.max(), effect)) if thetas.size else effect
    runs = np.flatnonzero(np.diff(np.concatenate([[False], accepted, [False]]).astype(int)))
    return ConformalInterval(
        low=low,
        high=high,
        p_value_no_effect=p_zero,
        widened=not (thetas.size and thetas.min() <= effect <= thetas.max()),
        details={
            "statistic": "mean absolute post-period residual (S_q, q = 1)",
            "permutations": "moving block (cyclic shifts over time)",
            "n_permutations": int(treated.size),
            "grid_low": float(grid[0]),
            "grid_high": float(grid[-1]),
            "grid_points": GRID_POINTS,
            "resolution": float(grid[1] - grid[0]) / (REFINE_POINTS + 1),
            "touches_grid_edge": touches_edge,
            "contiguous": bool(runs.size <= 2),
            "p_value_no_effect": p_zero,
        },
    )


def conformal_p_values(
    treated: np.ndarray, donors: np.ndarray, post: np.ndarray, thetas: np.ndarray
) -> np.ndarray:
    """Moving-block permutation p-value of the null "effect = theta in every post period"."""
    n_periods, n_post = treated.size, int(post.sum())
    targets = treated[:, None] - np.outer(post, thetas)
    weights = simplex_least_squares(donors, targets).weights
    residuals = np.abs(targets - donors @ weights)
    # Sum over each cyclic window of n_post periods; shift 0 is the actual post block.
    cumulative = np.concatenate(
        [np.zeros((1, thetas.size)), np.cumsum(np.concatenate([residuals, residuals]), axis=0)]
    )
    starts = (n_periods - n_post + np.arange(n_periods)) % n_periods
    statistics = cumulative[starts + n_post] - cumulative[starts]
    return np.mean(statistics >= statistics[0] * (1 - 1e-9), axis=0)
