"""The smart-bins pilot's metrics, declared as data."""

from __future__ import annotations

from pilots.contract import MetricDefinition

COLLECTIONS = MetricDefinition(
    name="collections_per_bin_week",
    label="Collections per bin-week",
    source_field="collection",
    aggregation="count",
    time_grain="week",
    direction="lower_is_better",
    unit="collections per bin-week",
    default_role="primary",
    description="Times a bin was emptied in a week; fewer means fewer truck stops.",
)
FILL_AT_COLLECTION = MetricDefinition(
    name="fill_at_collection",
    label="Fill at collection",
    source_field="fill_at_collection",
    aggregation="mean",
    time_grain="week",
    direction="higher_is_better",
    unit="% full",
    default_role="secondary",
    description="How full a bin was when emptied; higher means fewer wasted trips.",
)
OVERFLOW = MetricDefinition(
    name="overflow_per_1000_bin_days",
    label="Overflowing bin-days per 1,000",
    source_field="overflow_day",
    aggregation="rate_per_1000",
    time_grain="week",
    direction="lower_is_better",
    unit="overflow bin-days per 1,000 bin-days",
    default_role="guardrail",
    description="Days on which a bin was full, per 1,000 bin-days observed.",
)

METRICS = (COLLECTIONS, FILL_AT_COLLECTION, OVERFLOW)
