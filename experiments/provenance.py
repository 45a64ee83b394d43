"""Fingerprints that make a tracked analysis reproducible: data hash and code version."""

from __future__ import annotations

import hashlib
import subprocess
from functools import cache
from importlib.metadata import version
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# The simulator's answer key sits beside demo data but is not data an analysis reads.
NOT_DATA = {"truth.json"}


def data_hash(data_dir: Path) -> str:
    """SHA-256 over the names and bytes of every file in ``data_dir`` (recursively)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in data_dir.rglob("*") if p.is_file() and p.name not in NOT_DATA):
        digest.update(str(path.relative_to(data_dir)).encode())
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


@cache
def code_version() -> str:
    """The git commit of the checkout (``-dirty`` when it has changes), else the package version."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=5,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return version("livinglab")
    return f"{commit}-dirty" if dirty else commit
