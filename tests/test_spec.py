"""Trial specs: validation names the field and what is allowed; the hash tracks substance only."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest

from experiments.spec import load_spec, parse_spec
from livinglab.errors import SpecError, UnknownNameError
from tests.conftest import SMART_BINS_SPEC


@pytest.fixture
def data() -> dict[str, Any]:
    return tomllib.loads(SMART_BINS_SPEC.read_text())


def invalid(data: dict[str, Any], **changes: Any) -> str:
    changed = copy.deepcopy(data)
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        target = changed
        for parent in parents:
            target = target[int(parent)] if parent.isdigit() else target[parent]
        if value is None:
            del target[int(leaf) if leaf.isdigit() else leaf]
        else:
            target[int(leaf) if leaf.isdigit() else leaf] = value
    with pytest.raises(SpecError) as error:
        parse_spec(changed)
    return str(error.value)


def test_the_demo_spec_is_valid(data: dict[str, Any]) -> None:
    spec = parse_spec(data)
    assert spec.primary.name == "collections_per_bin_week"
    assert spec.common_start() is not None
    assert [m.role for m in spec.metrics] == ["primary", "secondary", "guardrail"]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"planned_method": "magic"}, "planned_method: 'magic' is not allowed; use one of"),
        (
            {"metrics__0__role": "main"},
            "metrics[0].role: 'main' is not allowed; use one of "
            "'primary', 'secondary', 'guardrail'",
        ),
        ({"metrics__0__name": "speed"}, "metrics[0].name (pilot smart_bins): 'speed' is not"),
        ({"metrics__2__margin": None}, "metrics[2].margin: a guardrail needs a positive"),
        ({"metrics__1__role": "primary"}, "exactly one primary metric is required; found 2"),
        ({"id": "Bad Id"}, "id: 'Bad Id' is not allowed"),
        ({"mde": 0}, "mde: required, a number between 0 and 10"),
        ({"alpha": 1.5}, "alpha: required, a number between 0 and 1"),
        ({"windows__pre": ["2026-01-05", "2026-13-01"]}, "windows.pre: '2026-13-01' is not a date"),
        ({"treatment__start": "2025-12-01"}, "treatment start 2025-12-01 must fall after"),
        ({"arms__control": ["R02"]}, "arms: R02 are listed as both treated and control"),
        ({"arms__treated": []}, "arms.treated: required, a non-empty list"),
        ({"title": None}, "title: required, a non-empty string"),
        ({"colour": "blue"}, "unknown field(s) colour; allowed fields: id, pilot"),
    ],
)
def test_validation_names_the_field_and_the_valid_values(
    data: dict[str, Any], changes: dict[str, Any], expected: str
) -> None:
    assert expected in invalid(data, **changes)


def test_an_unknown_pilot_lists_the_available_ones(data: dict[str, Any]) -> None:
    data["pilot"] = "flying_cars"
    with pytest.raises(UnknownNameError, match=r"available pilots: .*smart_bins"):
        parse_spec(data)


def test_per_unit_start_dates_must_cover_exactly_the_treated(data: dict[str, Any]) -> None:
    data["treatment"] = {"start_by_unit": {"R02": "2026-03-30"}}
    message = invalid(data)
    assert "start_by_unit" in message
    assert "missing R03" in message
    data["treatment"] = {"start_by_unit": dict.fromkeys(data["arms"]["treated"], "2026-03-30")}
    assert parse_spec(data).common_start().isoformat() == "2026-03-30"
    data["treatment"]["start_by_unit"]["R02"] = "2026-04-06"
    assert parse_spec(data).common_start() is None


def test_hash_ignores_formatting_but_not_substance(tmp_path: Path) -> None:
    original, _ = load_spec(SMART_BINS_SPEC)
    text = SMART_BINS_SPEC.read_text()
    reformatted = tmp_path / "reformatted.toml"
    reformatted.write_text("# a comment that changes nothing\n" + text.replace(" = ", "   =   "))
    assert load_spec(reformatted)[0].content_hash() == original.content_hash()
    changed = tmp_path / "changed.toml"
    changed.write_text(text.replace("mde = 0.2", "mde = 0.25"))
    assert load_spec(changed)[0].content_hash() != original.content_hash()


def test_canonical_form_round_trips() -> None:
    spec, _ = load_spec(SMART_BINS_SPEC)
    assert parse_spec(spec.to_dict()) == spec


def test_unreadable_files_are_reported_with_their_path(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("id = [unclosed")
    with pytest.raises(SpecError, match=r"broken\.toml: not valid TOML"):
        load_spec(broken)
    with pytest.raises(SpecError, match="spec file not found"):
        load_spec(tmp_path / "absent.toml")
