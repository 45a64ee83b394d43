"""MLflow tracking: one experiment per trial, one run per analysis of one metric.

The only module that imports MLflow. The default store is MLflow's SQLite store under
``LIVINGLAB_HOME`` with artifacts beside it; ``MLFLOW_TRACKING_URI`` points elsewhere (an MLflow
server, for example).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from mlflow.entities import Metric, Param, Run, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from evaluation.result import Estimate
from livinglab.errors import UnknownNameError

ESTIMATE_ARTIFACT = "estimate.json"
DATA_HEALTH_ARTIFACT = "data_health.json"
DIAGNOSTICS_ARTIFACT = "diagnostics.json"
SITES_ARTIFACT = "sites.json"
# The registered (planned) analysis' finished runs; ad-hoc analyses carry a ``kind`` tag.
PLANNED_FINISHED = "attributes.status = 'FINISHED' and tags.kind IS NULL"
NUMBERS = ("effect", "se", "ci_low", "ci_high", "p_value", "relative_effect")


def tracking_uri(home: Path) -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{home / 'mlflow.db'}"


@dataclass(frozen=True)
class RunRecord:
    """A tracked analysis as the app and CLI read it back."""

    run_id: str
    status: str
    start_time: int
    tags: Mapping[str, str]
    metrics: Mapping[str, float]
    params: Mapping[str, str] = field(default_factory=dict)

    def tag(self, name: str) -> str:
        return self.tags.get(name, "")


class Tracker:
    """Writes and reads a trial's analyses."""

    def __init__(self, home: Path) -> None:
        for noisy in ("mlflow", "alembic"):  # schema migrations log at INFO on first use
            logging.getLogger(noisy).setLevel(logging.WARNING)
        self.home = home
        self.uri = tracking_uri(home)
        if self.uri.startswith("sqlite:///"):
            home.mkdir(parents=True, exist_ok=True)
        self.client = MlflowClient(tracking_uri=self.uri)

    def experiment_id(self, trial_id: str, pilot: str) -> str:
        experiment = self.client.get_experiment_by_name(trial_id)
        if experiment is not None:
            return experiment.experiment_id
        location = None
        if self.uri.startswith("sqlite:///"):
            location = (self.home / "artifacts" / trial_id).as_uri()
        return self.client.create_experiment(
            trial_id, artifact_location=location, tags={"pilot": pilot}
        )

    def start(self, trial_id: str, pilot: str, run_name: str, tags: Mapping[str, str]) -> str:
        run = self.client.create_run(
            self.experiment_id(trial_id, pilot), run_name=run_name, tags=dict(tags)
        )
        return run.info.run_id

    def finish(
        self,
        run_id: str,
        estimate: Estimate,
        panel: pl.DataFrame,
        params: Mapping[str, Any],
        chart_html: str,
        json_artifacts: Mapping[str, Any],
    ) -> None:
        """Record the estimate's numbers, the estimate, its panel and chart, and other JSON."""
        numbers = estimate.to_dict()
        self.client.log_batch(
            run_id,
            metrics=[
                Metric(name, float(numbers[name]), 0, 0)
                for name in NUMBERS
                if numbers[name] is not None
            ],
            params=[Param(k, str(v)) for k, v in params.items()],
            tags=[RunTag("status", estimate.status)],
        )
        with tempfile.TemporaryDirectory() as folder:
            directory = Path(folder)
            (directory / ESTIMATE_ARTIFACT).write_text(json.dumps(numbers, indent=2))
            for name, data in json_artifacts.items():
                (directory / name).write_text(json.dumps(data, indent=2))
            panel.write_parquet(directory / "panel.parquet")
            (directory / "observed_vs_counterfactual.html").write_text(chart_html)
            self.client.log_artifacts(run_id, str(directory))
        self.client.set_terminated(run_id, "FINISHED")

    def log_number(self, run_id: str, name: str, value: float) -> None:
        self.client.log_metric(run_id, name, float(value))

    def fail(self, run_id: str, error: BaseException) -> None:
        """End the run FAILED with the error recorded."""
        self.client.set_tag(run_id, "error", f"{type(error).__name__}: {error}"[:5000])
        self.client.set_terminated(run_id, "FAILED")

    def runs(self, trial_id: str, filter_string: str = "", limit: int = 1000) -> list[RunRecord]:
        """A trial's runs, newest first."""
        experiment = self.client.get_experiment_by_name(trial_id)
        if experiment is None:
            return []
        found = self.client.search_runs(
            [experiment.experiment_id],
            filter_string=filter_string,
            order_by=["attributes.start_time DESC"],
            max_results=limit,
        )
        return [_record(run) for run in found]

    def run(self, run_id: str) -> RunRecord:
        """One tracked run (``UnknownNameError`` if there is none with this id)."""
        try:
            return _record(self.client.get_run(run_id))
        except MlflowException as exc:
            raise UnknownNameError(f"no tracked run {run_id!r}") from exc

    def estimate(self, run_id: str) -> Estimate:
        return Estimate.from_dict(self._json_artifact(run_id, ESTIMATE_ARTIFACT))

    def estimate_json(self, run_id: str) -> dict[str, Any]:
        """The estimate exactly as stored, to compare a recomputation with it number by number."""
        return self._json_artifact(run_id, ESTIMATE_ARTIFACT)

    def data_health(self, run_id: str) -> dict[str, Any]:
        return self._json_artifact(run_id, DATA_HEALTH_ARTIFACT)

    def diagnostics(self, run_id: str) -> list[dict[str, Any]]:
        """The checks run on a primary metric (empty for other metrics)."""
        return self._json_artifact(run_id, DIAGNOSTICS_ARTIFACT)

    def sites(self, run_id: str) -> list[dict[str, Any]]:
        """The units in the trial with their arm, start, district and coordinates."""
        return self._json_artifact(run_id, SITES_ARTIFACT)

    def _json_artifact(self, run_id: str, name: str) -> Any:
        with tempfile.TemporaryDirectory() as folder:
            path = self.client.download_artifacts(run_id, name, folder)
            return json.loads(Path(path).read_text())


def _record(run: Run) -> RunRecord:
    return RunRecord(
        run_id=run.info.run_id,
        status=run.info.status,
        start_time=run.info.start_time,
        tags=run.data.tags,
        metrics=run.data.metrics,
        params=run.data.params,
    )
