"""One exception family for every error a user can cause and fix.

Every layer (pilots, evaluation, experiments) raises these; the command line and the app catch
``LivingLabError`` and show its message as one line, never a traceback. Messages name the file,
line, column, field, pilot or method at fault and say what would be valid.
"""

from __future__ import annotations

from collections.abc import Iterable


class LivingLabError(Exception):
    """Base of every user-facing error."""


class DataError(LivingLabError):
    """Raw data that cannot be read at all (a missing file, a header without required columns)."""


class SpecError(LivingLabError):
    """An invalid trial spec or analysis configuration, or one conflicting with its registration."""


class UnknownNameError(LivingLabError):
    """A pilot, method or trial name that does not exist; the message lists the known ones."""


class InputError(LivingLabError):
    """Arguments or table contents that an analysis cannot work with."""


def require_one_of(field: str, value: object, allowed: Iterable[object]) -> None:
    """Raise ``SpecError`` naming ``field`` and the allowed values unless ``value`` is one."""
    options = tuple(allowed)
    if value not in options:
        listed = ", ".join(repr(option) for option in options)
        raise SpecError(f"{field}: {value!r} is not allowed; use one of {listed}")
