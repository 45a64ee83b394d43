"""Linear regression with absorbed fixed effects and design-appropriate standard errors.

The hot paths of difference-in-differences: the within transform (fixed effects projected out by
alternating projections, exact in one pass on balanced panels) and cluster-robust covariance with
R fixest's small-sample conventions (Cameron & Miller 2015): CR1 factor
G/(G-1) x (N-1)/(N-K), where K counts the regressors plus the fixed effects that are not nested
in the clusters, and t critical values with G-1 degrees of freedom. Heteroskedasticity-robust
errors use HC1, n/(n-K). Observation weights enter as weighted least squares: every array is
scaled by the square root of the weights before projecting.

Everything is a plain function of arrays, tested against statsmodels on the dummy-variable
regression.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
import polars as pl
from scipy import sparse

SeKind = Literal["hetero", "cluster"]
_TOLERANCE = 1e-12
_MAX_SWEEPS = 10_000
_FEW_COLUMNS = 8  # below this, one bincount per column beats a sparse product


@dataclass(frozen=True)
class Nuisance:
    """What is projected out before the coefficients of interest are estimated.

    ``groups``: integer codes, one array per fixed-effect dimension (e.g. unit and time);
    ``dense``: further nuisance columns (e.g. intercept, treated, post in a 2x2 design);
    ``scale``: square roots of the observation weights.
    """

    groups: tuple[np.ndarray, ...]
    dense: np.ndarray | None
    scale: np.ndarray

    def project_out(self, values: np.ndarray) -> np.ndarray:
        """Residuals of ``values`` (N or N x B, already scaled) on the scaled nuisance."""
        residual = _sweep_fixed_effects(values, self.groups, self.scale)
        basis = self._dense_basis
        if basis is not None:
            residual = residual - basis @ (basis.T @ residual)
        return residual

    @cached_property
    def _dense_basis(self) -> np.ndarray | None:
        """Orthonormal basis of the dense columns after the fixed effects (rank-revealing)."""
        if self.dense is None:
            return None
        swept = _sweep_fixed_effects(self.dense * self.scale[:, None], self.groups, self.scale)
        left, singular, _ = np.linalg.svd(swept, full_matrices=False)
        keep = singular > singular.max(initial=0.0) * max(swept.shape) * np.finfo(float).eps
        return left[:, keep]

    def parameter_count(self, clusters: np.ndarray | None) -> int:
        """Nuisance parameters as fixest counts them (``fixef.K = "nested"``).

        All fixed-effect levels, less one per dimension after the first (they share a level);
        a dimension nested in the clusters then counts as a single parameter instead of its
        levels. Checked against pyfixest, which follows fixest.
        """
        levels = [int(np.unique(codes_).size) for codes_ in self.groups]
        fixed = sum(levels) - max(len(levels) - 1, 0)
        if clusters is not None:
            for codes_, count in zip(self.groups, levels, strict=True):
                if _nested(codes_, clusters):
                    fixed -= count - 1
        dense = 0 if self.dense is None else int(np.linalg.matrix_rank(self.dense))
        return fixed + dense


@dataclass(frozen=True)
class LinearFit:
    """Coefficients of interest with their covariance and inference degrees of freedom."""

    coef: np.ndarray
    cov: np.ndarray
    df: int
    n_obs: int
    n_params: int
    n_clusters: int | None
    x: np.ndarray  # regressors of interest after projection (scaled)
    y: np.ndarray  # outcome after projection (scaled)
    residuals: np.ndarray

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(np.clip(np.diag(self.cov), 0.0, None))


def fit_linear(
    y: np.ndarray,
    x: np.ndarray,
    nuisance: Nuisance,
    *,
    se: SeKind,
    clusters: np.ndarray | None = None,
) -> LinearFit:
    """OLS (weighted when the nuisance has weights) of ``y`` on ``x`` after the nuisance."""
    scale = nuisance.scale
    y_tilde = nuisance.project_out(y * scale)
    x_tilde = nuisance.project_out(x * scale[:, None])
    bread = np.linalg.pinv(x_tilde.T @ x_tilde)
    coef = bread @ x_tilde.T @ y_tilde
    residuals = y_tilde - x_tilde @ coef
    n = y.shape[0]
    k = x.shape[1] + nuisance.parameter_count(clusters if se == "cluster" else None)
    scores = x_tilde * residuals[:, None]
    if se == "cluster":
        if clusters is None:
            raise ValueError("cluster-robust errors need cluster codes")
        cluster_scores = cluster_sums(scores, clusters)
        g = cluster_scores.shape[0]
        factor = g / (g - 1) * (n - 1) / (n - k) if g > 1 and n > k else np.nan
        meat = cluster_scores.T @ cluster_scores
        df, n_clusters = g - 1, g
    else:
        factor = n / (n - k) if n > k else np.nan
        meat = scores.T @ scores
        df, n_clusters = n - k, None
    cov = factor * bread @ meat @ bread
    return LinearFit(coef, cov, df, n, k, n_clusters, x_tilde, y_tilde, residuals)


def cluster_sums(values: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """Sum rows of ``values`` (N or N x B) within clusters (integer codes 0..G-1)."""
    n_clusters = int(clusters.max()) + 1
    if values.ndim == 1:
        return np.bincount(clusters, weights=values, minlength=n_clusters)
    if values.shape[1] <= _FEW_COLUMNS:
        return np.column_stack(
            [np.bincount(clusters, weights=column, minlength=n_clusters) for column in values.T]
        )
    indicator = sparse.csr_matrix(
        (np.ones(clusters.size), (clusters, np.arange(clusters.size))),
        shape=(n_clusters, clusters.size),
    )
    return np.asarray(indicator @ values)


def codes(labels: np.ndarray | pl.Series) -> np.ndarray:
    """Integer codes 0..G-1 for any labels, in sorted label order."""
    # np.unique on a million strings sorts Python objects (~0.5 s); polars ranks natively.
    return pl.Series(labels).rank("dense").to_numpy().astype(np.int64) - 1


def _sweep_fixed_effects(
    values: np.ndarray, groups: tuple[np.ndarray, ...], scale: np.ndarray
) -> np.ndarray:
    """Project scaled ``values`` off the scaled fixed-effect dummies by alternating projections."""
    if not groups:
        return values
    result = np.array(values, dtype=float, copy=True)
    column_scale = scale if result.ndim == 1 else scale[:, None]
    weight_totals = [np.bincount(g, weights=scale**2) for g in groups]
    norm = float(np.abs(result).max()) or 1.0
    for _ in range(_MAX_SWEEPS):
        largest_step = 0.0
        for codes_, totals in zip(groups, weight_totals, strict=True):
            means = cluster_sums(result * column_scale, codes_) / (
                totals if result.ndim == 1 else totals[:, None]
            )
            step = means[codes_] * column_scale
            result -= step
            largest_step = max(largest_step, float(np.abs(step).max()))
        if len(groups) == 1 or largest_step <= _TOLERANCE * norm:
            return result
    raise ArithmeticError("fixed effects did not converge; the panel may be disconnected")


def _nested(codes_: np.ndarray, clusters: np.ndarray) -> bool:
    """True when every level of ``codes_`` lies within a single cluster."""
    # Give each level the cluster of one of its rows: nested iff every row agrees with it.
    cluster_of = np.empty(int(codes_.max()) + 1, dtype=clusters.dtype)
    cluster_of[codes_] = clusters
    return bool(np.array_equal(cluster_of[codes_], clusters))
