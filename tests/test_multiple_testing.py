"""Holm and Benjamini-Hochberg over primary and secondary metrics; guardrails stay out."""

from __future__ import annotations

import pytest

from evaluation.multiple_testing import adjust_p_values
from livinglab.errors import SpecError

ROLES = {"a": "primary", "b": "secondary", "c": "secondary", "g": "guardrail"}
P = {"a": 0.01, "b": 0.04, "c": 0.03, "g": 0.02}


def test_holm_by_hand() -> None:
    # Holm (1979): sorted 0.01, 0.03, 0.04 times 3, 2, 1, then made monotone: .03, .06, .06.
    adjusted = adjust_p_values(P, ROLES, "holm")
    assert adjusted["a"] == pytest.approx(0.03)
    assert adjusted["c"] == pytest.approx(0.06)
    assert adjusted["b"] == pytest.approx(0.06)
    assert adjusted["g"] == 0.02  # guardrails are not in the family


def test_benjamini_hochberg_by_hand() -> None:
    # BH (1995): p(i) * m / i = .03, .045, .04, then monotone from the top: .03, .04, .04.
    adjusted = adjust_p_values(P, ROLES, "bh")
    assert adjusted == pytest.approx({"a": 0.03, "c": 0.04, "b": 0.04, "g": 0.02})


def test_missing_p_values_and_no_correction() -> None:
    p_values = {"a": 0.01, "b": None, "g": 0.5}
    assert adjust_p_values(p_values, ROLES, "holm") == {"a": 0.01, "b": None, "g": 0.5}
    assert adjust_p_values(P, ROLES, "none") == P


def test_unknown_correction_lists_the_allowed_ones() -> None:
    with pytest.raises(SpecError, match="'holm', 'bh', 'none'"):
        adjust_p_values(P, ROLES, "bonferroni")  # type: ignore[arg-type]
