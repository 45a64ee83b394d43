"""Fisher randomization inference: exact or Monte Carlo p-values and intervals by test inversion.

The sharp null ``H0(tau): Y_i(1) = Y_i(0) + tau`` for every randomisation unit fixes every
potential outcome, so the distribution of a test statistic over the assignments the design could
have produced is known exactly (Imbens & Rubin 2015, ch. 5). The p-value is the share of those
assignments whose statistic is at least as far from zero as the observed one.

Assignments are re-drawn the way the trial drew them: the number of treated units is kept within
each stratum (one stratum for individual and cluster designs; each route of a switchback, whose
blocks are shuffled within the route). When the number of such assignments is at most
``n_permutations`` they are all enumerated (an exact p-value); otherwise ``n_permutations`` are
drawn at random with the configured seed and the observed assignment is counted among them, so
the p-value is ``(1 + #{draws at least as extreme}) / (1 + n_permutations)`` and is never zero
(Phipson & Smyth 2010).

The statistic is the estimator itself re-computed on the outcomes the null implies under each
assignment, minus ``tau``: the (weighted) difference in means, or with CUPED the regression
(ANCOVA) coefficient on the arm with the pre-period mean as covariate, its slope re-estimated
under each assignment. Because both estimators shift by exactly ``d`` when the treated outcomes
do, ``T_j(tau)`` is the estimator applied to ``Y - tau W`` under assignment ``j``: linear in
``tau``, ``T_j(tau) = a_j - tau b_j`` with ``T_obs(tau) = est - tau``, so assignment ``j`` is at
least as extreme as the observed one exactly on the solution set of one quadratic inequality in
``tau``. The confidence set ``{tau: p(tau) >= alpha}`` is found exactly by sweeping the roots of
those quadratics. With the unadjusted statistic ``|b_j| <= 1``, every such solution set is an
interval around the estimate and so is the confidence set. With the covariate-adjusted statistic
an assignment can have ``|b_j| > 1``, be more extreme than the observed one for every ``tau`` far
enough from the estimate, and, with few assignments, make the confidence set a middle interval
plus far tails. The reported interval is the connected part around the estimate, widened to
zero if zero is not rejected, so that ``p < alpha`` exactly when it excludes zero; the far tails
are flagged (``rejected_gaps``) rather than reported as an unbounded interval.

References
----------
Imbens, G. W. & Rubin, D. B. (2015). *Causal Inference for Statistics, Social, and Biomedical
Sciences*, ch. 5. Cambridge University Press.
Phipson, B. & Smyth, G. K. (2010). Permutation p-values should never be zero. *Statistical
Applications in Genetics and Molecular Biology* 9(1).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

CHUNK = 2_000
CELLS = 2_000_000  # assignments x units held at once: 16 MB
TIE = 1e-9


@dataclass(frozen=True)
class FisherTest:
    """A Fisher p-value for the null of no effect and the interval of effects not rejected.

    ``rejected_gaps``: some effects outside the interval are not rejected either (see
    ``fisher_difference_in_means``).
    """

    p_value: float
    ci_low: float
    ci_high: float
    n_assignments: int
    exact: bool
    rejected_gaps: bool = False


def n_assignments(arms: np.ndarray, strata: np.ndarray) -> int:
    """The number of assignments with the observed number treated in every stratum."""
    return math.prod(
        math.comb(int((strata == s).sum()), int(arms[strata == s].sum())) for s in np.unique(strata)
    )


def assignment_sums(
    arms: np.ndarray,
    strata: np.ndarray,
    values: np.ndarray,
    *,
    n_permutations: int,
    seed: int,
) -> tuple[np.ndarray, bool]:
    """``Z @ values`` for every re-drawn assignment ``Z`` (rows), the observed one first.

    Sums over the treated units are all any statistic here needs, so assignments are drawn in
    chunks and never held all at once. Returns the sums and whether the set is exhaustive.
    """
    total = n_assignments(arms, strata)
    observed = arms.astype(float) @ values
    if total <= n_permutations:
        matrix = _enumerate(arms, strata)
        others = matrix[~(matrix == arms).all(axis=1)]
        return np.vstack([observed, others.astype(float) @ values]), True
    rng = np.random.default_rng(seed)
    blocks = [observed[None, :]]
    chunk = max(1, min(CHUNK, CELLS // arms.size))
    for start in range(0, n_permutations, chunk):
        size = min(chunk, n_permutations - start)
        draws = np.empty((size, arms.size))
        for stratum in np.unique(strata):
            members = strata == stratum
            draws[:, members] = rng.permuted(np.tile(arms[members], (size, 1)), axis=1)
        blocks.append(draws @ values)
    return np.vstack(blocks), False


def fisher_difference_in_means(
    y: np.ndarray,
    arms: np.ndarray,
    weights: np.ndarray,
    strata: np.ndarray,
    *,
    covariate: np.ndarray | None,
    alpha: float,
    n_permutations: int,
    seed: int,
) -> FisherTest:
    """Fisher test and interval for the weighted difference in means, optionally covariate-adjusted.

    The statistic under assignment ``w`` is the weighted least-squares coefficient on ``w`` in
    the regression of the outcome on ``1, w`` and the ``covariate`` (without one: the weighted
    difference in means). By Frisch-Waugh-Lovell it is ``sum w_i z_i r_i / D(z)`` with ``r`` the
    outcome's residual on ``1, x`` (the same for every assignment) and ``D(z)`` the weighted sum
    of squares of the assignment's own residual, so all assignments are evaluated from sums over
    the treated. An assignment the covariate explains perfectly has no defined statistic and
    counts as at least as extreme, which can only make the test conservative.
    """
    basis = (
        np.ones((y.size, 1)) if covariate is None else np.column_stack([np.ones_like(y), covariate])
    )
    root = np.sqrt(weights)

    def residual(v: np.ndarray) -> np.ndarray:
        coefficients = np.linalg.lstsq(basis * root[:, None], v * root, rcond=None)[0]
        return v - basis @ coefficients

    # Without a covariate the last basis column is the constant: centred, it is all zeros.
    centred = basis[:, -1] - np.average(basis[:, -1], weights=weights)
    sxx = float(weights @ centred**2) if covariate is not None else math.inf
    columns = np.column_stack(
        [weights, weights * residual(y), weights * residual(arms.astype(float)), weights * centred]
    )
    sums, exact = assignment_sums(arms, strata, columns, n_permutations=n_permutations, seed=seed)
    total = float(weights.sum())
    spread = sums[:, 0] - sums[:, 0] ** 2 / total - sums[:, 3] ** 2 / sxx
    defined = spread > TIE * total
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(defined, sums[:, 1] / spread, sums[0, 1] / spread[0])
        b = np.where(defined, sums[:, 2] / spread, 1.0)
    return _invert(a, b, alpha, exact)


def _enumerate(arms: np.ndarray, strata: np.ndarray) -> np.ndarray:
    """Every assignment keeping each stratum's number treated: one 0/1 row per assignment."""
    per_stratum = []
    for stratum in np.unique(strata):
        members = np.flatnonzero(strata == stratum)
        k = int(arms[members].sum())
        chosen = np.array(list(itertools.combinations(range(members.size), k)), dtype=int)
        chosen = chosen.reshape(math.comb(members.size, k), k)
        rows = np.zeros((chosen.shape[0], members.size), dtype=np.int8)
        np.put_along_axis(rows, chosen, 1, axis=1)
        per_stratum.append((members, rows))
    grids = np.meshgrid(*[np.arange(rows.shape[0]) for _, rows in per_stratum], indexing="ij")
    picks = [grid.ravel() for grid in grids]
    matrix = np.zeros((picks[0].size, arms.size), dtype=np.int8)
    for (members, rows), pick in zip(per_stratum, picks, strict=True):
        matrix[:, members] = rows[pick]
    return matrix


def _invert(a: np.ndarray, b: np.ndarray, alpha: float, exact: bool) -> FisherTest:
    """p-value at zero and the interval of ``tau`` not rejected for ``T_j(tau) = a_j - tau b_j``.

    Assignment ``j`` is at least as extreme as the observed one (row 0, ``a_0 = est``, ``b_0 = 1``)
    where ``(a_j - tau b_j)^2 - (est - tau)^2 >= 0``; a small tolerance counts exact ties, such as
    the mirror-image assignment of a balanced design, as extreme.
    """
    est = float(a[0])
    scale = max(abs(est), float(np.abs(a).max()), np.finfo(float).tiny)
    q2 = b**2 - 1.0
    q1 = -2.0 * (a * b - est)
    q0 = a**2 - est**2 + TIE * scale**2
    n = a.size
    p_value = float((q0 >= 0).sum() / n)

    linear = np.abs(q2) <= TIE
    flat = linear & (np.abs(q1) <= TIE * scale)
    always = (flat & (q0 >= 0)) | (~linear & (q2 > 0) & (q1**2 - 4 * q2 * q0 < 0))
    rising = linear & ~flat & (q1 > 0)
    falling = linear & ~flat & (q1 < 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        root = -q0 / q1
        # The cancellation-free form of the quadratic formula (Press et al., Numerical Recipes).
        half = -0.5 * (
            q1 + np.where(q1 >= 0, 1.0, -1.0) * np.sqrt(np.maximum(q1**2 - 4 * q2 * q0, 0))
        )
        one, other = half / q2, np.where(half != 0, q0 / half, half / q2)
        r1, r2 = np.minimum(one, other), np.maximum(one, other)
    real = q1**2 - 4 * q2 * q0 >= 0
    inside = ~linear & (q2 < 0) & real
    outside = ~linear & (q2 > 0) & real
    # Events: +1 where a set opens (closed at its root), -1 just after it closes.
    starts = np.concatenate([root[rising], r1[inside], r2[outside]])
    ends = np.concatenate([root[falling], r2[inside], r1[outside]])
    base = int(always.sum() + falling.sum() + outside.sum())
    positions = np.concatenate([starts, ends])
    deltas = np.concatenate([np.ones(starts.size, int), -np.ones(ends.size, int)])
    order = np.lexsort((deltas < 0, positions))
    positions, levels = positions[order], base + np.cumsum(deltas[order])
    # Region k runs from event k-1 to event k; the estimate lies in a region every set covers.
    accepted = np.concatenate([[base], levels]) / n >= alpha
    home = int(np.searchsorted(positions, est, side="right"))
    rejected = np.flatnonzero(~accepted)
    left, right = rejected[rejected < home], rejected[rejected > home]
    ci_low = float(positions[left[-1]]) if left.size else -math.inf
    ci_high = float(positions[right[0] - 1]) if right.size else math.inf
    beyond = bool(
        (left.size and accepted[: left[-1]].any()) or (right.size and accepted[right[0] :].any())
    )
    if p_value >= alpha:
        ci_low, ci_high = min(ci_low, 0.0), max(ci_high, 0.0)
    return FisherTest(p_value, ci_low, ci_high, n, exact, beyond)
