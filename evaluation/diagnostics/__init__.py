"""Diagnostics of an effect estimate, each behind one ``Check`` that states its null hypothesis.

``run_diagnostics(panel, method, estimate)`` runs every registered check (or those named) and
returns one ``CheckResult`` each, in registry order:

- ``pre_trends``: the event study's joint test that treated and control units trended alike
  before the start;
- ``placebo_in_time``: the method re-run with a pretend start halfway through the pre-period;
- ``placebo_in_space``: the method re-run with each control cluster pretending to be treated,
  and where the real effect ranks among those placebo effects;
- ``balance``: standardised mean differences of the pre-period outcome level and covariates;
- ``pre_period_fit``: how closely the method's counterfactual follows the treated series before
  the start.

A check that does not fit the design says so with status ``not_applicable`` and the reason.
Failures caused by the data (``check.DATA_FAILURES``: a singular design, a model that cannot be
fitted) become ``not_applicable`` too; any other exception is a bug and propagates.
"""

from __future__ import annotations

from collections.abc import Iterable

from evaluation.diagnostics.balance import Balance
from evaluation.diagnostics.check import (
    DATA_FAILURES,
    STATUSES,
    Check,
    CheckResult,
    DiagnosticsConfig,
    Status,
    not_applicable,
)
from evaluation.diagnostics.fit import PrePeriodFit
from evaluation.diagnostics.placebo import PlaceboInSpace, PlaceboInTime
from evaluation.diagnostics.pre_trends import PreTrends
from evaluation.methods import get_method
from evaluation.panel import Panel
from evaluation.result import Estimate
from livinglab.errors import UnknownNameError

__all__ = [
    "CHECKS",
    "STATUSES",
    "Check",
    "CheckResult",
    "DiagnosticsConfig",
    "Status",
    "run_diagnostics",
]

CHECKS: dict[str, Check] = {
    check.name: check
    for check in (PreTrends(), PlaceboInTime(), PlaceboInSpace(), Balance(), PrePeriodFit())
}


def run_diagnostics(
    panel: Panel,
    method: str,
    estimate: Estimate,
    config: DiagnosticsConfig | None = None,
    names: Iterable[str] | None = None,
) -> list[CheckResult]:
    """Run the checks ``names`` (default: all, in registry order) on ``method``'s ``estimate``.

    Raises ``UnknownNameError`` for an unknown method or check name, listing the known ones.
    """
    config = config or DiagnosticsConfig()
    get_method(method)
    selected = list(CHECKS) if names is None else list(names)
    unknown = [name for name in selected if name not in CHECKS]
    if unknown:
        raise UnknownNameError(
            f"unknown diagnostic {', '.join(map(repr, unknown))}; "
            f"available diagnostics: {', '.join(CHECKS)}"
        )
    return [_run(CHECKS[name], panel, method, estimate, config) for name in selected]


def _run(
    check: Check, panel: Panel, method: str, estimate: Estimate, config: DiagnosticsConfig
) -> CheckResult:
    try:
        return check.run(panel, method, estimate, config)
    except DATA_FAILURES as exc:
        return not_applicable(check, f"The check could not be computed on these data: {exc}")
