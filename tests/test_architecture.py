"""One direction of data flow: each package imports only what ARCHITECTURE.md allows."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import PROJECT

FORBIDDEN = {
    "pilots": {"evaluation", "experiments", "app_pages", "mlflow", "streamlit"},
    "evaluation": {"pilots", "experiments", "app_pages", "mlflow", "streamlit"},
    "experiments": {"app_pages", "streamlit"},
    "app_pages": {"mlflow", "pilots"},
    "livinglab": {"pilots", "evaluation", "experiments", "app_pages", "mlflow", "streamlit"},
}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_packages_import_only_downstream_layers(package: str) -> None:
    offenders = {
        str(path.relative_to(PROJECT)): sorted(imported_roots(path) & FORBIDDEN[package])
        for path in (PROJECT / package).rglob("*.py")
    }
    assert {file: bad for file, bad in offenders.items() if bad} == {}


def test_only_the_tracking_module_touches_mlflow() -> None:
    users = sorted(
        str(path.relative_to(PROJECT))
        for package in ("pilots", "evaluation", "experiments", "app_pages", "livinglab")
        for path in (PROJECT / package).rglob("*.py")
        if "mlflow" in imported_roots(path)
    )
    assert users == ["experiments/tracking.py"]


def test_app_entry_point_only_routes() -> None:
    # it routes by who is signed in, so it asks app_pages.auth; nothing else
    assert imported_roots(PROJECT / "app.py") == {"streamlit", "app_pages"}
