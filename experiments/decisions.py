"""The committee's decisions: Scale, Extend/Iterate or Stop, who decided, when, and why.

Decisions are kept in ``LIVINGLAB_HOME/governance.db`` (table ``decisions``) beside the audit
trail, and written in the same transaction as their audit entry. Like the trail, the table is
append-only: a later decision on the same trial supersedes an earlier one without erasing it.
A reason is always welcome and required when the decision differs from the rule's
recommendation.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from evaluation.decision import RECOMMENDATION_LABELS, RECOMMENDATIONS, Recommendation
from experiments.audit import AuditLog, append_entry, append_only, governance_db
from livinglab.errors import InputError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    seq INTEGER PRIMARY KEY,
    trial TEXT NOT NULL,
    decision TEXT NOT NULL,
    recommendation TEXT NOT NULL,
    reason TEXT NOT NULL,
    analysis TEXT NOT NULL,
    spec_hash TEXT NOT NULL,
    decided_by TEXT NOT NULL,
    decided_at TEXT NOT NULL
);
""" + append_only("decisions", "decisions are append-only: they cannot be {verb}; record a new one")
_COLUMNS = "trial, decision, recommendation, reason, analysis, spec_hash, decided_by, decided_at"


@dataclass(frozen=True)
class DecisionRecord:
    trial: str
    decision: Recommendation
    recommendation: Recommendation
    reason: str
    analysis: str  # the analysis the decision was taken on
    spec_hash: str
    decided_by: str
    decided_at: str  # ISO-8601 UTC

    @property
    def label(self) -> str:
        return RECOMMENDATION_LABELS[self.decision]

    @property
    def follows_recommendation(self) -> bool:
        return self.decision == self.recommendation

    def to_dict(self) -> dict[str, str]:
        return asdict(self) | {"label": self.label}


class DecisionLog:
    """Every recorded decision, per trial, oldest first."""

    def __init__(self, home: Path) -> None:
        self.home = home
        AuditLog(home)  # the audit table the decision's entry goes to
        with governance_db(home) as connection:
            connection.executescript(_SCHEMA)

    def record(
        self,
        trial: str,
        decision: str,
        *,
        recommendation: Recommendation,
        reason: str,
        analysis: str,
        spec_hash: str,
        actor: str,
    ) -> DecisionRecord:
        """Store a decision with its audit entry; refused without a reason when it departs from
        the recommendation, or without an analysis to decide on."""
        if decision not in RECOMMENDATIONS:
            valid = ", ".join(RECOMMENDATIONS)
            raise InputError(f"decision: {decision!r} is not one of {valid}")
        if not analysis:
            raise InputError(f"trial {trial!r} has no analysis yet: analyse it before deciding")
        reason = reason.strip()
        if decision != recommendation and not reason:
            raise InputError(
                f"reason: the decision {RECOMMENDATION_LABELS[decision]!r} differs from the "  # type: ignore[index]
                f"recommendation {RECOMMENDATION_LABELS[recommendation]!r}; write why"
            )
        record = DecisionRecord(
            trial=trial,
            decision=decision,  # type: ignore[arg-type]
            recommendation=recommendation,
            reason=reason,
            analysis=analysis,
            spec_hash=spec_hash,
            decided_by=actor,
            decided_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        with governance_db(self.home, write=True) as connection:
            connection.execute(
                f"INSERT INTO decisions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                _row(record),
            )
            append_entry(
                connection,
                actor,
                "decide",
                trial,
                {
                    "decision": decision,
                    "recommendation": recommendation,
                    "reason": reason,
                    "analysis": analysis,
                },
            )
        return record

    def history(self, trial: str) -> list[DecisionRecord]:
        with governance_db(self.home) as connection:
            rows = connection.execute(
                f"SELECT {_COLUMNS} FROM decisions WHERE trial = ? ORDER BY seq", (trial,)
            ).fetchall()
        return [_record(row) for row in rows]

    def latest(self, trial: str) -> DecisionRecord | None:
        history = self.history(trial)
        return history[-1] if history else None

    def latest_by_trial(self) -> dict[str, DecisionRecord]:
        with governance_db(self.home) as connection:
            rows = connection.execute(f"SELECT {_COLUMNS} FROM decisions ORDER BY seq").fetchall()
        return {record.trial: record for record in map(_record, rows)}


def _row(record: DecisionRecord) -> tuple[str, ...]:
    return tuple(asdict(record).values())


def _record(row: sqlite3.Row | tuple[str, ...]) -> DecisionRecord:
    return DecisionRecord(*row)
