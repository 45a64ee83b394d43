"""The one result type every method returns."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from scipy import stats

Status = Literal["ok", "point_only", "cannot_estimate"]


@dataclass(frozen=True)
class Estimate:
    """An effect estimate with its uncertainty, or the reason there is none.

    ``status`` is ``"cannot_estimate"`` when the design cannot support an answer (no pre-period,
    no control units...); then the numbers are ``None`` and ``message`` says why. It is
    ``"point_only"`` when the effect is identified but its uncertainty is not (one cluster per
    arm, no degrees of freedom left): ``effect`` is set, ``se``, the interval and ``p_value``
    are ``None``, and ``message`` says why. ``relative_effect`` is the effect divided by the
    counterfactual mean of the treated.
    ``details`` holds what is specific to a method (coefficient tables, the observed and
    counterfactual series under ``"series"``).
    """

    method: str
    estimand: str
    effect: float | None
    se: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    relative_effect: float | None
    n_obs: int
    n_units: int
    n_treated: int
    status: Status = "ok"
    message: str = ""
    warnings: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data; non-finite numbers become ``None``."""
        return json_safe(asdict(self) | {"warnings": list(self.warnings)})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Estimate:
        return cls(**{**data, "warnings": tuple(data.get("warnings", ()))})


def cannot_estimate(
    method: str,
    estimand: str,
    message: str,
    *,
    n_obs: int = 0,
    n_units: int = 0,
    n_treated: int = 0,
    warnings: tuple[str, ...] = (),
) -> Estimate:
    """The neutral result of a design that cannot support an answer."""
    return Estimate(
        method=method,
        estimand=estimand,
        effect=None,
        se=None,
        ci_low=None,
        ci_high=None,
        p_value=None,
        relative_effect=None,
        n_obs=n_obs,
        n_units=n_units,
        n_treated=n_treated,
        status="cannot_estimate",
        message=message,
        warnings=warnings,
    )


def point_only(
    method: str,
    estimand: str,
    effect: float,
    message: str,
    *,
    n_obs: int,
    n_units: int,
    n_treated: int,
    warnings: tuple[str, ...] = (),
    details: Mapping[str, Any] | None = None,
) -> Estimate:
    """An identified effect whose uncertainty the design cannot estimate."""
    neutral = cannot_estimate(
        method,
        estimand,
        message,
        n_obs=n_obs,
        n_units=n_units,
        n_treated=n_treated,
        warnings=warnings,
    )
    return replace(neutral, status="point_only", effect=effect, details=details or {})


@dataclass(frozen=True)
class TInference:
    """A t-based interval and two-sided p-value for ``effect`` with standard error ``se``."""

    ci_low: float
    ci_high: float
    p_value: float
    critical_value: float


def t_inference(effect: float, se: float, df: float, alpha: float) -> TInference:
    critical = float(stats.t.ppf(1 - alpha / 2, df))
    p_value = float(2 * stats.t.sf(abs(effect / se), df)) if se > 0 else float(effect == 0)
    return TInference(effect - critical * se, effect + critical * se, p_value, critical)


def json_safe(value: Any) -> Any:
    """Plain JSON data: non-finite floats become ``None``, mappings get string keys."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value
