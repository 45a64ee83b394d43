"""Registration locks a spec: idempotent for the same content, refused for a changed one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments.audit import AuditLog
from experiments.cli import main
from experiments.spec import load_spec
from experiments.store import TrialStore
from livinglab.errors import SpecError, UnknownNameError
from tests.conftest import SMART_BINS_SPEC


def test_register_then_read_back(home: Path) -> None:
    spec, text = load_spec(SMART_BINS_SPEC)
    store = TrialStore(home)
    registration, created = store.register(spec, text)
    assert created
    assert registration.spec_hash == spec.content_hash()
    assert store.ids() == [spec.id]
    assert store.get(spec.id).spec == spec
    assert (home / "trials" / spec.id / "spec.toml").read_text() == text


def test_registering_the_same_spec_again_changes_nothing(home: Path) -> None:
    spec, text = load_spec(SMART_BINS_SPEC)
    store = TrialStore(home)
    first, _ = store.register(spec, text)
    again, created = store.register(spec, "# reformatted\n" + text)
    assert not created
    assert again == first


def test_a_changed_spec_under_a_registered_id_is_refused(home: Path, tmp_path: Path) -> None:
    spec, text = load_spec(SMART_BINS_SPEC)
    store = TrialStore(home)
    store.register(spec, text)
    changed_file = tmp_path / "changed.toml"
    changed_file.write_text(text.replace("margin = 15.0", "margin = 50.0"))
    changed, changed_text = load_spec(changed_file)
    with pytest.raises(SpecError, match="already registered with a different spec"):
        store.register(changed, changed_text)
    assert store.get(spec.id).spec == spec


def test_a_registration_edited_on_disk_is_detected(home: Path) -> None:
    spec, text = load_spec(SMART_BINS_SPEC)
    store = TrialStore(home)
    store.register(spec, text)
    path = home / "trials" / spec.id / "registration.json"
    record = json.loads(path.read_text())
    record["spec"]["mde"] = 0.05
    path.write_text(json.dumps(record))
    with pytest.raises(SpecError, match="no longer matches its registered hash"):
        store.get(spec.id)


def test_unknown_trial_lists_registered_ones(home: Path) -> None:
    spec, text = load_spec(SMART_BINS_SPEC)
    store = TrialStore(home)
    with pytest.raises(UnknownNameError, match="none registered"):
        store.get("nothing-here")
    store.register(spec, text)
    with pytest.raises(UnknownNameError, match=f"registered trials: {spec.id}"):
        store.get("nothing-here")


def test_the_command_line_refuses_a_changed_spec_with_exit_code_2(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["register", str(SMART_BINS_SPEC)]) == 0
    changed = tmp_path / "changed.toml"
    changed.write_text(SMART_BINS_SPEC.read_text().replace("margin = 15.0", "margin = 50.0"))
    capsys.readouterr()
    assert main(["register", str(changed)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: trial 'smart-bins-2026' is already registered")
    assert error.count("\n") == 1  # one line, no traceback
    assert [e.action for e in AuditLog(home).entries()] == ["register"]  # only the first


def test_a_registration_records_who_registered_it(home: Path) -> None:
    spec, text = load_spec(SMART_BINS_SPEC)
    registration, _ = TrialStore(home).register(spec, text, actor="owner")
    assert TrialStore(home).get(spec.id).registered_by == "owner"
    (entry,) = AuditLog(home).entries(action="register")
    assert (entry.actor, entry.target, entry.details) == (
        "owner",
        spec.id,
        {"spec_hash": registration.spec_hash},
    )
