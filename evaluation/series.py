"""Per-period means of the treated and control arms, the raw material of every chart."""

from __future__ import annotations

import polars as pl

from evaluation.panel import Panel


def group_means(frame: pl.DataFrame) -> pl.DataFrame:
    """``time, post, treated_mean, control_mean`` (a mean is null where the arm has no data)."""
    return (
        frame.group_by("time")
        .agg(
            pl.col("post").filter(pl.col("treated")).any(),
            pl.col("y").filter(pl.col("treated")).mean().alias("treated_mean"),
            pl.col("y").filter(~pl.col("treated")).mean().alias("control_mean"),
        )
        .sort("time")
    )


def series(
    panel: Panel,
    observed: list[float],
    counterfactual: list[float],
    times: list[int],
    **extra: list[float],
) -> dict[str, list]:
    """The ``details["series"]`` every method reports: labelled periods with both paths."""
    return {
        "period": panel.time_labels(times),
        "observed": observed,
        "counterfactual": counterfactual,
        **extra,
    }


def parallel_trends_series(panel: Panel) -> dict[str, list]:
    """Treated mean per period and its counterfactual: the control mean plus the pre-period gap.

    Empty when the panel has no time dimension (a pooled cross-section has no path to draw).
    """
    if panel.frame["time"].null_count():
        return {}
    means = group_means(panel.frame)
    pre = means.filter(~pl.col("post"))
    gap = float(pre["treated_mean"].mean() - pre["control_mean"].mean())  # type: ignore[operator]
    return series(
        panel,
        observed=means["treated_mean"].to_list(),
        counterfactual=(means["control_mean"] + gap).to_list(),
        times=means["time"].to_list(),
        control=means["control_mean"].to_list(),
    )
