"""Recompute a tracked run from what it recorded and say whether it comes out exactly the same.

A run records its trial's spec hash, its data directory and the data's hash, the code version,
the seed, alpha, the metric, method, window and the method's options as they were resolved. A
rerun checks the first three, then computes the estimate again through the same functions as the
original run (``prepare_trial_data`` -> ``metric_panel`` -> ``run_method``) and compares every
number of it, ``details`` included, with the stored ``estimate.json``: floats must be equal to the
last digit. Nothing is tracked: the recorded run is only read.

A different spec or different data means the run cannot be reproduced from what is there now, so
nothing is recomputed and the rerun does not match. A different code version is reported but the
estimate is still recomputed with the current code: the question a rerun answers is whether
today's code gives the recorded numbers, so the version alone does not make it fail.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from evaluation.methods import run_method
from evaluation.result import Estimate
from experiments.adhoc import RerunRequest, analysis_window, rerun_request, windowed
from experiments.provenance import code_version, data_hash
from experiments.spec import trial_pilot
from experiments.store import Registration, TrialStore
from experiments.tracking import Tracker
from experiments.trial_data import metric_panel, prepare_trial_data
from livinglab.errors import SpecError

MAX_DIFFERENCES = 50
CODE_VERSION = "code_version"


@dataclass(frozen=True)
class RerunCheck:
    """A tracked run recomputed: what it was and every way the recomputation differs."""

    run_id: str
    trial: str
    metric: str
    role: str
    method: str
    seed: int
    code_version: tuple[str, str]  # recorded, current
    differences: tuple[dict[str, Any], ...]

    @property
    def match(self) -> bool:
        """No difference but, possibly, the code version (see the module's docstring)."""
        return _reproducible(self.differences)

    def to_dict(self) -> dict[str, Any]:
        recorded, current = self.code_version
        return {
            "run_id": self.run_id,
            "match": self.match,
            "differences": list(self.differences),
            "trial": self.trial,
            "metric": self.metric,
            "role": self.role,
            "method": self.method,
            "seed": self.seed,
            "code_version": {"recorded": recorded, "current": current},
        }


def rerun_check(run_id: str, store: TrialStore, tracker: Tracker) -> RerunCheck:
    """Recompute run ``run_id`` and compare it with what it recorded; tracks nothing."""
    record = tracker.run(run_id)
    if record.status != "FINISHED":
        raise SpecError(
            f"run {run_id} ended {record.status}, without an estimate to compare with; "
            "only finished runs can be re-run"
        )
    request = rerun_request(run_id, record.tags, record.params)
    registration = store.get(request.trial_id)
    recorded_code, current_code = record.tag(CODE_VERSION), code_version()
    differences = _provenance_differences(
        registration, request, record.tag("spec_hash"), record.tag("data_hash")
    )
    if recorded_code != current_code:
        differences.append(
            {
                "field": CODE_VERSION,
                "recorded": recorded_code,
                "current": current_code,
                "note": "recomputed with the current code",
            }
        )
    if _reproducible(differences):
        # Every run records its spec's alpha; with the spec hash matching, the spec has it too.
        alpha = float(record.params.get("alpha", registration.spec.alpha))
        current = recompute(registration, request, alpha=alpha)
        differences += compare(tracker.estimate_json(run_id), _as_stored(current))
    return RerunCheck(
        run_id=run_id,
        trial=request.trial_id,
        metric=request.metric,
        role=record.tag("role"),
        method=request.method,
        seed=request.seed,
        code_version=(recorded_code, current_code),
        differences=tuple(_capped(differences)),
    )


def recompute(registration: Registration, request: RerunRequest, *, alpha: float) -> Estimate:
    """The estimate of a past run, computed again as its analysis computed it.

    A planned or robustness run's window is the registered one and an ad-hoc run's may be
    narrower; either way the data are read for that window, as ``run_analysis`` reads them. The
    recorded options are the ones the method ran with: the options the panel needs, the
    registered ones for the planned method, or those chosen for an ad-hoc run.
    """
    spec = registration.spec
    window = analysis_window(spec, request.window)
    pilot = trial_pilot(spec)
    data = prepare_trial_data(
        windowed(spec, window), pilot.adapter(request.data_dir), request.data_dir
    )
    panel, _ = metric_panel(data, pilot.metric(request.metric), request.method)
    return run_method(request.method, panel, alpha=alpha, seed=request.seed, **request.options)


def compare(recorded: Any, current: Any, path: str = "") -> Iterator[dict[str, Any]]:
    """Every place where two JSON values differ, by path (``details.series.effect[3]``).

    Numbers must be exactly equal and of the same type; NaN equals NaN.
    """
    if isinstance(recorded, dict) and isinstance(current, dict):
        for key in [*recorded, *(key for key in current if key not in recorded)]:
            where = f"{path}.{key}" if path else key
            if key not in current:
                yield {"field": where, "note": "recorded, but not in the recomputed estimate"}
            elif key not in recorded:
                yield {"field": where, "note": "in the recomputed estimate, but not recorded"}
            else:
                yield from compare(recorded[key], current[key], where)
    elif isinstance(recorded, list) and isinstance(current, list):
        if len(recorded) != len(current):
            yield {"field": path, "note": f"{len(recorded)} recorded, {len(current)} recomputed"}
        for index, (old, new) in enumerate(zip(recorded, current, strict=False)):
            yield from compare(old, new, f"{path}[{index}]")
    elif not _same(recorded, current):
        yield {"field": path, "recorded": recorded, "current": current}


def as_text(check: RerunCheck) -> str:
    """A one-line verdict, then one line per difference."""
    what = (
        f"run {check.run_id} ({check.trial}: {check.metric}, {check.role}, {check.method}, "
        f"seed {check.seed})"
    )
    lines = [f"{what}: {'reproduced exactly' if check.match else 'DOES NOT MATCH'}"]
    for difference in check.differences:
        values = (
            f"recorded {difference['recorded']!r}, now {difference['current']!r}"
            if "recorded" in difference
            else ""
        )
        note = difference.get("note", "")
        lines.append(
            f"  {difference['field']}: {'; '.join(part for part in (values, note) if part)}"
        )
    return "\n".join(lines)


def _provenance_differences(
    registration: Registration, request: RerunRequest, spec_hash: str, recorded_data: str
) -> list[dict[str, Any]]:
    """The registration and the data as they are now, against what the run recorded."""
    differences: list[dict[str, Any]] = []
    if registration.spec_hash != spec_hash:
        differences.append(
            {
                "field": "spec_hash",
                "recorded": spec_hash,
                "current": registration.spec_hash,
                "note": f"trial {request.trial_id!r} is registered with another spec now; "
                "not recomputed",
            }
        )
    folder = request.data_dir
    current_data = data_hash(folder) if folder.is_dir() else None
    if current_data != recorded_data:
        differences.append(
            {
                "field": "data_hash",
                "recorded": recorded_data,
                "current": current_data,
                "note": (
                    f"the files in {folder} changed since the run; not recomputed"
                    if current_data
                    else f"{folder}: data directory not found; not recomputed"
                ),
            }
        )
    return differences


def _reproducible(differences: Sequence[dict[str, Any]]) -> bool:
    """Nothing differs but, possibly, the code version."""
    return all(difference["field"] == CODE_VERSION for difference in differences)


def _as_stored(estimate: Estimate) -> Any:
    """The estimate as ``estimate.json`` holds it: tuples become lists, keys become strings."""
    return json.loads(json.dumps(estimate.to_dict()))


def _same(recorded: Any, current: Any) -> bool:
    if type(recorded) is not type(current):
        return False
    if isinstance(recorded, float) and math.isnan(recorded):
        return math.isnan(current)
    return bool(recorded == current)


def _capped(differences: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if len(differences) <= MAX_DIFFERENCES:
        return differences
    more = len(differences) - MAX_DIFFERENCES
    return [*differences[:MAX_DIFFERENCES], {"field": "...", "note": f"{more} more differences"}]
