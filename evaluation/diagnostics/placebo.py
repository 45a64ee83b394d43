"""Placebo tests: the method re-run where there can be no effect, in time and in space.

**In time.** Only the periods before the earliest real start are kept, and every treated unit
pretends to start halfway through them. Null hypothesis: there was no effect before the real
start, so the method's pretend effect is zero. Status ``pass`` when its ``1 - alpha`` interval
covers zero, ``fail`` when it does not (the method finds an "effect" where there can be none:
anticipation, diverging trends or a misspecified counterfactual). Needs at least four periods
before the start, two on each side of the pretend start.

**In space.** The real treated units are dropped and each control cluster in turn (the level at
which treatment is assigned; up to ``max_placebos``, a seeded subsample beyond that) plays the
treated role from the real start. Null hypothesis: the pilot had no effect, so the real effect
is just another draw from the effects the method finds for units that received nothing. The
p-value is the share of placebo effects at least as large in absolute value as the real one,
counting the real one (Abadie, Diamond & Hainmueller 2010; Abadie 2021): with n
placebos it cannot fall below 1/(n+1). Each placebo has a single treated cluster while the real
design may have many, so placebo effects are noisier and the p-value conservative; the status
is therefore ``informational``. With several start dates the placebos use the most common one.

References
----------
Abadie, A., Diamond, A. and Hainmueller, J. (2010). Synthetic control methods for comparative
case studies. *JASA* 105(490), 493-505.
Abadie, A. (2021). Using synthetic controls: feasibility, data requirements, and methodological
aspects. *Journal of Economic Literature* 59(2), 391-425.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from evaluation.diagnostics.check import (
    DATA_FAILURES,
    CheckResult,
    DiagnosticsConfig,
    first_start,
    not_applicable,
    result,
    switching_arms,
)
from evaluation.methods import run_method
from evaluation.panel import Panel
from evaluation.result import Estimate

MIN_PRE_PERIODS = 4
MIN_CONTROLS = 5


class PlaceboInTime:
    """The method re-run on the pre-period with a pretend start halfway through it."""

    name = "placebo_in_time"
    null_hypothesis = (
        "There was no effect before the real start: a pretend start halfway through the "
        "pre-period shows no effect"
    )

    def run(
        self, panel: Panel, method: str, estimate: Estimate, config: DiagnosticsConfig
    ) -> CheckResult:
        frame = panel.frame
        switching = switching_arms(frame)
        if switching:
            return not_applicable(self, switching)
        start = first_start(frame)
        if frame["time"].null_count() or start is None:
            return not_applicable(
                self, "The data have no treatment start in time, so there is no pre-period."
            )
        pre = frame.filter(pl.col("time") < start)
        times = pre["time"].unique().sort().to_list()
        if len(times) < MIN_PRE_PERIODS:
            return not_applicable(
                self,
                f"There are {len(times)} period(s) before the start; a placebo in time needs "
                f"at least {MIN_PRE_PERIODS}, two on each side of the pretend start.",
            )
        placebo_start = int(times[len(times) // 2])
        shifted = pre.with_columns(
            pl.when("treated").then(pl.lit(placebo_start, pl.Int64)).alias("cohort"),
            (pl.col("time") >= placebo_start).alias("post"),
        )
        placebo = run_method(
            method,
            panel.with_frame(shifted),
            alpha=config.alpha,
            seed=config.seed,
            **config.method_options,
        )
        if placebo.effect is None:
            return not_applicable(
                self,
                f"The {method} method cannot estimate on the pre-period alone: {placebo.message}",
            )
        label = _label(panel, placebo_start)
        details = {
            "placebo_start": label,
            "pre_periods": len(times),
            "effect": placebo.effect,
            "ci_low": placebo.ci_low,
            "ci_high": placebo.ci_high,
            "p_value": placebo.p_value,
            "warnings": list(placebo.warnings),
        }
        told = (
            f"Pretending the pilot began on {label}, halfway through the {len(times)} periods "
            f"before the real start, the {method} method finds an effect of {placebo.effect:.3g}"
        )
        if placebo.ci_low is None or placebo.ci_high is None:
            return result(
                self,
                "informational",
                f"{told}, but no interval ({placebo.message}), so it cannot be judged against "
                "zero.",
                statistic=placebo.effect,
                details=details,
            )
        covers = placebo.ci_low <= 0.0 <= placebo.ci_high
        interval = f"{1 - config.alpha:.0%} interval {placebo.ci_low:.3g} to {placebo.ci_high:.3g}"
        reading = (
            "which includes zero: no sign of an effect where there can be none."
            if covers
            else "which excludes zero: the method finds an effect where there can be none, so "
            "the real effect may also reflect something other than the pilot."
        )
        return result(
            self,
            "pass" if covers else "fail",
            f"{told} ({interval}), {reading}",
            statistic=placebo.effect,
            p_value=placebo.p_value,
            details=details,
        )


class PlaceboInSpace:
    """The method re-run with each control cluster in turn pretending to be treated."""

    name = "placebo_in_space"
    null_hypothesis = (
        "The pilot had no effect: the real effect is no larger than those found when control "
        "units that received nothing pretend to be treated"
    )

    def run(
        self, panel: Panel, method: str, estimate: Estimate, config: DiagnosticsConfig
    ) -> CheckResult:
        if estimate.effect is None:
            return not_applicable(
                self, f"The method gave no effect to compare with placebos: {estimate.message}"
            )
        frame = panel.frame
        switching = switching_arms(frame)
        if switching:
            return not_applicable(self, switching)
        cohorts = frame.filter("treated")["cohort"].drop_nulls()
        start = int(cohorts.mode().min()) if cohorts.len() else None  # type: ignore[arg-type]
        timed = frame["time"].null_count() == 0
        if timed and start is None:
            return not_applicable(
                self, "The treated units have no start, so a placebo cannot copy it."
            )
        controls = frame.filter(~pl.col("treated"))
        clusters = controls["cluster"].unique().sort().to_list()
        kind = "units" if len(clusters) == controls["unit"].n_unique() else "clusters"
        if len(clusters) < MIN_CONTROLS:
            return not_applicable(
                self,
                f"There are {len(clusters)} control {kind}; a placebo in space needs at least "
                f"{MIN_CONTROLS} to compare the real effect with.",
            )
        chosen = clusters
        if len(clusters) > config.max_placebos:
            rng = np.random.default_rng(config.seed)
            picked = rng.choice(len(clusters), config.max_placebos, replace=False)
            chosen = [clusters[i] for i in np.sort(picked)]

        effects, failures = _placebo_effects(panel, controls, chosen, start, method, config)
        if not effects:
            return not_applicable(
                self,
                f"The {method} method could not estimate any placebo: {failures[0]['reason']}",
            )
        real = float(estimate.effect)
        placebo = np.array(list(effects.values()))
        as_large = int((np.abs(placebo) >= abs(real)).sum())
        p_value = (1 + as_large) / (1 + placebo.size)
        when = f" from {_label(panel, start)}" if timed and start is not None else ""
        drawn = f" (drawn at random from {len(clusters)})" if len(chosen) < len(clusters) else ""
        return result(
            self,
            "informational",
            f"Each of {placebo.size} control {kind}{drawn} in turn was treated as if it had "
            f"received the pilot{when}; {as_large} of the {placebo.size} pretend effects were "
            f"at least as large as the real effect of {real:.3g} (p = {p_value:.3f}). The "
            "smaller p, the more the real effect stands out from differences that arise between "
            "units anyway.",
            statistic=real,
            p_value=p_value,
            details={
                "real_effect": real,
                "placebo_start": _label(panel, start) if start is not None else None,
                "placebos": [{"cluster": c, "effect": e} for c, e in effects.items()],
                "n_placebos": int(placebo.size),
                "n_as_large": as_large,
                "smallest_possible_p": 1 / (1 + placebo.size),
                "control_clusters": len(clusters),
                "subsampled": len(chosen) < len(clusters),
                "failed": failures,
            },
        )


def _placebo_effects(
    panel: Panel,
    controls: pl.DataFrame,
    chosen: list[str],
    start: int | None,
    method: str,
    config: DiagnosticsConfig,
) -> tuple[dict[str, float], list[dict[str, str]]]:
    """Each chosen cluster's effect as the only treated one; the failures with their reasons."""
    timed = controls["time"].null_count() == 0
    effects: dict[str, float] = {}
    failures: list[dict[str, str]] = []
    for cluster in chosen:
        role = pl.col("cluster") == cluster
        columns = [
            role.alias("treated"),
            pl.when(role).then(pl.lit(start, pl.Int64)).alias("cohort"),
        ]
        if timed:
            columns.append((pl.col("time") >= start).alias("post"))
        placebo_panel = panel.with_frame(controls.with_columns(columns))
        try:
            placebo = run_method(
                method,
                placebo_panel,
                alpha=config.alpha,
                seed=config.seed,
                **config.method_options,
            )
        except DATA_FAILURES as exc:
            failures.append({"cluster": cluster, "reason": str(exc)})
            continue
        if placebo.effect is None:
            failures.append({"cluster": cluster, "reason": placebo.message})
        else:
            effects[cluster] = float(placebo.effect)
    return effects, failures


def _label(panel: Panel, time: int) -> str:
    return panel.time_label(time) if panel.times else f"period {time}"
