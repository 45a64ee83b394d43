"""Choose the analysis a design can support: a primary method, robustness checks, and why.

The rules follow what each method needs (REFERENCES.md): randomisation makes a difference in
means unbiased; staggered starts need Callaway & Sant'Anna instead of two-way fixed effects
(Goodman-Bacon 2021); one or a few treated units with a long pre-period and many comparable
donors suit synthetic control (Abadie 2021); with no comparison group only a before/after
comparison or a structural time-series forecast remains, and both are weak.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from evaluation.panel import Panel

MIN_DONORS_FOR_SYNTH = 10
MIN_PRE_FOR_SYNTH = 8
MIN_PRE_FOR_EVENT_STUDY = 3
MIN_PRE_FOR_BSTS = 8
MAX_TREATED_FOR_SYNTH = 3


@dataclass(frozen=True)
class Design:
    """What the router looks at."""

    randomized: bool
    n_treated: int
    n_control: int
    n_cohorts: int
    n_pre_periods: int
    n_clusters: int


@dataclass(frozen=True)
class Recommendation:
    primary: str
    robustness: tuple[str, ...]
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "primary": self.primary,
            "robustness": list(self.robustness),
            "reasons": list(self.reasons),
        }


def describe(panel: Panel, *, randomized: bool) -> Design:
    """Summarise a panel's design for ``recommend``."""
    frame = panel.frame
    units = frame.group_by("unit").agg(pl.col("treated").any(), pl.col("cohort").first())
    treated = units.filter("treated")
    first_start = treated["cohort"].min()
    pre_periods = (
        frame.filter(pl.col("time") < first_start)["time"].n_unique()
        if first_start is not None
        else 0
    )
    return Design(
        randomized=randomized,
        n_treated=treated.height,
        n_control=units.height - treated.height,
        n_cohorts=treated["cohort"].drop_nulls().n_unique(),
        n_pre_periods=int(pre_periods),
        n_clusters=frame["cluster"].n_unique(),
    )


def recommend(design: Design) -> Recommendation:
    """The primary method and up to two robustness methods, with the reasons in words."""
    if design.randomized:
        robustness = ("did",) if design.n_pre_periods >= 1 and design.n_control >= 2 else ()
        return Recommendation(
            "randomized",
            robustness,
            (
                "assignment was randomised, so a difference in means is unbiased; pre-period "
                "outcomes sharpen it (CUPED)",
                *(
                    ["difference-in-differences on the same data checks the result"]
                    if robustness
                    else []
                ),
            ),
        )
    if design.n_control == 0:
        robustness = ("bsts",) if design.n_pre_periods >= MIN_PRE_FOR_BSTS else ()
        return Recommendation(
            "prepost",
            robustness,
            (
                "there is no comparison group, so only the treated units' own history can "
                "stand in for what would have happened; this is the weakest design",
                *(
                    ["a structural time-series forecast is a second view of the same history"]
                    if robustness
                    else []
                ),
            ),
        )
    if design.n_cohorts > 1:
        return Recommendation(
            "staggered",
            ("event_study", "did"),
            (
                f"treatment starts at {design.n_cohorts} different times: Callaway & "
                "Sant'Anna compare each cohort only with units not (yet) treated, avoiding "
                "the bias of two-way fixed effects under staggered adoption",
                "the event study shows effects by time since start and tests pre-trends; "
                "two-way fixed effects show how much the naive estimate differs",
            ),
        )
    if (
        design.n_treated <= MAX_TREATED_FOR_SYNTH
        and design.n_control >= MIN_DONORS_FOR_SYNTH
        and design.n_pre_periods >= MIN_PRE_FOR_SYNTH
    ):
        return Recommendation(
            "synth",
            ("bsts", "did"),
            (
                f"{design.n_treated} treated unit(s) against {design.n_control} possible donors "
                f"with {design.n_pre_periods} pre-periods: a weighted combination of donors "
                "can track the treated unit before the start (synthetic control)",
                "a structural time-series forecast and difference-in-differences are checks "
                "with different assumptions",
            ),
        )
    robustness = ["event_study"] if design.n_pre_periods >= MIN_PRE_FOR_EVENT_STUDY else []
    if design.n_treated <= MAX_TREATED_FOR_SYNTH and design.n_control >= MIN_DONORS_FOR_SYNTH:
        robustness.append("synth")
    reasons = [
        f"{design.n_treated} treated and {design.n_control} control units with one start "
        "date: difference-in-differences compares their changes",
    ]
    if design.n_clusters < 30:
        reasons.append(
            f"with {design.n_clusters} clusters the wild cluster bootstrap gives the p-value"
        )
    if robustness:
        reasons.append("the event study tests for pre-trends and shows the effect over time")
    return Recommendation("did", tuple(robustness[:2]), tuple(reasons))
