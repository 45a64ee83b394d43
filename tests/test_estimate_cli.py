"""``livinglab estimate``: any CSV or Parquet table, published numbers, one-line errors."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from experiments.cli import main

MPDTA_ARGS = [
    "--outcome",
    "lemp",
    "--time",
    "year",
    "--unit",
    "countyreal",
    "--cohort",
    "first.treat",
]


@pytest.fixture(scope="module")
def mpdta(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Callaway & Sant'Anna's county panel, as shipped in moderndid 0.2.0."""
    from moderndid import load_mpdta

    path = tmp_path_factory.mktemp("mpdta") / "mpdta.csv"
    load_mpdta().write_csv(path)
    return path


@pytest.fixture(scope="module")
def banks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Mississippi banks in business on 1 July 1930 and 1931 (causalpy 0.9.0's banks.csv)."""
    package = importlib.util.find_spec("causalpy")
    assert package is not None
    assert package.submodule_search_locations
    raw = pl.read_csv(Path(package.submodule_search_locations[0]) / "data" / "banks.csv")
    july = raw.filter(pl.col("month") == 7, pl.col("day") == 1, pl.col("year").is_in([1930, 1931]))
    long = pl.concat(
        [
            july.select(
                "year",
                pl.lit("6th").alias("district"),
                pl.col("bib6").alias("banks"),
                pl.lit(1).alias("atlanta_fed"),
            ),
            july.select(
                "year",
                pl.lit("8th").alias("district"),
                pl.col("bib8").alias("banks"),
                pl.lit(0).alias("atlanta_fed"),
            ),
        ]
    )
    path = tmp_path_factory.mktemp("banks") / "banks.parquet"
    long.write_parquet(path)
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert main(["estimate", *argv]) == 0
    return json.loads(capsys.readouterr().out)


def test_staggered_reproduces_r_did_on_mpdta(mpdta: Path, capsys: pytest.CaptureFixture[str]):
    # R did README (bcallaway11/did): ATT(2004,2006) = -0.1373, dynamic -0.0772, group -0.0310;
    # aggte(type = "simple") reference page: -0.0400.
    result = run(capsys, str(mpdta), "--method", "staggered", *MPDTA_ARGS)
    assert result["effect"] == pytest.approx(-0.0400, abs=5e-5)
    cells = {(row["group"], row["time"]): row["att"] for row in result["details"]["att_gt"]}
    assert len(cells) == 12
    assert cells[("2004", "2006")] == pytest.approx(-0.1373, abs=5e-5)
    aggregations = result["details"]["aggregations"]
    assert aggregations["dynamic"]["effect"] == pytest.approx(-0.0772, abs=5e-5)
    assert aggregations["group"]["effect"] == pytest.approx(-0.0310, abs=5e-5)
    assert set(result) >= {
        "method",
        "estimand",
        "effect",
        "se",
        "ci_low",
        "ci_high",
        "p_value",
        "n_obs",
        "n_units",
        "n_treated",
        "status",
        "message",
        "details",
    }
    assert (result["n_obs"], result["n_units"], result["n_treated"]) == (2500, 500, 191)


def test_not_yet_treated_controls_are_an_option(mpdta: Path, capsys):
    never = run(capsys, str(mpdta), "--method", "staggered", *MPDTA_ARGS)
    notyet = run(
        capsys, str(mpdta), "--method", "staggered", *MPDTA_ARGS, "--control-group", "notyet"
    )
    assert notyet["details"]["control_group"] == "notyet"
    assert notyet["effect"] != never["effect"]


def test_twfe_with_cohorts_and_its_warning(mpdta: Path, capsys) -> None:
    result = run(capsys, str(mpdta), "--method", "did", *MPDTA_ARGS)
    assert result["details"]["model"] == "twfe"
    assert any("Goodman-Bacon" in w for w in result["warnings"])
    assert result["ci_low"] <= result["effect"] <= result["ci_high"]


def test_event_study_reports_event_time_coefficients(mpdta: Path, capsys) -> None:
    result = run(capsys, str(mpdta), "--method", "event_study", *MPDTA_ARGS)
    times = [row["event_time"] for row in result["details"]["event_times"]]
    assert -1 in times
    assert result["details"]["pre_trend_test"]["df_num"] >= 1


def test_mississippi_banks_difference_in_differences_is_19(banks: Path, capsys) -> None:
    # Angrist & Pischke, Mastering 'Metrics, ch. 5: (121 - 135) - (132 - 165) = 19 banks.
    result = run(
        capsys,
        str(banks),
        "--method",
        "did",
        "--outcome",
        "banks",
        "--time",
        "year",
        "--unit",
        "district",
        "--treated",
        "atlanta_fed",
        "--treatment-start",
        "1931",
    )
    assert result["effect"] == pytest.approx(19.0)
    assert result["status"] == "point_only"
    assert "only 1 treated cluster" in result["message"]


def test_pooled_cross_section_without_units(tmp_path: Path, capsys) -> None:
    rows = [
        {
            "y": 10.0 + 2 * t + 3 * p + (4 if t and p else 0) + 0.1 * i,
            "t": t,
            "p": p,
            "city": f"c{i % 40}",
        }
        for i in range(400)
        for t, p in [((i // 2) % 2, i % 2)]
    ]
    path = tmp_path / "survey.csv"
    pl.DataFrame(rows).write_csv(path)
    result = run(
        capsys,
        str(path),
        "--method",
        "did",
        "--outcome",
        "y",
        "--treated",
        "t",
        "--post",
        "p",
        "--cluster",
        "city",
    )
    assert result["effect"] == pytest.approx(4.0, abs=0.2)
    assert result["n_units"] == 400


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["--method", "did", "--outcome", "nope", "--time", "year", "--cohort", "first.treat"],
            "no column 'nope'; the columns are year, countyreal",
        ),
        (
            [
                "--method",
                "did",
                "--outcome",
                "countyreal",
                "--time",
                "year",
                "--treated",
                "lpop",
                "--post",
                "treat",
            ],
            "column 'lpop' must hold 0 or 1",
        ),
        (
            ["--method", "prepost", "--outcome", "lemp", "--treated", "treat"],
            "method 'prepost' needs a time column",
        ),
        (
            [
                "--method",
                "did",
                "--outcome",
                "lemp",
                "--time",
                "year",
                "--treated",
                "treat",
                "--treatment-start",
                "2003",
            ],
            "no pre-period",
        ),
        (
            [
                "--method",
                "staggered",
                "--outcome",
                "lemp",
                "--time",
                "year",
                "--cohort",
                "first.treat",
                "--control-group",
                "sometimes",
            ],
            "invalid choice: 'sometimes'",
        ),
        (
            [
                "--method",
                "did",
                "--outcome",
                "lemp",
                "--time",
                "year",
                "--cohort",
                "first.treat",
                "--control-group",
                "notyet",
            ],
            "--control-group applies only to --method staggered",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(
    mpdta: Path, argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        code = main(["estimate", str(mpdta), *argv])
    except SystemExit as exit_:
        code = exit_.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert expected in err


def test_non_numeric_outcome_names_the_line(tmp_path: Path, capsys) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("y,g,t\n1.0,1,0\n2.0,0,0\noops,1,1\n4.0,0,1\n")
    assert (
        main(
            [
                "estimate",
                str(path),
                "--method",
                "did",
                "--outcome",
                "y",
                "--treated",
                "g",
                "--post",
                "t",
            ]
        )
        == 2
    )
    assert "bad.csv, line 4: column 'y' must be numeric; found 'oops'" in capsys.readouterr().err


def test_unreadable_and_missing_files(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "absent.csv"
    assert (
        main(["estimate", str(missing), "--method", "did", "--outcome", "y", "--treated", "g"]) == 2
    )
    assert "absent.csv: file not found" in capsys.readouterr().err
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet at all")
    assert (
        main(["estimate", str(broken), "--method", "did", "--outcome", "y", "--treated", "g"]) == 2
    )
    assert "broken.parquet: cannot be read as parquet" in capsys.readouterr().err


@pytest.fixture(scope="module")
def one_treated_area(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One treated area and 20 donors over 40 weeks; the area is a mix of donors 0 and 1."""
    import numpy as np

    rng = np.random.default_rng(3)
    weeks, donors = 40, 20
    base = rng.normal(50, 5, donors)[:, None] + np.cumsum(rng.normal(0, 1, (donors, weeks)), 1)
    treated = 0.6 * base[0] + 0.4 * base[1] + np.r_[np.zeros(30), np.full(10, 3.0)]
    rows = [
        {"area": f"d{i:02d}", "week": w, "speed": float(base[i, w]), "start": 0}
        for i in range(donors)
        for w in range(weeks)
    ]
    rows += [
        {"area": "kowloon_east", "week": w, "speed": float(treated[w]), "start": 30}
        for w in range(weeks)
    ]
    path = tmp_path_factory.mktemp("ke") / "speeds.csv"
    pl.DataFrame(rows).write_csv(path)
    return path


AREA_ARGS = ["--outcome", "speed", "--time", "week", "--unit", "area", "--cohort", "start"]


def test_synth_reports_weights_and_pre_period_fit(one_treated_area: Path, capsys) -> None:
    result = run(capsys, str(one_treated_area), "--method", "synth", *AREA_ARGS)
    weights = result["details"]["weights"]
    assert weights["d00"] == pytest.approx(0.6, abs=0.05)
    assert weights["d01"] == pytest.approx(0.4, abs=0.05)
    assert result["details"]["pre_rmspe"] < 0.5
    assert result["effect"] == pytest.approx(3.0, abs=0.5)


def test_bsts_reports_the_pointwise_series(one_treated_area: Path, capsys) -> None:
    result = run(capsys, str(one_treated_area), "--method", "bsts", *AREA_ARGS)
    series = result["details"]["series"]
    assert len(series["pointwise_effect"]) == 40
    assert result["ci_low"] <= result["effect"] <= result["ci_high"]
