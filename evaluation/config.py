"""Frozen method configurations; every method's config inherits from ``MethodConfig``."""

from __future__ import annotations

from dataclasses import dataclass

from livinglab.errors import SpecError


@dataclass(frozen=True)
class MethodConfig:
    """Options shared by every method: the test level and the random seed for resampling."""

    alpha: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise SpecError(f"alpha: {self.alpha} is not allowed; use a number between 0 and 1")
