"""Drafts: a pilot owner's trial specs before registration, editable by their owner only.

A draft is a valid spec saved under ``LIVINGLAB_HOME/drafts/<id>.toml`` with its owner beside
it (``<id>.json``). Its owner may save it again as often as they like; nobody else may touch
it. Registering the spec locks it for good and removes the draft; an id that is already
registered cannot be drafted again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from experiments.audit import AuditLog
from experiments.registration import check_text
from experiments.store import TrialStore
from livinglab.errors import InputError, SpecError, UnknownNameError


@dataclass(frozen=True)
class Draft:
    trial_id: str
    owner: str
    saved_at: str  # ISO-8601 UTC
    text: str


class Drafts:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.root = home / "drafts"

    def save(self, text: str, owner: str) -> Draft:
        """Check the spec and keep it as ``owner``'s draft (``SpecError`` if it is invalid)."""
        spec = check_text(text)
        if spec.id in TrialStore(self.home).ids():
            raise SpecError(
                f"trial {spec.id!r} is already registered and locked; drafts are for trials "
                "not yet registered: use a new id for a new design"
            )
        _require_owner(self.get(spec.id), owner)
        self.root.mkdir(parents=True, exist_ok=True)
        draft = Draft(spec.id, owner, datetime.now(UTC).isoformat(timespec="seconds"), text)
        (self.root / f"{spec.id}.toml").write_text(text, encoding="utf-8")
        meta = {"owner": owner, "saved_at": draft.saved_at}
        (self.root / f"{spec.id}.json").write_text(json.dumps(meta) + "\n", encoding="utf-8")
        AuditLog(self.home).record(owner, "draft_save", spec.id)
        return draft

    def get(self, trial_id: str) -> Draft | None:
        meta_path = self.root / f"{trial_id}.json"
        if not meta_path.is_file():
            return None
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        text = (self.root / f"{trial_id}.toml").read_text(encoding="utf-8")
        return Draft(trial_id, meta["owner"], meta["saved_at"], text)

    def of(self, owner: str) -> list[Draft]:
        """``owner``'s drafts, newest first."""
        ids = sorted(path.stem for path in self.root.glob("*.json")) if self.root.is_dir() else []
        drafts = [d for d in map(self.get, ids) if d is not None and d.owner == owner]
        return sorted(drafts, key=lambda d: d.saved_at, reverse=True)

    def discard(self, trial_id: str, owner: str) -> None:
        draft = self.get(trial_id)
        if draft is None:
            raise UnknownNameError(f"no draft of trial {trial_id!r}")
        if draft.owner != owner:
            raise InputError(
                f"trial {trial_id!r} is a draft of {draft.owner}; only they can edit it"
            )
        for suffix in (".toml", ".json"):
            (self.root / f"{trial_id}{suffix}").unlink(missing_ok=True)


def _require_owner(draft: Draft | None, owner: str) -> None:
    if draft is not None and draft.owner != owner:
        raise InputError(
            f"trial {draft.trial_id!r} is a draft of {draft.owner}; only they can edit it"
        )
