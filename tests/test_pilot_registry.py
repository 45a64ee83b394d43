"""Tests for the pilot registry (entry points) and the smart-bins plug-in's declarations."""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import pilots.registry
from livinglab.errors import UnknownNameError
from pilots.contract import Pilot
from pilots.registry import ENTRY_POINT_GROUP, available_pilots, get_pilot
from pilots.smart_bins import PILOT as SMART_BINS
from pilots.smart_bins import design
from tests.conftest import SMART_BINS_SPEC


@dataclass(frozen=True)
class FakeEntryPoint:
    """Just enough of ``importlib.metadata.EntryPoint`` for the registry."""

    name: str
    value: str
    loader: Callable[[], Any]

    def load(self) -> Any:
        return self.loader()


def _broken() -> Any:
    raise ImportError("No module named 'acme_pilot'")


@pytest.fixture
def fresh_registry() -> Iterator[None]:
    """Clear the registry's cache before and after, so fake entry points never leak."""
    available_pilots.cache_clear()
    try:
        yield
    finally:
        available_pilots.cache_clear()


def use_entry_points(monkeypatch: pytest.MonkeyPatch, entries: list[FakeEntryPoint]) -> None:
    def fake_entry_points(*, group: str) -> list[FakeEntryPoint]:
        assert group == ENTRY_POINT_GROUP
        return entries

    monkeypatch.setattr(pilots.registry, "entry_points", fake_entry_points)


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    with SMART_BINS_SPEC.open("rb") as handle:
        return tomllib.load(handle)


def test_smart_bins_is_registered_through_its_entry_point() -> None:
    pilot = get_pilot("smart_bins")
    assert isinstance(pilot, Pilot)
    assert pilot is SMART_BINS
    assert pilot.id == "smart_bins"
    assert "smart_bins" in available_pilots()


def test_smart_bins_declares_three_metrics_one_primary() -> None:
    pilot = get_pilot("smart_bins")
    assert len(pilot.metrics) == 3
    assert [m.default_role for m in pilot.metrics].count("primary") == 1
    assert pilot.metric("collections_per_bin_week").default_role == "primary"
    assert len({m.name for m in pilot.metrics}) == 3


def test_unknown_metric_lists_the_known_ones() -> None:
    with pytest.raises(UnknownNameError, match="collections_per_bin_week") as caught:
        get_pilot("smart_bins").metric("litter_per_bin")
    assert "litter_per_bin" in str(caught.value)


def test_unknown_pilot_lists_the_available_ones() -> None:
    with pytest.raises(UnknownNameError, match="smart_bins") as caught:
        get_pilot("smart_lamps")
    assert "smart_lamps" in str(caught.value)


def test_demo_spec_exists() -> None:
    pilot = get_pilot("smart_bins")
    assert pilot.demo_spec.is_file()
    assert pilot.demo_spec == SMART_BINS_SPEC


def test_simulator_design_agrees_with_the_demo_spec(spec: dict[str, Any]) -> None:
    assert spec["pilot"] == "smart_bins"
    assert spec["arms"]["assigned_by"] == "route"
    assert spec["arms"]["treated"] == list(design.TREATED_ROUTES)
    assert spec["arms"]["control"] == list(design.CONTROL_ROUTES)
    assert spec["treatment"]["start"] == design.TREATMENT_START
    assert spec["windows"]["pre"][0] == design.START
    assert spec["windows"]["post"] == [design.TREATMENT_START, design.END]


def test_demo_spec_metrics_match_the_pilot_roles(spec: dict[str, Any]) -> None:
    declared = {m.name: m.default_role for m in get_pilot("smart_bins").metrics}
    assert {m["name"]: m["role"] for m in spec["metrics"]} == declared


def test_a_plug_in_that_fails_to_load_is_skipped_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, fresh_registry: None
) -> None:
    use_entry_points(
        monkeypatch,
        [
            FakeEntryPoint("acme", "acme_pilot:PILOT", _broken),
            FakeEntryPoint("smart_bins", "pilots.smart_bins:PILOT", lambda: SMART_BINS),
        ],
    )
    with pytest.warns(UserWarning, match=r"'acme' \(acme_pilot:PILOT\) failed to load") as record:
        pilots_found = available_pilots()
    assert "No module named 'acme_pilot'" in str(record[0].message)
    assert pilots_found == {"smart_bins": SMART_BINS}
    assert get_pilot("smart_bins") is SMART_BINS


def test_a_plug_in_that_is_not_a_pilot_is_skipped_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, fresh_registry: None
) -> None:
    use_entry_points(
        monkeypatch,
        [
            FakeEntryPoint("smart_bins", "pilots.smart_bins:PILOT", lambda: SMART_BINS),
            FakeEntryPoint("thing", "thing:PILOT", lambda: {"id": "thing"}),
        ],
    )
    with pytest.warns(UserWarning, match=r"'thing' \(thing:PILOT\) is not a Pilot"):
        pilots_found = available_pilots()
    assert list(pilots_found) == ["smart_bins"]


def test_no_installed_pilots_is_reported_by_get_pilot(
    monkeypatch: pytest.MonkeyPatch, fresh_registry: None
) -> None:
    use_entry_points(monkeypatch, [])
    with pytest.raises(UnknownNameError, match="none installed"):
        get_pilot("smart_bins")


def test_registry_is_restored_after_fakes(fresh_registry: None) -> None:
    """With the real entry points back, the cache is rebuilt from the installed metadata."""
    assert available_pilots()["smart_bins"] is SMART_BINS
