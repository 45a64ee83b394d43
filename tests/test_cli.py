"""The command line's error contract: exit code 2 and one clear line, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from experiments.cli import main
from tests.conftest import PROJECT, SMART_BINS_SPEC


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["simulate", "flying_cars", "--out", "x"], "unknown pilot 'flying_cars'; available"),
        (["register", "absent.toml"], "absent.toml: spec file not found"),
        (["evaluate", str(SMART_BINS_SPEC), "--data", "absent-dir"], "data directory not found"),
        (["simulate", "smart_bins", "--out", "x", "--effect", "-0.95"], "effect"),
    ],
)
def test_user_errors_exit_2_with_one_line(
    home: Path, argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert expected in one_error_line(capsys)


def test_a_missing_data_file_names_the_file(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bins.csv").write_text("bin,dev_id,route,district,lat,lon,capacity\n")
    assert main(["register", str(SMART_BINS_SPEC)]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(SMART_BINS_SPEC), "--data", str(tmp_path)]) == 2
    assert "readings.csv: file not found" in one_error_line(capsys)


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["evaluate"],
        ["simulate", "smart_bins"],
        ["evaluate", "s.toml", "--data", "d", "--format", "xml"],
    ],
)
def test_usage_errors_exit_2_with_one_line(argv: list[str], capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert one_error_line(capsys).startswith("error: ")


def test_the_installed_command_prints_no_traceback(home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('id = "x"\n')
    result = subprocess.run(
        [sys.executable, "-m", "experiments.cli", "register", str(bad)],
        capture_output=True,
        text=True,
        cwd=PROJECT,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
