"""Drafts: a pilot owner edits their own trial spec until it is registered and locked."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments.audit import AuditLog
from experiments.drafts import Drafts
from experiments.registration import register_text
from livinglab.errors import InputError, SpecError
from tests.conftest import SMART_BINS_SPEC

TEXT = SMART_BINS_SPEC.read_text()


def test_an_owner_saves_and_edits_a_draft_nobody_else_can_touch(home: Path) -> None:
    drafts = Drafts(home)
    first = drafts.save(TEXT, "owner")
    edited = TEXT.replace("mde = 0.2", "mde = 0.25")
    drafts.save(edited, "owner")
    assert drafts.get("smart-bins-2026").text == edited
    assert [d.trial_id for d in drafts.of("owner")] == ["smart-bins-2026"]
    assert drafts.of("someone-else") == []
    with pytest.raises(InputError, match="is a draft of owner; only they can edit it"):
        drafts.save(TEXT, "someone-else")
    with pytest.raises(InputError, match="only they can edit it"):
        drafts.discard("smart-bins-2026", "someone-else")
    assert first.owner == "owner"
    assert [e.action for e in AuditLog(home).entries()] == ["draft_save", "draft_save"]


def test_an_invalid_spec_is_not_saved(home: Path) -> None:
    with pytest.raises(SpecError):
        Drafts(home).save(
            TEXT.replace('planned_method = "randomized"', 'planned_method = "x"'), "o"
        )
    assert Drafts(home).of("o") == []


def test_a_registered_trial_cannot_be_drafted_again(home: Path) -> None:
    register_text(home, TEXT, "owner")
    with pytest.raises(SpecError, match="already registered and locked"):
        Drafts(home).save(TEXT, "owner")


def test_discarding_a_draft_removes_it(home: Path) -> None:
    drafts = Drafts(home)
    drafts.save(TEXT, "owner")
    drafts.discard("smart-bins-2026", "owner")
    assert drafts.get("smart-bins-2026") is None
