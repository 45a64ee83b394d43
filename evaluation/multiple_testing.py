"""Multiple-testing correction across a trial's metrics (statsmodels' ``multipletests``).

The family is the primary and secondary metrics: guardrails are tested for non-inferiority one
by one and stay out of it, as Spotify's experimentation guidance recommends (a guardrail that
fails should never be excused by the number of metrics). Holm (1979) controls the family-wise
error rate; Benjamini & Hochberg (1995) the false discovery rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from statsmodels.stats.multitest import multipletests

from livinglab.errors import require_one_of

Correction = Literal["holm", "bh", "none"]
CORRECTIONS: tuple[Correction, ...] = ("holm", "bh", "none")
_STATSMODELS = {"holm": "holm", "bh": "fdr_bh"}
IN_FAMILY = ("primary", "secondary")


def adjust_p_values(
    p_values: Mapping[str, float | None], roles: Mapping[str, str], correction: Correction
) -> dict[str, float | None]:
    """Adjusted p-values for the metrics in the family; others keep their own p-value.

    Metrics without a p-value (not estimated) are left out of the family and stay ``None``.
    """
    require_one_of("multiple_testing", correction, CORRECTIONS)
    family = [m for m, p in p_values.items() if p is not None and roles[m] in IN_FAMILY]
    adjusted = dict(p_values)
    if correction == "none" or not family:
        return adjusted
    _, corrected, _, _ = multipletests(
        [p_values[m] for m in family], method=_STATSMODELS[correction]
    )
    adjusted.update({m: float(p) for m, p in zip(family, corrected, strict=True)})
    return adjusted
