"""Registering from a form: form -> spec data -> TOML and back, errors by field, power, lock."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from evaluation.power import solve_design
from experiments.registration import (
    GENERAL,
    MetricChoice,
    TrialForm,
    check_form,
    error_field,
    register_form,
    register_text,
    spec_data,
    split_names,
)
from experiments.registration_power import (
    History,
    arm_sizes,
    baseline,
    count_periods,
    power_check,
    power_design,
    read_history,
)
from experiments.spec import load_spec, parse_spec
from experiments.store import TrialStore
from experiments.toml_writer import render_toml
from livinglab.errors import DataError, SpecError
from tests.conftest import PROJECT, SMART_BINS_SPEC

TRIALS = sorted((PROJECT / "experiments" / "trials").glob("*.toml"))
TREATED = ("R02", "R03", "R05", "R08", "R10", "R11")
CONTROL = ("R01", "R04", "R06", "R07", "R09", "R12")

# The demo smart-bins trial (experiments/trials/smart_bins.toml), typed into the form.
SMART_BINS_FORM = TrialForm(
    id="smart-bins-2026",
    pilot="smart_bins",
    title="Sensor-driven collection of street litter bins",
    owner="Smart bins pilot team",
    hypothesis=(
        "Emptying street bins when their fill sensors say they need it, instead of on a fixed "
        "rota, cuts\ncollections per bin-week by at least 20% without more overflowing bins."
    ),
    assigned_by="route",
    treated=TREATED,
    control=CONTROL,
    start=date(2026, 3, 30),
    pre=(date(2026, 1, 5), date(2026, 3, 29)),
    post=(date(2026, 3, 30), date(2026, 7, 5)),
    metrics=(
        MetricChoice("collections_per_bin_week", "primary"),
        MetricChoice("fill_at_collection", "secondary"),
        MetricChoice("overflow_per_1000_bin_days", "guardrail", 15.0),
    ),
    planned_method="randomized",
    options='design = "cluster"',
    robustness=("did",),
    mde=0.2,
)


# --- TOML writer -------------------------------------------------------------------------------

keys = st.text(max_size=6)
scalars = st.one_of(
    st.text(max_size=12),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.booleans(),
    st.dates(),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(keys, values, max_size=5))
@example({"0\n": [], "a.b": {"c d": [{"e": 1}]}})  # a key that only looks bare; dotted keys
def test_tomllib_reads_back_whatever_the_writer_wrote(data: dict[str, Any]) -> None:
    assert tomllib.loads(render_toml(data)) == data


@pytest.mark.parametrize("path", TRIALS, ids=lambda p: p.stem)
def test_every_demo_spec_survives_a_round_trip(path: Path) -> None:
    data = tomllib.loads(path.read_text())
    assert tomllib.loads(render_toml(data)) == data
    spec, _ = load_spec(path)
    canonical = spec.to_dict()
    assert tomllib.loads(render_toml(canonical)) == canonical


def test_multiline_text_with_quotes_and_backslashes_round_trips() -> None:
    data = {"hypothesis": 'Cuts "overflow"\nby 20% \\ at least\n\n"""end"""', "x": "tab\tdel\x7f"}
    text = render_toml(data)
    assert text.startswith('hypothesis = """\n')
    assert tomllib.loads(text) == data


def test_long_lists_wrap_within_the_line_width() -> None:
    days = [f"2026-06-{day:02d}" for day in range(1, 29)]
    text = render_toml({"arms": {"treated": days}})
    assert max(len(line) for line in text.splitlines()) <= 100
    assert tomllib.loads(text)["arms"]["treated"] == days


# --- form -> spec -------------------------------------------------------------------------------


def test_the_demo_trial_typed_into_the_form_has_the_demo_specs_hash() -> None:
    check = check_form(SMART_BINS_FORM)
    assert check.errors == {}
    assert tomllib.loads(check.text) == check.data
    demo, _ = load_spec(SMART_BINS_SPEC)
    assert check.spec is not None
    assert check.spec.content_hash() == demo.content_hash()
    assert parse_spec(tomllib.loads(check.text)) == demo


def test_a_staggered_form_writes_a_start_per_treated_name() -> None:
    form = replace(
        SMART_BINS_FORM,
        staggered=True,
        start=None,
        treated=("R02", "R03"),
        start_by_unit=(("R02", date(2026, 3, 30)), ("R03", date(2026, 4, 6))),
    )
    data = spec_data(form)
    assert data["treatment"] == {
        "start_by_unit": {"R02": date(2026, 3, 30), "R03": date(2026, 4, 6)}
    }
    assert "start_by_unit = { R02 = 2026-03-30, R03 = 2026-04-06 }" in render_toml(data)


def test_only_guardrails_carry_a_margin_and_unused_metrics_are_left_out() -> None:
    form = replace(
        SMART_BINS_FORM,
        metrics=(
            MetricChoice("collections_per_bin_week", "primary", margin=3.0),
            MetricChoice("fill_at_collection", ""),
            MetricChoice("overflow_per_1000_bin_days", "guardrail", 0.1, "relative"),
        ),
    )
    assert spec_data(form)["metrics"] == [
        {"name": "collections_per_bin_week", "role": "primary"},
        {
            "name": "overflow_per_1000_bin_days",
            "role": "guardrail",
            "margin": 0.1,
            "margin_type": "relative",
        },
    ]


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"id": "Smart Bins!"}, "id", "lowercase letters"),
        ({"title": " "}, "title", "required"),
        ({"control": ("R01", "R02")}, "arms.control", "both treated and control"),
        ({"treated": ()}, "arms.treated", "non-empty list"),
        ({"start": date(2026, 1, 1)}, "treatment.start", "must fall after windows.pre"),
        ({"start": None}, "treatment.start", "exactly one of start"),
        ({"post": (date(2026, 3, 1), date(2026, 7, 5))}, "windows.post", "not before post"),
        ({"pre": (date(2026, 1, 5), None)}, "windows.pre", "[first day, last day]"),
        (
            {"metrics": (MetricChoice("fill_at_collection", "secondary"),)},
            "metrics",
            "exactly one primary",
        ),
        (
            {
                "metrics": (
                    MetricChoice("collections_per_bin_week", "primary"),
                    MetricChoice("overflow_per_1000_bin_days", "guardrail"),
                )
            },
            "metrics.overflow_per_1000_bin_days",
            "positive non-inferiority margin",
        ),
        ({"planned_method": "magic"}, "planned_method", "'randomized'"),
        ({"options": "design = cluster"}, "analysis.options", "not valid"),
        ({"options": 'design = "clusters"'}, "analysis.options", "'cluster'"),
        ({"robustness": ("randomized",)}, "analysis.robustness", "already the planned method"),
        ({"adjust_for": ("public_holiday",)}, "analysis.adjust_for", "prepost"),
        ({"mde": None}, "mde", "between 0 and 10"),
        ({"alpha": 1.5}, "alpha", "between 0 and 1"),
        ({"multiple_testing": "bonferroni"}, "multiple_testing", "'holm'"),
        ({"assigned_by": "day"}, "arms.treated", "not a date"),
        ({"pilot": "parking"}, "pilot", "available pilots"),
    ],
)
def test_each_error_is_shown_at_the_field_it_names(
    change: dict[str, Any], field: str, says: str
) -> None:
    check = check_form(replace(SMART_BINS_FORM, **change))
    assert list(check.errors) == [field]
    assert says in check.errors[field]
    assert check.spec is None


def test_an_early_error_does_not_hide_later_ones() -> None:
    form = replace(
        SMART_BINS_FORM,
        id="",
        title="",
        hypothesis="",
        control=("R01", "R02"),
        mde=25.0,
    )
    errors = check_form(form).errors
    assert sorted(errors) == ["arms.control", "hypothesis", "id", "title"]
    # the arms error stops parse_spec before the mde is read; once fixed, the mde shows
    fixed = check_form(replace(form, control=CONTROL)).errors
    assert sorted(fixed) == ["hypothesis", "id", "mde", "title"]


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ("metrics[1].margin: a guardrail needs a positive margin", "metrics.b"),
        ("metrics[7].role: 'x' is not allowed", "metrics"),
        ("metrics[0].name (pilot smart_bins): 'x' is not allowed", "metrics.a"),
        ("treatment.start_by_unit.R02: 'x' is not a date", "treatment.start_by_unit"),
        ("treatment start 2026-01-01 must fall after windows.pre", "treatment.start"),
        ("trial 'x' is already registered with a different spec", "id"),
        ("unknown pilot 'p'; available pilots: smart_bins", "pilot"),
        ("unknown field(s) colour; allowed fields: id", GENERAL),
    ],
)
def test_error_field_reads_the_field_from_the_message(message: str, field: str) -> None:
    data = {"metrics": [{"name": "a"}, {"name": "b"}], "treatment": {"start": "2026-01-01"}}
    assert error_field(message, data) == field


def test_blank_fields_are_those_not_yet_filled_in() -> None:
    assert TrialForm().blank_fields() >= {"id", "title", "arms.treated", "windows.pre", "mde"}
    assert SMART_BINS_FORM.blank_fields() == set()


def test_names_split_on_commas_and_lines_and_days_also_on_spaces() -> None:
    assert split_names("Wing Kut Street, Luard Road\nJaffe Road\n\n") == (
        "Wing Kut Street",
        "Luard Road",
        "Jaffe Road",
    )
    assert split_names("2026-06-01 2026-06-02,\n2026-06-03", days=True) == (
        "2026-06-01",
        "2026-06-02",
        "2026-06-03",
    )


# --- registration -------------------------------------------------------------------------------


def test_registering_locks_the_spec_and_returns_its_hash(home: Path) -> None:
    registration, new = register_form(home, SMART_BINS_FORM)
    assert new
    check = check_form(SMART_BINS_FORM, home)
    assert check.spec is not None
    assert registration.spec_hash == check.spec.content_hash()
    assert check.registered_hash == registration.spec_hash
    store = TrialStore(home)
    assert store.get("smart-bins-2026").spec_hash == registration.spec_hash
    assert (home / "trials" / "smart-bins-2026" / "spec.toml").read_text() == check.text
    again, new_again = register_form(home, SMART_BINS_FORM)
    assert not new_again
    assert again == registration


def test_different_content_under_a_registered_id_is_refused(home: Path) -> None:
    first, _ = register_form(home, SMART_BINS_FORM)
    changed = replace(SMART_BINS_FORM, mde=0.1)
    check = check_form(changed, home)
    assert list(check.errors) == ["id"]
    assert "already registered with a different spec" in check.errors["id"]
    assert "choose a new id" in check.errors["id"]
    with pytest.raises(SpecError, match="already registered with a different spec"):
        register_form(home, changed)
    assert TrialStore(home).get("smart-bins-2026").spec_hash == first.spec_hash


def test_an_invalid_form_registers_nothing(home: Path) -> None:
    with pytest.raises(SpecError, match="at least one \\[\\[metrics\\]\\]"):
        register_form(home, replace(SMART_BINS_FORM, metrics=()))
    assert TrialStore(home).ids() == []


def test_a_pasted_spec_registers_as_written(home: Path) -> None:
    text = SMART_BINS_SPEC.read_text()
    registration, new = register_text(home, text)
    assert new
    assert registration.spec_hash == load_spec(SMART_BINS_SPEC)[0].content_hash()
    with pytest.raises(SpecError, match="not valid TOML"):
        register_text(home, "id = ")


# --- power and MDE ------------------------------------------------------------------------------


def small_history() -> History:
    """Four units in two routes over six weeks, values known by construction."""
    rng = np.random.default_rng(3)
    weeks = [
        date(2026, 1, 5 + 7 * k) if k < 4 else date(2026, 2, 2 + 7 * (k - 4)) for k in range(6)
    ]
    rows = [
        (unit, week, level + rng.normal())
        for unit, level in (("B1", 10.0), ("B2", 12.0), ("B3", 8.0), ("B4", 11.0))
        for week in weeks
    ]
    values = pl.DataFrame(
        rows, schema=["unit", "period_start", "value"], orient="row"
    ).with_columns(pl.col("period_start").dt.offset_by("1w").alias("period_end"))
    units = pl.DataFrame({"unit": ["B1", "B2", "B3", "B4"], "route": ["R1", "R1", "R2", "R2"]})
    return History("smart_bins", "/nowhere", units, {"collections_per_bin_week": values})


def test_baseline_summarises_the_history_before_the_start() -> None:
    history = small_history()
    values = history.values["collections_per_bin_week"]
    base = baseline(
        history, "collections_per_bin_week", before=date(2026, 2, 2), assigned_by="unit"
    )
    before = values.filter(pl.col("period_end") <= date(2026, 2, 2)).sort("unit", "period_start")
    assert (base.level, base.n_units, base.n_periods) == ("unit", 4, 4)
    assert base.mean == pytest.approx(before["value"].mean())
    assert base.sd == pytest.approx(np.std(before["value"].to_numpy(), ddof=1))
    pairs = [
        (series[1:], series[:-1])
        for series in (
            before.filter(pl.col("unit") == unit)["value"].to_numpy()
            for unit in ("B1", "B2", "B3", "B4")
        )
    ]
    current = np.concatenate([p[0] for p in pairs])
    previous = np.concatenate([p[1] for p in pairs])
    assert base.serial_correlation == pytest.approx(np.corrcoef(current, previous)[0, 1])


def test_baseline_averages_units_into_the_groups_that_were_randomised() -> None:
    history = small_history()
    base = baseline(history, "collections_per_bin_week", before=None, assigned_by="route")
    values = history.values["collections_per_bin_week"].join(history.units, on="unit")
    means = values.group_by("route", "period_start").agg(pl.col("value").mean())["value"]
    assert (base.level, base.n_units, base.n_periods) == ("route", 2, 6)
    assert base.sd == pytest.approx(np.std(means.to_numpy(), ddof=1))


@pytest.mark.parametrize(
    ("method", "switchback", "design"),
    [
        ("randomized", False, "individual"),
        ("did", False, "did"),
        ("randomized", True, "switchback"),
    ],
)
def test_power_numbers_are_evaluation_powers_own(
    method: str, switchback: bool, design: str
) -> None:
    base = baseline(small_history(), "collections_per_bin_week", before=None)
    assert power_design(method, switchback) == design
    check = power_check(
        base,
        design,
        n_treated=6,
        n_control=6,
        n_periods=13,
        n_pre=12,
        alpha=0.05,
        power=0.8,
        mde=0.2,
    )
    if design == "switchback":
        given_ = {"n_units": base.n_units, "n_periods": 12, "sd": base.sd}
    elif design == "did":
        given_ = {"n_units": 12, "n_periods": 13, "sd": base.residual_sd}
        given_ |= {"ar1": base.residual_correlation, "n_pre": 12}
    else:
        given_ = {"n_units": 12, "n_periods": 13, "sd": base.sd, "ar1": base.serial_correlation}
    expected = solve_design(design, mde=None, power=0.8, alpha=0.05, treated_share=0.5, **given_)
    assert check.mde_absolute == pytest.approx(expected.mde)
    assert check.mde_relative == pytest.approx(expected.mde / base.mean)
    at_mde = solve_design(design, mde=0.2 * base.mean, power=None, alpha=0.05, **given_)
    assert check.power_at_mde == pytest.approx(at_mde.power)


def test_power_at_the_mde_solved_for_is_the_target_power() -> None:
    base = baseline(small_history(), "collections_per_bin_week", before=None)
    first = power_check(
        base,
        "individual",
        n_treated=5,
        n_control=7,
        n_periods=8,
        n_pre=4,
        alpha=0.05,
        power=0.9,
        mde=None,
    )
    assert first.power_at_mde is None
    again = power_check(
        base,
        "individual",
        n_treated=5,
        n_control=7,
        n_periods=8,
        n_pre=4,
        alpha=0.05,
        power=0.9,
        mde=first.mde_relative,
    )
    assert again.power_at_mde == pytest.approx(0.9, abs=1e-6)


def test_arm_sizes_count_the_units_errors_cluster_on() -> None:
    history = small_history()
    by_route = replace(SMART_BINS_FORM, treated=("R1",), control=("R2",))
    assert arm_sizes(history, by_route) == ("route", 1, 1)
    singly = replace(by_route, cluster_by="unit")
    assert arm_sizes(history, singly) == ("unit", 2, 2)
    assert arm_sizes(None, singly) == ("unit", 1, 1)


def test_two_units_per_arm_still_get_an_answer() -> None:
    # With 2 degrees of freedom statsmodels' power turns NaN for large effects; the solver
    # falls back to scipy's noncentral t there and still finds the MDE.
    base = baseline(small_history(), "collections_per_bin_week", before=None)
    check = power_check(
        base,
        "individual",
        n_treated=2,
        n_control=2,
        n_periods=30,
        n_pre=8,
        alpha=0.05,
        power=0.8,
        mde=0.05,
    )
    assert check.mde_absolute > 0
    again = solve_design(**check.inputs, mde=check.mde_absolute, power=None)
    assert again.power == pytest.approx(0.8, abs=1e-6)


@pytest.mark.parametrize(
    ("first", "last", "grain", "count"),
    [
        (date(2026, 3, 30), date(2026, 7, 5), "week", 14),
        (date(2026, 4, 1), date(2026, 4, 6), "week", 2),
        (date(2026, 6, 1), date(2026, 8, 23), "day", 84),
        (date(2025, 9, 1), date(2026, 5, 3), "month", 9),
    ],
)
def test_count_periods(first: date, last: date, grain: str, count: int) -> None:
    assert count_periods(first, last, grain) == count


def test_history_from_simulated_data_lists_routes_and_feeds_the_baseline(
    smart_bins_data: Path,
) -> None:
    history = read_history("smart_bins", smart_bins_data)
    attributes = history.attributes()
    assert next(iter(attributes)) == "unit"
    assert attributes["route"] == sorted(TREATED + CONTROL)
    assert "lat" not in attributes
    base = baseline(
        history, "collections_per_bin_week", before=date(2026, 3, 30), assigned_by="route"
    )
    assert (base.level, base.n_units, base.n_periods) == ("route", 12, 12)
    assert base.last_period < date(2026, 3, 30)
    assert base.mean > 0


def test_a_missing_data_folder_says_what_to_name(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such folder"):
        read_history("smart_bins", tmp_path / "absent")
