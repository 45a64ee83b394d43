"""The tabular pilot: any CSV, Parquet or SQLite table, declared in the spec, no Python needed."""

from __future__ import annotations

import sqlite3
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from experiments.spec import load_spec, parse_spec, trial_pilot
from livinglab.errors import DataError, SpecError
from pilots.contract import Observations
from pilots.csv_reading import BLANK
from pilots.tabular import configure
from tests.cli_helpers import run_json
from tests.conftest import PROJECT

SPEC = PROJECT / "experiments" / "trials" / "tabular.toml"
HKT = ZoneInfo("Asia/Hong_Kong")
HEADER = "gantry,corridor,passed_at,vehicles,toll_hkd,plate"
# One scenario per line; line numbers count the header as line 1.
LINES = [
    "G1,Central,2026-03-02 08:00:00,120,240,AB1234",  # 2: naive time, read as Hong Kong time
    "G1,Central,2026-03-02T01:00:00Z,80,160,XY88",  # 3: UTC offset, converted
    "G2,Wan Chai,2026-03-02T09:00:00+08:00,95,,KT9021",  # 4: empty toll = missing, not zero
    "G2,Wan Chai,2026-03-02 10:00,lots,0,LM555",  # 5: vehicles not a number
    ",Wan Chai,2026-03-02 11:00,10,20,LM555",  # 6: no unit
    "G2,Wan Chai,02/03/2026 12:00,10,20,LM555",  # 7: not ISO-8601
    'G2,Wan Chai,2026-03-02 13:00,"5,0",AB1234',  # 8: a field too few once the quotes join
]


def data_table(**overrides: Any) -> dict[str, Any]:
    table = {
        "file": "crossings.csv",
        "unit": "gantry",
        "time": "passed_at",
        "attributes": ["corridor"],
        "expected_per_day": {"vehicles": 24},
        "metrics": [
            {
                "name": "vehicles_per_day",
                "label": "Vehicles per gantry-day",
                "field": "vehicles",
                "aggregation": "sum",
                "time_grain": "day",
                "direction": "lower_is_better",
                "unit": "vehicles",
            },
            {
                "name": "toll_per_vehicle",
                "label": "Toll per vehicle",
                "field": "toll_hkd",
                "aggregation": "ratio",
                "exposure_field": "vehicles",
                "time_grain": "day",
                "direction": "higher_is_better",
                "unit": "HK$ per vehicle",
            },
        ],
    }
    return table | overrides


def load(directory: Path, **overrides: Any) -> Observations:
    return configure(data_table(**overrides)).adapter(directory)


def write_csv(directory: Path, lines: list[str] = LINES) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "crossings.csv").write_text("\n".join([HEADER, *lines]) + "\n")
    return directory


def rows(obs: Observations) -> list[tuple[Any, ...]]:
    return obs.table.collect().sort("unit", "timestamp", "field").rows()


EXPECTED_ROWS = [
    ("G1", datetime(2026, 3, 2, 8, tzinfo=HKT), "toll_hkd", 240.0),
    ("G1", datetime(2026, 3, 2, 8, tzinfo=HKT), "vehicles", 120.0),
    ("G1", datetime(2026, 3, 2, 9, tzinfo=HKT), "toll_hkd", 160.0),
    ("G1", datetime(2026, 3, 2, 9, tzinfo=HKT), "vehicles", 80.0),
    ("G2", datetime(2026, 3, 2, 9, tzinfo=HKT), "vehicles", 95.0),
]


def test_a_csv_is_read_with_times_in_hong_kong_and_bad_rows_quarantined(tmp_path: Path) -> None:
    obs = load(write_csv(tmp_path))
    assert rows(obs) == EXPECTED_ROWS
    assert obs.quarantine.select("line", "reason").rows() == [
        (8, "expected 6 fields, found 5"),
        (5, "vehicles is not a number"),
        (6, "gantry is empty"),
        (
            7,
            "passed_at is not a time (ISO-8601, e.g. 2026-01-05 08:00:00 or "
            "2026-01-05T08:00+08:00)",
        ),
    ]
    health = obs.health()
    assert (health["rows_read"], health["rows_accepted"], health["rows_quarantined"]) == (7, 3, 4)
    assert obs.units.rows() == [("G1", "Central"), ("G2", "Wan Chai")]
    assert [(e.field, e.per_day) for e in obs.expected] == [("vehicles", 24.0)]


def test_undeclared_columns_never_enter_the_platform_not_even_the_quarantine(
    tmp_path: Path,
) -> None:
    obs = load(write_csv(tmp_path))
    everything = " ".join(
        [
            str(rows(obs)),
            str(obs.units.rows()),
            str(obs.quarantine.rows()),
        ]
    )
    for plate in ("AB1234", "XY88", "KT9021", "LM555"):
        assert plate not in everything


def test_parquet_and_sqlite_tables_give_the_same_observations(tmp_path: Path) -> None:
    good = LINES[:3]
    frame = pl.read_csv(write_csv(tmp_path / "csv", good) / "crossings.csv", infer_schema=False)
    frame.write_parquet(tmp_path / "crossings.parquet")
    with sqlite3.connect(tmp_path / "crossings.db") as connection:
        connection.execute(f"CREATE TABLE crossings ({', '.join(frame.columns)})")
        connection.executemany(
            "INSERT INTO crossings VALUES (?, ?, ?, ?, ?, ?)",
            [tuple(None if v == "" else v for v in row) for row in frame.rows()],
        )
    from_parquet = load(tmp_path, file="crossings.parquet")
    from_sqlite = load(tmp_path, file="crossings.db", table="crossings")
    assert rows(from_parquet) == rows(from_sqlite) == EXPECTED_ROWS
    assert from_sqlite.health()["rows_read"] == 3


def test_a_missing_file_table_or_column_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"crossings\.csv: file not found"):
        load(tmp_path)
    sqlite3.connect(tmp_path / "empty.db").close()
    with pytest.raises(DataError, match=r"cannot read table 'crossings'"):
        load(tmp_path, file="empty.db", table="crossings")
    (tmp_path / "crossings.csv").write_text("gantry,passed_at\nG1,2026-03-02 08:00\n")
    with pytest.raises(DataError, match=r"missing column\(s\) corridor, vehicles, toll_hkd"):
        load(tmp_path)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"file": "crossings.xlsx"}, r"data.file: 'crossings.xlsx' is not a .csv, .parquet"),
        ({"table": "x"}, r"data.table: only a database file has tables"),
        ({"file": "c.db"}, r"data.table: required for a database file"),
        ({"timezone": "Hong Kong"}, r"data.timezone: 'Hong Kong' is not an IANA time zone"),
        ({"unit": ""}, r"data.unit: required"),
        ({"colour": "red"}, r"data: unknown field\(s\) colour; allowed: file"),
        ({"metrics": []}, r"data.metrics: required, at least one"),
    ],
)
def test_a_bad_data_table_names_the_field(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        configure(data_table(**overrides))


def test_a_bad_metric_declaration_names_the_metric_and_what_is_allowed() -> None:
    metric = data_table()["metrics"][0] | {"aggregation": "median"}
    with pytest.raises(SpecError, match=r"data.metrics\[0\]: .*aggregation.*'median'.*count"):
        configure(data_table(metrics=[metric]))
    ratio = data_table()["metrics"][1] | {"exposure_field": None}
    with pytest.raises(SpecError, match=r"data.metrics\[0\]: .*exposure_field is required"):
        configure(data_table(metrics=[{k: v for k, v in ratio.items() if v is not None}]))


def test_the_spec_declares_the_data_and_only_a_configurable_pilot_takes_it() -> None:
    spec, _ = load_spec(SPEC)
    pilot = trial_pilot(spec)
    assert [m.name for m in pilot.metrics] == ["occupied_minutes", "revenue_per_meter_week"]
    assert parse_spec(spec.to_dict()) == spec
    data = tomllib.loads(SPEC.read_text())
    with pytest.raises(SpecError, match=r"metrics\[0\].name \(pilot tabular\)"):
        parse_spec(data | {"metrics": [{"name": "speed", "role": "primary"}]})
    bins = tomllib.loads((PROJECT / "experiments" / "trials" / "smart_bins.toml").read_text())
    with pytest.raises(SpecError, match=r"pilot 'smart_bins' reads its own files"):
        parse_spec(bins | {"data": data["data"]})


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    garbage=st.lists(
        st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40), max_size=8
    ),
    positions=st.lists(st.integers(0, len(LINES)), min_size=8, max_size=8),
)
# A unit separator alone is whitespace to Python but not to polars: it is a row, not blank.
@example(garbage=["\x1f"], positions=[0] * 8)
def test_arbitrary_lines_never_crash_the_adapter_and_counts_add_up(
    tmp_path: Path, garbage: list[str], positions: list[int]
) -> None:
    lines = list(LINES)
    for text, position in zip(garbage, positions, strict=False):
        lines.insert(position, text.replace("\n", " ").replace("\r", " "))
    obs = load(write_csv(tmp_path / "fuzz", lines))
    health = obs.health()
    assert health["rows_read"] == health["rows_accepted"] + health["rows_quarantined"]
    assert health["rows_quarantined"] == obs.quarantine.height
    assert health["rows_read"] == sum(1 for line in lines if line.strip(BLANK))


@pytest.mark.parametrize(("seed", "effect"), [(1, -0.1), (2, -0.1), (3, 0.0)])
def test_simulate_then_evaluate_recovers_the_example_effect(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], seed: int, effect: float
) -> None:
    data = tmp_path / "meters"
    truth = run_json(
        capsys, "simulate", "tabular", "--out", str(data), "--seed", str(seed),
        "--effect", str(effect),
    )  # fmt: skip
    report = run_json(capsys, "evaluate", str(SPEC), "--data", str(data), "--format", "json")
    primary = report["results"][0]
    injected = truth["metrics"]["occupied_minutes"]["effect"]
    assert primary["metric"] == "occupied_minutes"
    assert primary["ci_low"] <= injected <= primary["ci_high"]
    if effect:
        assert primary["p_value"] < 0.05  # 10% fewer occupied minutes on 24 meters is clear
    health = report["data_health"]
    assert health["rows_read"] == health["rows_accepted"] + health["rows_quarantined"] > 0
    assert health["coverage"][0]["feed"] == "occupied_minutes"
