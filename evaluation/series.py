"""Per-period means of the treated and control arms, the raw material of every chart."""

from __future__ import annotations

import polars as pl


def group_means(frame: pl.DataFrame) -> pl.DataFrame:
    """``period, post, treated_mean, control_mean`` (a mean is null where the arm has no data)."""
    return (
        frame.group_by("period")
        .agg(
            pl.col("post").first(),
            pl.col("y").filter(pl.col("treated")).mean().alias("treated_mean"),
            pl.col("y").filter(~pl.col("treated")).mean().alias("control_mean"),
        )
        .sort("period")
    )
