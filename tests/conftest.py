"""Shared fixtures: an isolated store per test and one simulated smart-bins data set per session."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
# Page tests act as the single local operator; tests/test_app_auth.py and the browser tests
# switch login on ("accounts") to check who sees what.
os.environ["LIVINGLAB_AUTH"] = "none"

PROJECT = Path(__file__).resolve().parents[1]
pytest_plugins = ["tests.browser_support"]  # the browser and page fixtures
SMART_BINS_SPEC = PROJECT / "experiments" / "trials" / "smart_bins.toml"
SIMULATION_SEED = 7
SIMULATED_EFFECT = -0.3


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty ``LIVINGLAB_HOME`` with MLflow's default SQLite store inside it."""
    store = tmp_path / "home"
    monkeypatch.setenv("LIVINGLAB_HOME", str(store))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return store


@pytest.fixture(scope="session")
def smart_bins_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Raw smart-bins files simulated once per session (seed 7, 30% fewer collections)."""
    from pilots.smart_bins.simulator import simulate_smart_bins

    out = tmp_path_factory.mktemp("smart_bins")
    simulate_smart_bins(out, seed=SIMULATION_SEED, effect=SIMULATED_EFFECT)
    return out


@pytest.fixture(scope="session")
def smart_bins_truth(smart_bins_data: Path) -> dict[str, Any]:
    return json.loads((smart_bins_data / "truth.json").read_text())
