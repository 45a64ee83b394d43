"""Helpers the pilots' tests share: the CLI run as a user runs it, one simulated data set per
test module, and damaged copies of golden files for the adapters' robustness properties."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, settings

from experiments.cli import main
from pilots.contract import Observations, Pilot

HKT = ZoneInfo("Asia/Hong_Kong")
# Each example reads a whole golden data set; the temporary directory is reused across examples.
FUZZ = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
Damage = tuple[str, str, float, bytes]  # file, kind (see ``damaged``), where (0 to 1), payload


def hkt(*args: int) -> datetime:
    """A Hong Kong time: ``hkt(2026, 5, 5, 8, 30)``."""
    return datetime(*args, tzinfo=HKT)


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    """Run the CLI, require success and return what it printed, as JSON."""
    assert main(list(argv)) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def simulate_and_evaluate(
    capsys: pytest.CaptureFixture[str], pilot: Pilot, data: Path, seed: int, *options: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Simulate ``pilot``'s raw files into ``data`` (``options`` such as ``--effect 0``) and
    evaluate its demo trial on them: ``truth.json`` and the JSON report."""
    truth = run_json(
        capsys, "simulate", pilot.id, "--out", str(data), "--seed", str(seed), *options
    )
    report = run_json(
        capsys, "evaluate", str(pilot.demo_spec), "--data", str(data), "--format", "json"
    )
    return truth, report


def simulation_fixtures(
    pilot: Pilot, *, seed: int, effect: float
) -> tuple[Callable[..., Path], Callable[..., dict[str, Any]], Callable[..., Observations]]:
    """Module-scoped ``data``, ``truth`` and ``observations`` fixtures: ``pilot``'s data set
    simulated once per test module and read back through its adapter.

    Assign them in the test module, ``data, truth, observations = simulation_fixtures(...)``,
    for pytest to find them.
    """

    @pytest.fixture(scope="module", name="data")
    def data_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
        out = tmp_path_factory.mktemp(pilot.id)
        pilot.simulator(out, seed=seed, effect=effect)
        return out

    @pytest.fixture(scope="module", name="truth")
    def truth_fixture(data: Path) -> dict[str, Any]:
        return json.loads((data / "truth.json").read_text())

    @pytest.fixture(scope="module", name="observations")
    def observations_fixture(data: Path) -> Observations:
        return pilot.adapter(data)

    return data_fixture, truth_fixture, observations_fixture


def digest(directory: Path) -> dict[str, str]:
    """SHA-256 of every file below ``directory``, by relative path."""
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def damaged(raw: bytes, kind: str, where: float, payload: bytes) -> bytes:
    """``raw`` with ``payload`` inserted, a line deleted or replaced by it, or cut short, at the
    relative position ``where``."""
    lines = raw.split(b"\n")
    line = min(int(where * len(lines)), len(lines) - 1)
    position = int(where * len(raw))
    if kind == "insert":
        return raw[:position] + payload + raw[position:]
    if kind == "delete_line":
        return b"\n".join(lines[:line] + lines[line + 1 :])
    if kind == "replace_line":
        return b"\n".join([*lines[:line], payload, *lines[line + 1 :]])
    return raw[:position]


def damaged_copy(golden: Path, directory: Path, damages: Iterable[Damage]) -> Path:
    """A fresh copy of ``golden`` in ``directory`` with every damage done to its file."""
    shutil.rmtree(directory, ignore_errors=True)
    shutil.copytree(golden, directory)
    for file, kind, where, payload in damages:
        path = directory / file
        path.write_bytes(damaged(path.read_bytes(), kind, where, payload))
    return directory
