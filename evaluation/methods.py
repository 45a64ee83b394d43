"""Every estimation method, registered by name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from evaluation.bsts import BstsConfig, estimate_bsts
from evaluation.config import MethodConfig
from evaluation.did import DidConfig, estimate_did
from evaluation.event_study import EventStudyConfig, estimate_event_study
from evaluation.panel import Panel
from evaluation.prepost import PrepostConfig, estimate_prepost
from evaluation.randomized import RandomizedConfig, estimate_randomized
from evaluation.result import Estimate
from evaluation.staggered import StaggeredConfig, estimate_staggered
from evaluation.synth import SynthConfig, estimate_synth
from livinglab.errors import SpecError, UnknownNameError


@dataclass(frozen=True)
class Method:
    name: str
    summary: str
    estimate: Callable[[Panel, Any], Estimate]
    config: type[MethodConfig]

    def options(self) -> list[str]:
        return [f.name for f in fields(self.config) if f.name not in ("alpha", "seed")]


METHODS: dict[str, Method] = {
    method.name: method
    for method in (
        Method(
            "prepost",
            "before/after on the treated group: segmented regression with HAC errors",
            estimate_prepost,
            PrepostConfig,
        ),
        Method(
            "did",
            "difference-in-differences (2x2 or two-way fixed effects), clustered errors, "
            "wild cluster bootstrap with few clusters",
            estimate_did,
            DidConfig,
        ),
        Method(
            "event_study",
            "effects by event time with leads, lags and a joint pre-trend test",
            estimate_event_study,
            EventStudyConfig,
        ),
        Method(
            "staggered",
            "Callaway & Sant'Anna group-time ATT(g,t) for staggered adoption",
            estimate_staggered,
            StaggeredConfig,
        ),
        Method(
            "synth",
            "synthetic control: simplex donor weights, placebo p-value, conformal interval",
            estimate_synth,
            SynthConfig,
        ),
        Method(
            "bsts",
            "structural time-series counterfactual from control series (CausalImpact-like)",
            estimate_bsts,
            BstsConfig,
        ),
        Method(
            "randomized",
            "randomized trial (individual, cluster, switchback): CUPED difference in means "
            "with randomization inference; event rates with exposure",
            estimate_randomized,
            RandomizedConfig,
        ),
    )
}


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise UnknownNameError(f"unknown method {name!r}; available methods: {', '.join(METHODS)}")
    return METHODS[name]


def method_config(name: str, *, alpha: float = 0.05, seed: int = 0, **options: Any) -> MethodConfig:
    """Method ``name``'s config from ``alpha``, ``seed`` and ``options``, validated."""
    method = get_method(name)
    unknown = sorted(set(options) - set(method.options()))
    if unknown:
        allowed = ", ".join(method.options()) or "none"
        raise SpecError(
            f"method {name!r} has no option {', '.join(unknown)}; its options are: {allowed}"
        )
    try:
        return method.config(alpha=alpha, seed=seed, **options)
    except TypeError as exc:  # a value of the wrong kind deep inside a config
        raise SpecError(f"method {name!r}: invalid option value ({exc})") from exc


def run_method(
    name: str, panel: Panel, *, alpha: float = 0.05, seed: int = 0, **options: Any
) -> Estimate:
    """Run method ``name`` with its config built from ``alpha``, ``seed`` and ``options``."""
    config = method_config(name, alpha=alpha, seed=seed, **options)
    return get_method(name).estimate(panel, config)
