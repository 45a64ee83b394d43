"""Run the benchmarks, print the results as a Markdown table and write ``benchmarks/results.md``.

Usage: ``python -m benchmarks.run [staggered] [twfe] [synth]`` (all of them by default);
``make bench`` installs the peers (the ``bench`` dependency group) and runs them all.

Everything runs single-threaded: the thread pools of BLAS, OpenMP, numba and polars are pinned to
one thread before numpy or polars is imported, so neither side gains from the machine's cores
(CI has two, shared) and the ratios compare algorithms, not parallelism.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

# Thread pools are sized when numpy, polars and numba load, so the pin comes before any of them.
os.environ.update(
    dict.fromkeys(
        (
            "OMP_NUM_THREADS",
            "OPENBLAS_NUM_THREADS",
            "MKL_NUM_THREADS",
            "VECLIB_MAXIMUM_THREADS",
            "NUMBA_NUM_THREADS",
            "POLARS_MAX_THREADS",
        ),
        "1",
    )
)

import numpy as np
import polars as pl

from benchmarks import Report, Row, staggered, synth, twfe

BENCHMARKS: dict[str, Callable[[], Report]] = {
    "staggered": staggered.run,
    "twfe": twfe.run,
    "synth": synth.run,
}
RESULTS = Path(__file__).with_name("results.md")
COLUMNS = (
    "Benchmark",
    "Size",
    "Ours (s)",
    "Peer",
    "Peer (s)",
    "Peer / ours",
    "Runs",
    "Agreement (largest difference)",
    "Goal",
    "Met",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="benchmark", help=", ".join(BENCHMARKS))
    names = parser.parse_args(argv).names or list(BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    started = time.perf_counter()
    reports = []
    for name in names:
        print(f"running {name}...", file=sys.stderr, flush=True)
        reports.append(BENCHMARKS[name]())
    table = render(reports, time.perf_counter() - started)
    print(table)
    RESULTS.write_text(table)
    print(f"written to {RESULTS}", file=sys.stderr)
    return 0


def render(reports: list[Report], elapsed: float) -> str:
    """The results page: how it was measured, the table, and the notes."""
    lines = [
        "# Benchmarks: our methods against peer libraries",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC in one process on {platform.machine()} "
        f"({os.cpu_count()} logical CPUs), Python {platform.python_version()}, "
        f"numpy {np.__version__}, polars {pl.__version__}; total {elapsed:.0f} s.",
        "**Single-threaded**: OMP, OpenBLAS, MKL, vecLib, numba and polars thread pools are "
        "pinned to 1 thread. Times are the best wall time (`time.perf_counter`) of up to 3 runs "
        "after one warm-up; slow peers run fewer times (Runs = ours/peer). Every row's numbers "
        "were checked to agree before it was written.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---" for _ in COLUMNS) + "|",
        *(_line(row) for report in reports for row in report.rows),
        "",
        "## Notes",
        "",
        *(f"- {note}" for report in reports for note in report.notes),
        "",
    ]
    return "\n".join(lines)


def _line(row: Row) -> str:
    met = {True: "yes", False: "**no**", None: "—"}[row.met]
    cells = (
        row.benchmark,
        row.size,
        f"{row.ours.seconds:.3g}",
        row.peer,
        f"{row.theirs.seconds:.3g}",
        f"{row.ratio:.1f}x",
        f"{row.ours.runs}/{row.theirs.runs}",
        row.agreement,
        row.goal or "—",
        met,
    )
    return "| " + " | ".join(cells) + " |"


if __name__ == "__main__":
    sys.exit(main())
