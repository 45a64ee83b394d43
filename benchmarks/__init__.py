"""Our estimators against peer libraries, timed in the same process on the same data.

Each benchmark module (``staggered``, ``twfe``, ``synth``) generates its data deterministically,
runs our method and the peer, checks that the numbers agree (an ``AssertionError`` otherwise)
and returns table rows; ``benchmarks.run`` runs them all and writes ``benchmarks/results.md``.
Peers (the ``bench`` dependency group) are imported inside the functions that call them, so the
data generators import without them.

This module imports only the standard library: ``benchmarks.run`` pins the thread pools through
environment variables, which must be set before numpy or polars is first imported, and the
package is imported before ``run``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

Result = TypeVar("Result")


@dataclass(frozen=True)
class Timing(Generic[Result]):
    """Best wall time in seconds over ``runs`` timed calls, and the last call's result."""

    seconds: float
    runs: int
    result: Result


def best_of(
    call: Callable[[], Result],
    repeats: int = 3,
    *,
    budget: float = 20.0,
    warm_up: Callable[[], object] | None = None,
) -> Timing[Result]:
    """Best wall time of up to ``repeats`` calls of ``call``, after one untimed warm-up.

    The warm-up (``call`` itself unless given, e.g. the same call on smaller data for a slow
    peer) pays for imports, caches and JIT compilation. Timed calls stop early once they have
    taken ``budget`` seconds in all, so slow peers run fewer times; at least one always runs.
    """
    (warm_up or call)()
    best, runs, spent = math.inf, 0, 0.0
    result: Result
    while runs < repeats and (runs == 0 or spent < budget):
        start = time.perf_counter()
        result = call()
        elapsed = time.perf_counter() - start
        best, runs, spent = min(best, elapsed), runs + 1, spent + elapsed
    return Timing(best, runs, result)


def check(what: str, difference: float, tolerance: float) -> float:
    """Return ``difference`` if it is within ``tolerance``; otherwise fail the benchmark.

    NaN fails too: a comparison that produced no number is no agreement.
    """
    if not difference <= tolerance:
        raise AssertionError(
            f"{what}: difference {difference:.3g} exceeds the tolerance {tolerance:.0e}; "
            "ours and the peer disagree, so the benchmark fails"
        )
    return difference


@dataclass(frozen=True)
class Row:
    """One line of the results table: our time and a peer's on the same data.

    ``goal`` states the target in words; ``met`` is ``None`` for rows without a target.
    """

    benchmark: str
    size: str
    ours: Timing
    peer: str
    theirs: Timing
    agreement: str
    goal: str = ""
    met: bool | None = None

    @property
    def ratio(self) -> float:
        """Peer time over ours: above 1 means we are faster."""
        return self.theirs.seconds / self.ours.seconds


@dataclass(frozen=True)
class Report:
    """A benchmark's rows and the notes that explain its comparisons."""

    rows: list[Row]
    notes: list[str]
