"""The local store under ``LIVINGLAB_HOME``: registered trial specs, locked by content hash.

Each trial has a directory ``trials/<id>/`` holding the spec file as submitted (``spec.toml``) and
``registration.json`` with the canonical spec, its hash, and who registered it when. A registered
spec never changes: registering different content under the same id is refused, and a
registration whose stored spec no longer matches its hash is reported as tampered with.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from experiments.audit import AuditLog, operator
from experiments.spec import TrialSpec, parse_spec
from livinglab.errors import SpecError, UnknownNameError

DEFAULT_HOME = ".livinglab"


def livinglab_home() -> Path:
    """``LIVINGLAB_HOME`` or ``.livinglab/`` in the working directory."""
    return Path(os.environ.get("LIVINGLAB_HOME", DEFAULT_HOME)).resolve()


@dataclass(frozen=True)
class Registration:
    spec: TrialSpec
    spec_hash: str
    registered_at: str
    registered_by: str


class TrialStore:
    """Registered trials under ``home/trials``."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.root = home / "trials"

    def register(
        self, spec: TrialSpec, source_text: str, actor: str | None = None
    ) -> tuple[Registration, bool]:
        """Lock ``spec`` as registered by ``actor`` (the OS user when not given); returns the
        registration and whether it is new. A new registration goes to the audit trail.

        Registering identical content again is a no-op; different content under a registered
        id raises ``SpecError``.
        """
        spec_hash = spec.content_hash()
        existing = self._path(spec.id)
        if existing.exists():
            registration = self.get(spec.id)
            if registration.spec_hash != spec_hash:
                raise SpecError(
                    f"trial {spec.id!r} is already registered with a different spec "
                    f"(hash {registration.spec_hash[:12]}); a registered spec cannot change: "
                    "register the new design under a new id"
                )
            return registration, False
        registration = Registration(
            spec=spec,
            spec_hash=spec_hash,
            registered_at=datetime.now(UTC).isoformat(timespec="seconds"),
            registered_by=actor or operator(),
        )
        directory = existing.parent
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "spec.toml").write_text(source_text, encoding="utf-8")
        record = {
            "id": spec.id,
            "spec_hash": spec_hash,
            "registered_at": registration.registered_at,
            "registered_by": registration.registered_by,
            "spec": spec.to_dict(),
        }
        partial = existing.with_suffix(".tmp")
        partial.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        partial.replace(existing)  # atomic: a registration is either whole or absent
        AuditLog(self.home).record(
            registration.registered_by, "register", spec.id, {"spec_hash": spec_hash}
        )
        return registration, True

    def get(self, trial_id: str) -> Registration:
        path = self._path(trial_id)
        if not path.is_file():
            known = ", ".join(self.ids()) or "none registered"
            raise UnknownNameError(f"unknown trial {trial_id!r}; registered trials: {known}")
        record = json.loads(path.read_text(encoding="utf-8"))
        spec = parse_spec(record["spec"])
        if spec.content_hash() != record["spec_hash"]:
            raise SpecError(
                f"{path}: the stored spec no longer matches its registered hash "
                f"{record['spec_hash'][:12]}; the registration was modified after it was locked"
            )
        return Registration(
            spec=spec,
            spec_hash=record["spec_hash"],
            registered_at=record["registered_at"],
            registered_by=record["registered_by"],
        )

    def ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.parent.name for p in self.root.glob("*/registration.json"))

    def all(self) -> list[Registration]:
        return [self.get(trial_id) for trial_id in self.ids()]

    def _path(self, trial_id: str) -> Path:
        return self.root / trial_id / "registration.json"
