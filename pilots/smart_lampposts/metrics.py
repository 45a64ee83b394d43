"""The smart-lampposts pilot's metrics, declared as data.

Every metric is a lamppost-week value, because the staggered method needs a balanced panel:

- energy is metered every night on every lamppost in the study, controls included;
- repair hours are summed per lamppost-week (zero in a week without a fault), so the metric is
  defined for every lamppost-week and moves with both how often lamps fail and how fast they
  are fixed; a mean per fault would be missing in most lamppost-weeks;
- sensor data availability is defined only for lampposts that carry a weather station or a
  traffic detector (the rest have no expected records), so its panel holds those lampposts alone.
"""

from __future__ import annotations

from pilots.contract import MetricDefinition

ENERGY = MetricDefinition(
    name="kwh_per_lamp_night",
    label="Energy per lamp-night",
    source_field="kwh",
    aggregation="mean",
    time_grain="week",
    direction="lower_is_better",
    unit="kWh per lamp-night",
    default_role="primary",
    description="Mean nightly reading of the lamppost's lighting-circuit meter over the week.",
)
REPAIR_HOURS = MetricDefinition(
    name="repair_hours_per_lamppost_week",
    label="Hours from fault to repair, per lamppost-week",
    source_field="repair_hours",
    aggregation="sum",
    time_grain="week",
    direction="lower_is_better",
    unit="hours per lamppost-week",
    default_role="secondary",
    description=(
        "Hours from fault report to repair, summed over the faults reported in the week "
        "(zero without a fault): fewer faults and faster repairs both lower it."
    ),
)
SENSOR_AVAILABILITY = MetricDefinition(
    name="sensor_availability",
    label="Sensor data availability",
    source_field="sensor_availability",
    aggregation="mean",
    time_grain="week",
    direction="higher_is_better",
    unit="% of expected records",
    default_role="guardrail",
    description=(
        "Share of expected weather records and detector periods that arrived, per lamppost-day, "
        "averaged over the week; only lampposts that carry a device have a value."
    ),
)

METRICS = (ENERGY, REPAIR_HOURS, SENSOR_AVAILABILITY)
