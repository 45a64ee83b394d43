"""The autonomous-shuttle pilot's metrics, declared as data; one value per route and service day.

The safety guardrail is ``safety_events_per_1000_km``: emergency stops, near misses and minor
collisions per 1,000 vehicle-km, logged the same way for both shuttles, so the two arms of the
switchback can be compared. Disengagements per 1,000 automated km, the licence's headline KPI
(FEEDS.md section 3), exist only on days the AV ran: a conventional shuttle drives no automated
km, so the metric has no control arm to be compared with and is reported for the AV alone.
"""

from __future__ import annotations

from pilots.contract import MetricDefinition

JOURNEY_TIME = MetricDefinition(
    name="journey_time_min",
    label="Journey time",
    source_field="journey_time_min",
    aggregation="mean",
    time_grain="day",
    direction="lower_is_better",
    unit="minutes per trip",
    default_role="primary",
    description="Mean running time of a trip, departure to arrival at the other terminus.",
)
ON_TIME = MetricDefinition(
    name="on_time_share",
    label="On-time trips",
    source_field="on_time",
    aggregation="mean",
    time_grain="day",
    direction="higher_is_better",
    unit="% of trips",
    default_role="secondary",
    description="Trips arriving no more than 3 minutes after the timetabled arrival.",
)
PASSENGERS_PER_HOUR = MetricDefinition(
    name="passengers_per_hour",
    label="Passengers per vehicle-hour",
    source_field="passengers",
    aggregation="ratio",
    exposure_field="service_hours",
    scale=1.0,
    time_grain="day",
    direction="higher_is_better",
    unit="passengers per vehicle-hour",
    default_role="secondary",
    description="Passengers carried over the hours the shuttle spent running trips.",
)
SAFETY_EVENTS = MetricDefinition(
    name="safety_events_per_1000_km",
    label="Safety events per 1,000 km",
    source_field="safety_events",
    aggregation="ratio",
    exposure_field="km",
    scale=1000.0,
    time_grain="day",
    direction="lower_is_better",
    unit="events per 1,000 vehicle-km",
    default_role="guardrail",
    description=(
        "Emergency stops, near misses and minor collisions per 1,000 km driven, for the AV and "
        "the conventional shuttle alike."
    ),
)
DISENGAGEMENTS = MetricDefinition(
    name="disengagements_per_1000_km",
    label="Disengagements per 1,000 automated km",
    source_field="disengagement",
    aggregation="ratio",
    exposure_field="km_auto",
    scale=1000.0,
    time_grain="day",
    direction="lower_is_better",
    unit="disengagements per 1,000 automated km",
    default_role="guardrail",
    description=(
        "Disengagements in the DMV-layout report over automated km in the trip log; AV days "
        "only, since the conventional shuttle drives no automated km."
    ),
)

METRICS = (JOURNEY_TIME, ON_TIME, PASSENGERS_PER_HOUR, SAFETY_EVENTS, DISENGAGEMENTS)
