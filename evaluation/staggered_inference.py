"""Aggregations and standard errors for the Callaway & Sant'Anna group-time effects.

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
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy import stats

# R's did treats standard errors below this as zero (a reference cell, a degenerate sum).
ZERO_SE = float(np.sqrt(np.finfo(float).eps) * 10)
# Multipliers per bootstrap chunk: bounds memory at ~32 MB whatever the number of clusters.
CHUNK_MULTIPLIERS = 4_000_000


@dataclass(frozen=True)
class Cells:
    """The ATT(g,t) cells (cohort code, period position, event time) with their estimates.

    ``influence`` is ``n_cells x n_units``. ``unit_cohort`` gives each unit's cohort code, with
    ``n_cohorts`` for units that only serve as comparisons; ``unit_weight`` its sampling weight.
    """

    cohort: np.ndarray
    position: np.ndarray
    event_time: np.ndarray
    post: np.ndarray
    att: np.ndarray
    influence: np.ndarray
    unit_cohort: np.ndarray
    unit_weight: np.ndarray
    n_cohorts: int


@dataclass(frozen=True)
class Aggregation:
    """One family of aggregated parameters, labelled by ``keys``, and its overall summary.

    ``influence`` is ``len(keys) x n_units``; ``overall_influence`` has one value per unit.
    """

    keys: list[int]
    att: np.ndarray
    influence: np.ndarray
    overall: float
    overall_influence: np.ndarray


def aggregate(cells: Cells) -> dict[str, Aggregation]:
    """The four aggregations of ``did::aggte`` with their influence functions."""
    n = cells.influence.shape[1]
    weight = cells.unit_weight
    share = np.bincount(cells.unit_cohort, weights=weight, minlength=cells.n_cohorts + 1) / n
    share = share[: cells.n_cohorts]
    cell_share = share[cells.cohort]
    post = cells.post

    def family(masks: np.ndarray, estimated_weights: bool) -> tuple[np.ndarray, np.ndarray]:
        """Cohort-share-weighted averages of the cells in each column of ``masks`` (cells x J)."""
        shares = cell_share[:, None] * masks
        total = shares.sum(axis=0)
        combination = shares / total
        att = cells.att @ combination
        influence = combination.T @ cells.influence
        if estimated_weights:
            # R's wif() reduces to: w_i x sum over the cells of unit i's cohort of
            # (ATT(g,t) - aggregate) / (sum of the shares), zero for comparison units.
            by_cohort = np.zeros((cells.n_cohorts + 1, masks.shape[1]))
            np.add.at(by_cohort, cells.cohort, masks * (cells.att[:, None] - att) / total)
            influence = influence + weight * by_cohort.T[:, cells.unit_cohort]
        return att, influence

    simple_att, simple_if = family(post[:, None].astype(float), estimated_weights=True)

    cohorts = np.arange(cells.n_cohorts)
    group_masks = (cells.cohort[:, None] == cohorts) & post[:, None]
    group_att, group_if = family(group_masks.astype(float), estimated_weights=False)
    group_overall = float(share @ group_att / share.sum())
    group_gap = np.append((group_att - group_overall) / share.sum(), 0.0)
    group_overall_if = share @ group_if / share.sum() + weight * group_gap[cells.unit_cohort]

    events = np.unique(cells.event_time)
    event_att, event_if = family(
        (cells.event_time[:, None] == events).astype(float), estimated_weights=True
    )
    after = events >= 0

    periods = np.unique(cells.position[post])
    period_masks = (cells.position[:, None] == periods) & post[:, None]
    period_att, period_if = family(period_masks.astype(float), estimated_weights=True)

    return {
        "simple": Aggregation([], simple_att, simple_if, float(simple_att[0]), simple_if[0]),
        "group": Aggregation(
            cohorts.tolist(), group_att, group_if, group_overall, group_overall_if
        ),
        "dynamic": Aggregation(
            events.tolist(),
            event_att,
            event_if,
            float(event_att[after].mean()),
            event_if[after].mean(axis=0),
        ),
        "calendar": Aggregation(
            periods.tolist(),
            period_att,
            period_if,
            float(period_att.mean()),
            period_if.mean(axis=0),
        ),
    }


def standard_errors(
    blocks: list[np.ndarray], cluster: np.ndarray | None, n_draws: int | None, seed: int
) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """Per block of influence functions (parameters x units): standard errors and draws.

    Standard errors are ``nan`` where numerically zero. They are analytic when ``n_draws`` is
    ``None``; otherwise they come from one multiplier bootstrap shared by all blocks, whose draws
    (``n_draws x parameters``) are returned for uniform bands.
    """
    n_units = blocks[0].shape[1]
    sums = [cluster_sums(block, cluster) for block in blocks]
    if n_draws is None:
        return [(analytic_se(block_sums, n_units), None) for block_sums in sums]
    draws = bootstrap_draws(np.hstack(sums), n_units, n_draws, seed)
    se = bootstrap_se(draws)
    edges = np.cumsum([0] + [block.shape[0] for block in blocks])
    return [(se[a:b], draws[:, a:b]) for a, b in itertools.pairwise(edges)]


def cluster_sums(influence: np.ndarray, cluster: np.ndarray | None) -> np.ndarray:
    """``clusters x parameters``: influence functions (``parameters x units``) summed by cluster.

    Without a coarser cluster every unit is its own cluster.
    """
    if cluster is None:
        return influence.T
    n = influence.shape[1]
    indicator = sp.csr_matrix(
        (np.ones(n), (cluster, np.arange(n))), shape=(int(cluster.max()) + 1, n)
    )
    return np.asarray(indicator @ influence.T)


def analytic_se(sums: np.ndarray, n_units: int) -> np.ndarray:
    """``sqrt(sum_c S_c^2) / n`` per column; ``nan`` where it is numerically zero."""
    se = np.sqrt(np.einsum("ij,ij->j", sums, sums)) / n_units
    return np.where(se > ZERO_SE, se, np.nan)


def bootstrap_draws(sums: np.ndarray, n_units: int, n_draws: int, seed: int) -> np.ndarray:
    """``n_draws x columns``: Rademacher-weighted cluster sums divided by ``n`` (R's ``mboot``)."""
    rng = np.random.default_rng(seed)
    n_clusters = sums.shape[0]
    draws = np.empty((n_draws, sums.shape[1]))
    chunk = max(1, CHUNK_MULTIPLIERS // n_clusters)
    for start in range(0, n_draws, chunk):
        stop = min(start + chunk, n_draws)
        signs = rng.integers(0, 2, size=(stop - start, n_clusters)).astype(float) * 2.0 - 1.0
        draws[start:stop] = signs @ sums
    return draws / n_units


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
