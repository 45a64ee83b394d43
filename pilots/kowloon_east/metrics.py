"""The Kowloon East pilot's metrics, declared as data: one value per area and week."""

from __future__ import annotations

from pilots.contract import MetricDefinition

PEAK_SPEED = MetricDefinition(
    name="peak_hour_speed",
    label="Peak-hour mean speed",
    source_field="peak_speed",
    aggregation="mean",
    time_grain="week",
    direction="higher_is_better",
    unit="km/h",
    default_role="primary",
    description=(
        "Mean of the area's valid segment speeds in the morning and evening peaks "
        "(07:30-09:30, 17:30-19:30); adaptive signals should raise it."
    ),
)
CARPARK_FULL = MetricDefinition(
    name="carpark_hours_full",
    label="Car-park hours full",
    source_field="carpark_full",
    aggregation="ratio",
    exposure_field="carpark_hour",
    scale=100.0,
    time_grain="week",
    direction="lower_is_better",
    unit="% of car-park hours",
    default_role="secondary",
    description=(
        "Share of sampled car-park hours with no free private-car space, among hours the car "
        "park was open and reporting; real-time vacancy information should spread drivers out."
    ),
)
JOURNEY_TIME = MetricDefinition(
    name="corridor_journey_time",
    label="Peak-hour corridor journey time",
    source_field="journey_time",
    aggregation="mean",
    time_grain="week",
    direction="lower_is_better",
    unit="minutes",
    default_role="guardrail",
    description=(
        "Minutes to drive the area's corridor in a peak-hour snapshot (length over speed, "
        "summed over its segments), when every segment reported."
    ),
)

METRICS = (PEAK_SPEED, CARPARK_FULL, JOURNEY_TIME)
