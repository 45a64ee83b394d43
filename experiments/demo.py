"""Seed the demo portfolio: simulate each pilot's data, register its demo trial, analyse it.

The demo store also gets one user per role (``experiments.accounts.seed_demo_users``, only when
it has no users); its trials are registered by the demo pilot owner and analysed by the demo
evaluator, so that each demo user sees what their role would.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from experiments.accounts import seed_demo_users
from experiments.analysis import evaluate_trial
from experiments.spec import load_spec
from experiments.store import TrialStore
from experiments.tracking import PLANNED_FINISHED, Tracker
from pilots.registry import available_pilots

DEMO_SEED = 2026
DEMO_OWNER, DEMO_EVALUATOR = "owner", "evaluator"
Progress = Callable[[float, str], None]


def demo_data_dir(home: Path, pilot_id: str) -> Path:
    return home / "demo-data" / pilot_id


def seed_demo(home: Path, progress: Progress | None = None) -> list[str]:
    """Idempotent: steps already done (data simulated, trial registered, analysed) are skipped.

    Returns the ids of the demo trials. ``progress`` receives a fraction done and a message.
    """
    report = progress or (lambda fraction, message: None)
    seed_demo_users(home)
    store, tracker = TrialStore(home), Tracker(home)
    pilots = list(available_pilots().values())
    trial_ids = []
    for index, pilot in enumerate(pilots):
        share = 1 / len(pilots)
        data_dir = demo_data_dir(home, pilot.id)
        if not (data_dir / "truth.json").is_file():
            report(index * share, f"Simulating {pilot.name} data")
            pilot.simulator(data_dir, seed=DEMO_SEED, effect=pilot.default_effect)
        spec, text = load_spec(pilot.demo_spec)
        registration, _ = store.register(spec, text, DEMO_OWNER)
        if not tracker.runs(spec.id, PLANNED_FINISHED, limit=1):
            report((index + 0.5) * share, f"Analysing {spec.title}")
            evaluate_trial(registration, data_dir, tracker, seed=DEMO_SEED, actor=DEMO_EVALUATOR)
        trial_ids.append(spec.id)
    report(1.0, "Demo portfolio ready")
    return trial_ids
