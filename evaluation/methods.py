"""Every estimation method, registered by name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from evaluation.config import MethodConfig
from evaluation.did import DidConfig, estimate_did
from evaluation.panel import Panel
from evaluation.prepost import PrepostConfig, estimate_prepost
from evaluation.result import Estimate
from livinglab.errors import UnknownNameError


@dataclass(frozen=True)
class Method:
    name: str
    summary: str
    estimate: Callable[[Panel, Any], Estimate]
    config: type[MethodConfig]


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
            "2x2 difference-in-differences with cluster-robust errors",
            estimate_did,
            DidConfig,
        ),
    )
}


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise UnknownNameError(f"unknown method {name!r}; available methods: {', '.join(METHODS)}")
    return METHODS[name]


def run_method(name: str, panel: Panel, *, alpha: float = 0.05, seed: int = 0) -> Estimate:
    method = get_method(name)
    return method.estimate(panel, method.config(alpha=alpha, seed=seed))
