"""The spec's ``[analysis]`` table and switchback schedules: validation, canonical form and hash."""

from __future__ import annotations

import hashlib
import json
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments.spec import AnalysisPlan, TrialSpec, load_spec, parse_spec
from livinglab.errors import SpecError
from tests.conftest import SMART_BINS_SPEC

PROPERTY = settings(max_examples=25, deadline=None)
BASE = SMART_BINS_SPEC.read_text(encoding="utf-8")
ANALYSIS_BLOCK = """[analysis]
options = { design = "cluster" }
robustness = ["did"]
"""
ARMS_BLOCK = """[arms]
assigned_by = "route"
treated = ["R02", "R03", "R05", "R08", "R10", "R11"]
control = ["R01", "R04", "R06", "R07", "R09", "R12"]
"""
WITHOUT_ANALYSIS = BASE.replace(ANALYSIS_BLOCK, "")


def spec_from(text: str, analysis: str | None = None, arms: str | None = None) -> TrialSpec:
    """Parse ``text`` with its ``[analysis]`` and ``[arms]`` tables replaced when given."""
    return parse_spec(tomllib.loads(replaced(text, analysis, arms)))


def replaced(text: str, analysis: str | None = None, arms: str | None = None) -> str:
    if analysis is not None:
        # In place where the demo has its table; otherwise appended as a new table at the end.
        text = (
            text.replace(ANALYSIS_BLOCK, analysis)
            if ANALYSIS_BLOCK in text
            else f"{text}\n{analysis}"
        )
    if arms is not None:
        if ARMS_BLOCK not in text:
            raise ValueError("smart_bins.toml no longer has the [arms] table these tests rewrite")
        text = text.replace(ARMS_BLOCK, arms)
    return text


def error(text: str, analysis: str | None = None, arms: str | None = None) -> str:
    with pytest.raises(SpecError) as caught:
        spec_from(text, analysis, arms)
    return str(caught.value)


def switchback_arms(treated: list[str], control: list[str]) -> str:
    return (
        '[arms]\nassigned_by = "day"\n'
        f"treated = {json.dumps(treated)}\ncontrol = {json.dumps(control)}\n"
    )


SWITCHBACK_ANALYSIS = '[analysis]\noptions = { design = "switchback", washout = 1 }\n'
SWITCHBACK = replaced(
    BASE,
    SWITCHBACK_ANALYSIS,
    switchback_arms(["2026-03-30", "2026-04-01", "2026-07-05"], ["2026-03-31", "2026-04-02"]),
)


def test_the_demo_spec_has_the_tables_these_tests_rewrite() -> None:
    assert ANALYSIS_BLOCK in BASE
    assert ARMS_BLOCK in BASE
    assert "[analysis]" not in WITHOUT_ANALYSIS


# --- The [analysis] table -----------------------------------------------------------------------


def test_the_demo_spec_plans_a_cluster_design_with_a_did_check() -> None:
    spec = spec_from(BASE)
    assert spec.analysis == AnalysisPlan(options=(("design", "cluster"),), robustness=("did",))
    assert spec.to_dict()["analysis"] == {"options": {"design": "cluster"}, "robustness": ["did"]}
    assert spec.switchback is False


def test_a_spec_without_analysis_has_the_empty_plan() -> None:
    spec = spec_from(WITHOUT_ANALYSIS)
    assert spec.analysis == AnalysisPlan()
    assert spec.analysis.to_dict() == {}
    assert "analysis" not in spec.to_dict()


def test_calendar_exclusions_and_staggered_options_are_accepted() -> None:
    spec = spec_from(
        BASE.replace('planned_method = "randomized"', 'planned_method = "staggered"'),
        '[analysis]\noptions = { control_group = "notyet", bootstrap = true }\n'
        'robustness = ["did", "event_study"]\n'
        'exclude_days = ["severe_weather", "public_holiday"]\n',
    )
    # Options are kept sorted by name, so the order they were written in does not matter.
    assert spec.analysis.options == (("bootstrap", True), ("control_group", "notyet"))
    assert spec.analysis.robustness == ("did", "event_study")
    assert spec.analysis.exclude_days == ("severe_weather", "public_holiday")


RANDOMIZED_OPTIONS = (
    "design, adjustment, randomization_inference, n_permutations, washout, exposure"
)


@pytest.mark.parametrize(
    ("analysis", "expected"),
    [
        (
            "[analysis]\noptions = { colour = 'blue' }\n",
            f"analysis.options: method 'randomized' has no option colour; its options are: "
            f"{RANDOMIZED_OPTIONS}",
        ),
        (
            "[analysis]\noptions = { size = 1, colour = 'blue' }\n",
            "method 'randomized' has no option colour, size;",
        ),
        (
            "[analysis]\noptions = { design = 'magic' }\n",
            "analysis.options: design: 'magic' is not allowed; use one of 'individual', "
            "'cluster', 'switchback'",
        ),
        (
            "[analysis]\noptions = { design = 'cluster', washout = 2 }\n",
            "analysis.options: washout: 2 applies only to design 'switchback', not 'cluster'",
        ),
        (
            "[analysis]\noptions = { n_permutations = 'many' }\n",
            "analysis.options: method 'randomized': invalid option value",
        ),
        (
            "[analysis]\noptions = 'cluster'\n",
            "analysis.options: a table of option = value for the planned method",
        ),
        (
            "[analysis]\nrobustness = ['magic']\n",
            # The list goes on with the remaining methods (their order is the registry's).
            "analysis.robustness: 'magic' is not allowed; use one of 'prepost', 'did', "
            "'event_study', 'staggered', 'synth', ",
        ),
        (
            "[analysis]\nrobustness = ['did', 'randomized']\n",
            "analysis.robustness: 'randomized' is already the planned method",
        ),
        (
            "[analysis]\nrobustness = ['did', 'did']\n",
            "analysis.robustness: lists a name more than once",
        ),
        (
            "[analysis]\nrobustness = 'did'\n",
            "analysis.robustness: a list of names (a list of other methods to run on the "
            "primary metric)",
        ),
        (
            "[analysis]\nexclude_days = ['typhoon']\n",
            "analysis.exclude_days: 'typhoon' is not allowed; use one of 'public_holiday', "
            "'severe_weather'",
        ),
        (
            "[analysis]\nexclude_days = ['severe_weather', 'severe_weather']\n",
            "analysis.exclude_days: lists a name more than once",
        ),
        (
            "[analysis]\nweights = 1\ncolour = 'blue'\n",
            "analysis: unknown field(s) colour, weights; allowed: options (a table of options "
            "for the planned method); robustness (a list of other methods to run on the primary "
            "metric); exclude_days (a list of calendar days to leave out: public_holiday, "
            "severe_weather)",
        ),
        ("analysis = 'cluster'\n", "analysis: a table with options, robustness, exclude_days"),
    ],
)
def test_invalid_analysis_names_the_field_and_what_is_allowed(analysis: str, expected: str) -> None:
    assert expected in error(BASE, analysis)


def test_options_are_checked_against_the_planned_method() -> None:
    did = BASE.replace('planned_method = "randomized"', 'planned_method = "did"')
    # The demo's design = "cluster" is a randomized option, not a did one.
    assert (
        "analysis.options: method 'did' has no option design; its options are: model, se, "
        "bootstrap_draws" in error(did)
    )
    spec = spec_from(did, '[analysis]\noptions = { model = "twfe" }\nrobustness = ["randomized"]\n')
    assert spec.analysis.options == (("model", "twfe"),)
    assert spec.analysis.robustness == ("randomized",)
    assert "analysis.robustness: 'did' is already the planned method" in error(
        did, '[analysis]\nrobustness = ["did"]\n'
    )


@pytest.mark.parametrize("option", ["seed = 3", "alpha = 0.1"])
def test_alpha_and_seed_are_not_analysis_options(option: str) -> None:
    """alpha is the spec's own field and seed is given per analysis run, never by [analysis]."""
    name = option.split(" ")[0]
    with pytest.raises(SpecError, match=f"analysis.options: {name} cannot be set here"):
        spec_from(BASE, f"[analysis]\noptions = {{ {option} }}\n")


def test_a_spec_file_error_in_analysis_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "trial.toml"
    path.write_text(replaced(BASE, "[analysis]\nexclude_days = ['rain']\n"), encoding="utf-8")
    with pytest.raises(SpecError, match=r"trial\.toml: analysis\.exclude_days: 'rain'"):
        load_spec(path)


# --- Switchback schedules -----------------------------------------------------------------------


def test_a_day_schedule_makes_a_switchback_spec() -> None:
    spec = spec_from(SWITCHBACK)
    assert spec.switchback is True
    assert spec.assigned_by == "day"
    assert spec.treated == ("2026-03-30", "2026-04-01", "2026-07-05")
    assert spec.control == ("2026-03-31", "2026-04-02")
    assert spec.common_start() == date(2026, 3, 30)
    assert spec.analysis.options == (("design", "switchback"), ("washout", 1))


@pytest.mark.parametrize(
    ("treated", "control", "expected"),
    [
        (
            ["2026-03-29", "2026-04-01"],
            ["2026-03-31"],
            # The day before treatment.start (30 March) is not in the schedule's range.
            "arms.treated: service day 2026-03-29 is outside the switchback, which runs from "
            "treatment.start 2026-03-30 to the end of windows.post 2026-07-05",
        ),
        (
            ["2026-04-01"],
            ["2026-03-31", "2026-07-06"],
            "arms.control: service day 2026-07-06 is outside the switchback",
        ),
        (["R02"], ["2026-03-31"], "arms.treated: 'R02' is not a date; write YYYY-MM-DD"),
        (["2026-04-31"], ["2026-03-31"], "arms.treated: '2026-04-31' is not a date"),
        (
            ["2026-04-01"],
            ["2026-04-01"],
            "arms: 2026-04-01 are listed as both treated and control",
        ),
    ],
)
def test_service_days_must_be_dates_from_the_start_to_the_end_of_the_post_window(
    treated: list[str], control: list[str], expected: str
) -> None:
    assert expected in error(BASE, SWITCHBACK_ANALYSIS, switchback_arms(treated, control))


def test_a_later_treatment_start_moves_the_first_allowed_service_day() -> None:
    later = SWITCHBACK.replace("start = 2026-03-30", "start = 2026-04-01")
    # 30 March is in windows.post but before the schedule's first day, 1 April.
    assert (
        "arms.treated: service day 2026-03-30 is outside the switchback, which runs from "
        "treatment.start 2026-04-01 to the end of windows.post 2026-07-05" in error(later)
    )


def test_a_switchback_cannot_start_by_unit() -> None:
    text = SWITCHBACK.replace(
        "start = 2026-03-30",
        "start_by_unit = { '2026-03-30' = 2026-03-30, '2026-04-01' = 2026-03-30, "
        "'2026-07-05' = 2026-03-30 }",
    )
    assert (
        'treatment.start: a switchback (arms.assigned_by = "day") needs the first day of the '
        "schedule as treatment.start, not start_by_unit" in error(text)
    )


def test_a_service_day_cannot_be_in_both_arms_under_another_spelling() -> None:
    """``date.fromisoformat`` also reads ISO basic (``20260401``) and week dates (``2026-W14-4``,
    Thursday 2 April): a service day must be written one way only, or it could sit in both arms.
    """
    arms = switchback_arms(["2026-04-01", "2026-04-03"], ["20260401", "2026-W14-4"])
    with pytest.raises(SpecError, match=r"arms\.control: '20260401' is not written YYYY-MM-DD"):
        spec_from(BASE, SWITCHBACK_ANALYSIS, arms)


# --- Canonical form and content hash ------------------------------------------------------------


def pre_feature_canonical() -> dict[str, Any]:
    """The demo spec without [analysis] in the canonical form specs had before the feature."""
    return {
        "id": "smart-bins-2026",
        "pilot": "smart_bins",
        "title": "Sensor-driven collection of street litter bins",
        "owner": "Smart bins pilot team",
        "hypothesis": (
            "Emptying street bins when their fill sensors say they need it, instead of on a "
            "fixed rota, cuts\ncollections per bin-week by at least 20% without more "
            "overflowing bins."
        ),
        "planned_method": "randomized",
        "mde": 0.2,
        "alpha": 0.05,
        "power": 0.8,
        "multiple_testing": "holm",
        "arms": {
            "assigned_by": "route",
            "treated": ["R02", "R03", "R05", "R08", "R10", "R11"],
            "control": ["R01", "R04", "R06", "R07", "R09", "R12"],
        },
        "treatment": {"start": "2026-03-30"},
        "windows": {"pre": ["2026-01-05", "2026-03-29"], "post": ["2026-03-30", "2026-07-05"]},
        "metrics": [
            {"name": "collections_per_bin_week", "role": "primary"},
            {"name": "fill_at_collection", "role": "secondary"},
            {
                "name": "overflow_per_1000_bin_days",
                "role": "guardrail",
                "margin": 15.0,
                "margin_type": "absolute",
            },
        ],
    }


def test_a_spec_without_analysis_keeps_its_pre_feature_hash() -> None:
    spec = spec_from(WITHOUT_ANALYSIS)
    assert spec.to_dict() == pre_feature_canonical()
    canonical = json.dumps(pre_feature_canonical(), sort_keys=True, separators=(",", ":"))
    assert spec.content_hash() == hashlib.sha256(canonical.encode()).hexdigest()
    # An empty [analysis] table is no analysis plan: same canonical form, same hash.
    assert spec_from(WITHOUT_ANALYSIS, "[analysis]\n").content_hash() == spec.content_hash()
    assert spec_from(WITHOUT_ANALYSIS, "[analysis]\noptions = {}\nrobustness = []\n") == spec


@pytest.mark.parametrize(
    "analysis",
    [
        ANALYSIS_BLOCK,
        "[analysis]\nexclude_days = ['public_holiday']\n",
        "[analysis]\nrobustness = ['did']\n",
        "[analysis]\noptions = { design = 'individual' }\n",
    ],
)
def test_a_non_empty_analysis_changes_the_hash(analysis: str) -> None:
    before = spec_from(WITHOUT_ANALYSIS)
    after = spec_from(WITHOUT_ANALYSIS, analysis)
    assert "analysis" in after.to_dict()
    assert after.content_hash() != before.content_hash()


def test_the_order_options_are_written_in_does_not_change_the_hash() -> None:
    one = spec_from(BASE, "[analysis]\noptions = { design = 'cluster', n_permutations = 500 }\n")
    two = spec_from(BASE, "[analysis]\noptions = { n_permutations = 500, design = 'cluster' }\n")
    assert one == two
    assert one.content_hash() == two.content_hash()


def test_a_switchback_spec_round_trips_through_its_canonical_form() -> None:
    spec = spec_from(SWITCHBACK)
    assert parse_spec(spec.to_dict()) == spec
    assert spec.to_dict()["arms"] == {
        "assigned_by": "day",
        "treated": ["2026-03-30", "2026-04-01", "2026-07-05"],
        "control": ["2026-03-31", "2026-04-02"],
    }


OTHER_METHODS = ["prepost", "did", "event_study", "staggered", "synth", "bsts"]
RANDOMIZED_CHOICES = {
    "design": st.sampled_from(["individual", "cluster"]),
    "adjustment": st.sampled_from(["none", "cuped"]),
    "randomization_inference": st.booleans(),
    "n_permutations": st.integers(1, 100_000),
}


@PROPERTY
@given(
    st.fixed_dictionaries({}, optional=RANDOMIZED_CHOICES),
    st.lists(st.sampled_from(OTHER_METHODS), unique=True, max_size=3),
    st.lists(st.sampled_from(["public_holiday", "severe_weather"]), unique=True),
)
def test_any_valid_analysis_round_trips_and_hashes_by_substance(
    options: dict[str, Any], robustness: list[str], exclude: list[str]
) -> None:
    data = tomllib.loads(WITHOUT_ANALYSIS)
    data["analysis"] = {"options": options, "robustness": robustness, "exclude_days": exclude}
    spec = parse_spec(data)
    assert parse_spec(spec.to_dict()) == spec
    assert parse_spec(spec.to_dict()).content_hash() == spec.content_hash()
    bare = parse_spec(tomllib.loads(WITHOUT_ANALYSIS))
    if options or robustness or exclude:
        assert spec.content_hash() != bare.content_hash()
    else:
        assert spec.content_hash() == bare.content_hash()


def test_service_days_may_be_written_as_toml_dates() -> None:
    arms = (
        '[arms]\nassigned_by = "day"\ntreated = [2026-03-30, 2026-04-01]\ncontrol = [2026-03-31]\n'
    )
    spec = spec_from(BASE, SWITCHBACK_ANALYSIS, arms)
    assert (spec.treated, spec.control) == (("2026-03-30", "2026-04-01"), ("2026-03-31",))
    assert spec.switchback
    assert parse_spec(spec.to_dict()) == spec


def test_cluster_by_names_the_level_units_were_assigned_at() -> None:
    data = tomllib.loads(BASE)
    data["arms"]["cluster_by"] = "unit"
    spec = parse_spec(data)
    assert spec.cluster_by == "unit"
    assert spec.to_dict()["arms"]["cluster_by"] == "unit"
    assert parse_spec(spec.to_dict()) == spec
    assert spec.content_hash() != parse_spec(tomllib.loads(BASE)).content_hash()
    data["arms"]["cluster_by"] = ""
    with pytest.raises(SpecError, match=r"arms\.cluster_by: the unit attribute"):
        parse_spec(data)


def test_unknown_arms_fields_are_named() -> None:
    data = tomllib.loads(BASE)
    data["arms"]["clusters"] = "unit"
    with pytest.raises(SpecError, match=r"arms: unknown field\(s\) clusters; allowed"):
        parse_spec(data)
