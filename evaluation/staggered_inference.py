"""ATT(g,t) cells, aggregations and standard errors for the Callaway & Sant'Anna estimator.

Each ATT(g,t) comes with an influence function: one value per unit such that the estimate's
error is approximately their mean. Every aggregated parameter is a weighted average of ATT(g,t)
and its influence function is the same weighted average of theirs, plus a term for the
estimated weights (the cohort shares), exactly as R's ``did::aggte`` computes it (Callaway &
Sant'Anna 2021, Section 4 and Appendix):

- ``simple``: post-treatment ATT(g,t) weighted by cohort size;
- ``group``: per cohort the mean of its post-treatment ATT(g,t); overall, their average
  weighted by cohort size;
- ``dynamic``: per event time ``e = t - g`` the cohort-size-weighted ATT(g, g+e); overall, the
  mean over ``e >= 0``;
- ``calendar``: per period the cohort-size-weighted ATT(g,t) of cohorts treated by then;
  overall, the mean over those periods.

Without covariates every influence function is linear in a few numbers per unit: its weight
and its weighted changes since the first period, centred on its cohort's weighted mean
(``UnitBasis``). A
parameter's influence function is therefore stored as one coefficient vector per cohort, and
only sums over units are ever formed: per cohort the Gram matrix of the basis (analytic errors
without clusters), per cluster and cohort its sum (clustered errors), or per bootstrap draw and
cohort its multiplier-weighted sum. This is algebraically the sum over the unit-by-parameter
influence matrix, which is never built (it would hold cells x units numbers); results agree
with building it to rounding error.

Analytic standard errors are ``sqrt(sum_c S_c^2) / n`` with ``S_c`` the sum of the influence
function over cluster ``c`` (a unit when there is no coarser cluster), as R ``did`` >= 2.5
reports with ``bstrap = FALSE``. The multiplier bootstrap follows R's ``mboot``: Rademacher
weights drawn per cluster (``BMisc::multiplier_bootstrap``; the Python port ``moderndid`` uses
Mammen weights instead), standard errors from the interquartile range of the draws divided by
that of the standard normal, and the uniform-band critical value as the ``1 - alpha`` quantile of
the largest absolute t-statistic across the parameters of a family (Callaway & Sant'Anna 2021,
Algorithm 1).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.linalg import lapack

# R's did treats standard errors below this as zero (a reference cell, a degenerate sum).
ZERO_SE = float(np.sqrt(np.finfo(float).eps) * 10)
# Multipliers per bootstrap chunk: ~2 MB, small enough to be reused rather than freshly mapped.
CHUNK_MULTIPLIERS = 250_000
# Rows per QR step: small pieces of the basis, so that no large copy of it is made.
QR_CHUNK = 2048


@dataclass(frozen=True)
class UnitBasis:
    """What the influence functions need of the units, which are sorted by cohort code.

    Code ``k``'s units are columns ``edges[k]:edges[k + 1]``. Column ``i`` of ``basis``
    (``periods x units``) is ``w_i`` followed by ``w_i (d_i - m_k)``, where ``d_i`` are unit
    ``i``'s changes ``y_t - y_0`` since the first period (``t >= 1``), ``w_i`` its weight and
    ``m_k`` the weighted mean of its code's changes. ``change`` (``codes x periods``) holds each
    code's weighted sums of ``y_t - y_0`` (0 for ``t = 0``) and ``total`` its sum of weights.
    """

    basis: np.ndarray
    edges: np.ndarray
    change: np.ndarray
    total: np.ndarray


def unit_basis(y: np.ndarray, weight: np.ndarray, edges: np.ndarray) -> UnitBasis:
    """The basis of the outcomes ``y`` (``periods x units``, code ``k``'s units in columns
    ``edges[k]:edges[k + 1]``), built in place of ``y``, which it overwrites.

    Changes since one period, not from period to period, so that a cell's change
    ``y_t - y_b = d_t - d_b`` adds two rounding errors whatever the distance from ``b`` to ``t``.
    """
    changes = y[1:]
    changes -= y[0]
    y[0] = weight
    change = np.zeros((edges.size - 1, y.shape[0]))
    total = np.empty(edges.size - 1)
    for code, (begin, end) in enumerate(itertools.pairwise(edges)):
        block, block_weight = changes[:, begin:end], weight[begin:end]
        change[code, 1:] = block @ block_weight
        total[code] = block_weight.sum()
        block -= (change[code, 1:] / total[code])[:, None]
        block *= block_weight
    return UnitBasis(y, edges, change, total)


@dataclass(frozen=True)
class Cells:
    """The ATT(g,t) cells (cohort code, period position, event time) with their estimates.

    ``influence`` (``cells x codes x periods``) holds, per cell and cohort code ``k``, the
    coefficients that give the cell's influence function at a unit ``i`` of code ``k`` as
    ``influence[cell, k] @ units.basis[:, i]``; code ``n_cohorts`` holds the units that only
    serve as comparisons.
    """

    cohort: np.ndarray
    position: np.ndarray
    event_time: np.ndarray
    post: np.ndarray
    att: np.ndarray
    influence: np.ndarray
    units: UnitBasis
    n_cohorts: int


def group_time_cells(
    units: UnitBasis,
    periods: np.ndarray,
    cohorts: np.ndarray,
    *,
    not_yet: bool,
    varying_base: bool,
) -> Cells:
    """ATT(g,t) and influence functions for every cohort and period, all cells at once.

    ``cohorts`` are the first treated periods of codes ``0..len(cohorts)-1``; the last code holds
    the comparison-only units. The comparison group is the never-treated units, or with
    ``not_yet`` also the cohorts not yet treated by the later of t and the base period; with
    ``varying_base`` pre-treatment cells compare t with t-1, otherwise with g-1 like the
    post-treatment cells. Units of one cohort share their role in every cell (treated,
    comparison or neither), so the means come from cohort sums of changes and each influence
    function is one coefficient vector per cohort.
    """
    n_periods, n_units, n_cohorts = periods.size, int(units.edges[-1]), cohorts.size
    cohort_start = np.append(np.searchsorted(periods, cohorts), n_periods)
    first_position = 1 if varying_base else 0
    cohort, position = (
        grid.ravel()
        for grid in np.meshgrid(
            np.arange(n_cohorts), np.arange(first_position, n_periods), indexing="ij"
        )
    )
    g = cohort_start[cohort]
    base = np.where(position < g, position - 1, g - 1) if varying_base else g - 1
    # y[position] - y[base] = d[position] - d[base], with d = y - y[0].
    cell = np.arange(cohort.size)
    difference = np.zeros((cohort.size, n_periods))
    difference[cell, position] += 1.0
    difference[cell, base] -= 1.0
    change = difference @ units.change.T  # cells x codes: weighted sums of changes
    is_treated = np.arange(n_cohorts + 1) == cohort[:, None]
    if not_yet:
        latest = np.maximum(position, base)
        is_control = (cohort_start > latest[:, None]) & ~is_treated
    else:
        is_control = np.broadcast_to(cohort_start == n_periods, is_treated.shape)
    treated_weight = units.total[cohort]
    control_weight = is_control @ units.total
    treated_mean = change[cell, cohort] / treated_weight
    control_mean = (is_control * change).sum(axis=1) / control_weight
    center = np.where(is_treated, treated_mean[:, None], control_mean[:, None])
    # Influence of a difference of weighted means, on the scale of all n units: at unit i of
    # code k, slope * w_i * (change_i - center). Split change_i into the code's mean and the
    # deviation from it: slope * (code mean - center) times the basis' weight row, plus slope
    # times its deviation rows.
    slope = n_units * (is_treated / treated_weight[:, None] - is_control / control_weight[:, None])
    influence = slope[:, :, None] * difference[:, None, :]
    influence[:, :, 0] = slope * (change / units.total - center)
    return Cells(
        cohort=cohort,
        position=position,
        event_time=periods[position] - cohorts[cohort],
        post=position >= g,
        att=treated_mean - control_mean,
        influence=influence,
        units=units,
        n_cohorts=int(n_cohorts),
    )


@dataclass(frozen=True)
class Aggregation:
    """One family of aggregated parameters, labelled by ``keys``, and its overall summary.

    ``influence`` holds the coefficients (as in ``Cells``) of the parameters' influence
    functions, then of the overall summary's: ``(len(keys) + 1) x codes x periods``.
    """

    keys: list[int]
    att: np.ndarray
    influence: np.ndarray
    overall: float


def aggregate(cells: Cells) -> dict[str, Aggregation]:
    """The four aggregations of ``did::aggte`` with their influence functions."""
    units = cells.units
    n = int(units.edges[-1])
    share = units.total[: cells.n_cohorts] / n
    cell_share = share[cells.cohort]
    post = cells.post

    def family(masks: np.ndarray, estimated_weights: bool) -> tuple[np.ndarray, np.ndarray]:
        """Cohort-share-weighted averages of the cells in each column of ``masks`` (cells x J),
        with their influence functions and a last row left for the overall summary's."""
        shares = cell_share[:, None] * masks
        total = shares.sum(axis=0)
        combination = shares / total
        att = cells.att @ combination
        influence = np.empty((masks.shape[1] + 1, *cells.influence.shape[1:]))
        influence[:-1] = np.tensordot(combination, cells.influence, axes=(0, 0))
        if estimated_weights:
            # R's wif() reduces to: w_i x sum over the cells of unit i's cohort of
            # (ATT(g,t) - aggregate) / (sum of the shares), zero for comparison units; w_i is
            # the basis' first row.
            by_cohort = np.zeros((influence.shape[1], masks.shape[1]))
            np.add.at(by_cohort, cells.cohort, masks * (cells.att[:, None] - att) / total)
            influence[:-1, :, 0] += by_cohort.T
        return att, influence

    simple_att, simple_if = family(post[:, None].astype(float), estimated_weights=True)
    simple_if[1] = simple_if[0]

    cohorts = np.arange(cells.n_cohorts)
    group_masks = (cells.cohort[:, None] == cohorts) & post[:, None]
    group_att, group_if = family(group_masks.astype(float), estimated_weights=False)
    group_overall = float(share @ group_att / share.sum())
    group_if[-1] = np.tensordot(share, group_if[:-1], axes=(0, 0)) / share.sum()
    group_if[-1, :-1, 0] += (group_att - group_overall) / share.sum()

    events = np.unique(cells.event_time)
    event_att, event_if = family(
        (cells.event_time[:, None] == events).astype(float), estimated_weights=True
    )
    # Event times are sorted, so the post-treatment ones (e >= 0) are the last rows.
    after = int(np.searchsorted(events, 0))
    event_if[-1] = event_if[after:-1].mean(axis=0)

    periods = np.unique(cells.position[post])
    period_masks = (cells.position[:, None] == periods) & post[:, None]
    period_att, period_if = family(period_masks.astype(float), estimated_weights=True)
    period_if[-1] = period_if[:-1].mean(axis=0)

    return {
        "simple": Aggregation([], simple_att, simple_if, float(simple_att[0])),
        "group": Aggregation(cohorts.tolist(), group_att, group_if, group_overall),
        "dynamic": Aggregation(
            events.tolist(), event_att, event_if, float(event_att[after:].mean())
        ),
        "calendar": Aggregation(periods.tolist(), period_att, period_if, float(period_att.mean())),
    }


def standard_errors(
    blocks: list[np.ndarray],
    units: UnitBasis,
    cluster: np.ndarray | None,
    n_draws: int | None,
    seed: int,
) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """Per block of influence coefficients (parameters x codes x periods): standard errors and
    draws.

    Standard errors are ``nan`` where numerically zero. They are analytic when ``n_draws`` is
    ``None``; otherwise they come from one multiplier bootstrap shared by all blocks, whose draws
    (``n_draws x parameters``) are returned for uniform bands. Without ``cluster`` codes every
    unit is its own cluster.
    """
    coefficients = np.concatenate(blocks)
    n_units = int(units.edges[-1])
    # Column j: parameter j's coefficients on each code's basis rows.
    loadings = coefficients.reshape(coefficients.shape[0], -1).T
    if cluster is not None:
        sums = cluster_sums(units, cluster) @ loadings
        if n_draws is None:
            return _split(analytic_se(sums, n_units), None, blocks)
        draws = bootstrap_draws(lambda signs: signs @ sums, sums.shape[0], n_draws, seed)
    elif n_draws is None:
        se = np.sqrt(_sum_of_squares(coefficients, units)) / n_units
        return _split(np.where(se > ZERO_SE, se, np.nan), None, blocks)
    else:
        draws = bootstrap_draws(
            lambda signs: _by_code(signs, units) @ loadings, n_units, n_draws, seed
        )
    draws /= n_units
    return _split(bootstrap_se(draws), draws, blocks)


def _split(
    se: np.ndarray, draws: np.ndarray | None, blocks: list[np.ndarray]
) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """Standard errors and draws of all parameters, cut back into the blocks' parameters."""
    edges = np.cumsum([0] + [block.shape[0] for block in blocks])
    return [
        (se[a:b], None if draws is None else draws[:, a:b]) for a, b in itertools.pairwise(edges)
    ]


def _sum_of_squares(coefficients: np.ndarray, units: UnitBasis) -> np.ndarray:
    """Per parameter, the sum over units of its squared influence function.

    Per code, ``sum_i (a . z_i)^2 = |R a|^2`` with ``R`` the triangular factor of the code's
    basis (``Z = QR``). Unlike ``a' (Z'Z) a``, a sum of squares of ``R a`` does not cancel, so a
    small sum keeps its relative precision.
    """
    total = np.zeros(coefficients.shape[0])
    for code, (begin, end) in enumerate(itertools.pairwise(units.edges)):
        triangle = _triangular_factor(units.basis[:, begin:end].T)
        total += np.square(coefficients[:, code] @ triangle.T).sum(axis=1)
    return total


def _triangular_factor(rows: np.ndarray) -> np.ndarray:
    """``R`` of the QR decomposition of ``rows``, taken a chunk of rows at a time (the ``R`` of
    a chunk stacked under an earlier ``R`` is the ``R`` of both), with LAPACK's Householder QR:
    ``numpy.linalg.qr`` also builds what it then discards."""
    width = rows.shape[1]
    factor = np.zeros((0, width))
    for start in range(0, rows.shape[0], QR_CHUNK):
        chunk = rows[start : start + QR_CHUNK]
        stacked = np.empty((factor.shape[0] + chunk.shape[0], width), order="F")
        stacked[: factor.shape[0]] = factor
        stacked[factor.shape[0] :] = chunk
        reduced = lapack.dgeqrf(stacked, overwrite_a=True)[0]
        factor = np.triu(reduced[: min(reduced.shape)])
    return factor


def _by_code(signs: np.ndarray, units: UnitBasis) -> np.ndarray:
    """``draws x (codes x periods)``: each code's basis summed with the multipliers ``signs``
    (``draws x units``)."""
    return np.hstack(
        [
            signs[:, begin:end] @ units.basis[:, begin:end].T
            for begin, end in itertools.pairwise(units.edges)
        ]
    )


def cluster_sums(units: UnitBasis, cluster: np.ndarray) -> np.ndarray:
    """``clusters x (codes x periods)``: the basis summed by cluster and cohort code."""
    n_codes = units.edges.size - 1
    code = np.repeat(np.arange(n_codes), np.diff(units.edges))
    key = cluster * n_codes + code
    size = (int(cluster.max()) + 1) * n_codes
    sums = np.stack([np.bincount(key, weights=row, minlength=size) for row in units.basis], axis=1)
    return sums.reshape(-1, n_codes * units.basis.shape[0])


def analytic_se(sums: np.ndarray, n_units: int) -> np.ndarray:
    """``sqrt(sum_c S_c^2) / n`` per column; ``nan`` where it is numerically zero."""
    se = np.sqrt(np.einsum("ij,ij->j", sums, sums)) / n_units
    return np.where(se > ZERO_SE, se, np.nan)


def bootstrap_draws(
    project: Callable[[np.ndarray], np.ndarray], n_clusters: int, n_draws: int, seed: int
) -> np.ndarray:
    """``n_draws x columns``: ``project`` (``draws x clusters -> draws x columns``) applied to
    Rademacher multipliers, one per cluster and draw (R's ``mboot``), drawn in chunks."""
    rng = np.random.default_rng(seed)
    chunks = []
    step = max(1, CHUNK_MULTIPLIERS // n_clusters)
    for start in range(0, n_draws, step):
        signs = rng.integers(0, 2, size=(min(step, n_draws - start), n_clusters)).astype(float)
        signs *= 2.0
        signs -= 1.0
        chunks.append(project(signs))
    return np.vstack(chunks)


def bootstrap_se(draws: np.ndarray) -> np.ndarray:
    """Interquartile range of the draws over that of N(0, 1), with R's type-1 quantiles."""
    q75, q25 = np.percentile(draws, [75, 25], axis=0, method="inverted_cdf")
    se = (q75 - q25) / (stats.norm.ppf(0.75) - stats.norm.ppf(0.25))
    return np.where(se > ZERO_SE, se, np.nan)


def uniform_critical_value(draws: np.ndarray, se: np.ndarray, alpha: float) -> float | None:
    """``1 - alpha`` quantile of ``max_j |draw_j| / se_j`` over columns with a standard error.

    ``None`` when no column has one or the band would be narrower than the pointwise interval
    (R falls back to pointwise intervals then).
    """
    usable = np.isfinite(se)
    if not usable.any():
        return None
    largest = np.max(np.abs(draws[:, usable]) / se[usable], axis=1)
    critical = float(np.percentile(largest, 100 * (1 - alpha), method="inverted_cdf"))
    return critical if critical >= stats.norm.ppf(1 - alpha / 2) else None
