"""A TOML writer for spec data (``tomllib`` only reads): the text the Register page previews.

``render_toml`` writes tables as sections, lists of tables as ``[[arrays]]`` and long arrays
across lines, as the demo specs are written; ``tomllib.loads(render_toml(data)) == data``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_WIDTH = 100


def render_toml(data: Mapping[str, Any]) -> str:
    """TOML text for ``data``: tables become sections, lists of tables ``[[arrays]]``.

    Values: strings, booleans, integers, floats, dates and datetimes, lists, and tables.
    ``tomllib.loads(render_toml(data)) == data`` (``None`` has no TOML form and is refused).
    """
    lines: list[str] = []
    _write_table(lines, (), data, header=None)
    return "\n".join(lines).strip("\n") + "\n"


def _write_table(
    lines: list[str], path: tuple[str, ...], table: Mapping[str, Any], header: str | None
) -> None:
    if header is not None:
        if lines:
            lines.append("")
        lines.append(header)
    sections = {k: v for k, v in table.items() if _is_section(v, path)}
    arrays = {k: v for k, v in table.items() if _is_array_of_tables(v)}
    for key, value in table.items():
        if key not in sections and key not in arrays:
            lines.append(_key_value(key, value))
    for key, value in sections.items():
        inner = (*path, key)
        _write_table(lines, inner, value, header=f"[{_dotted(inner)}]")
    for key, value in arrays.items():
        inner = (*path, key)
        for item in value:
            _write_table(lines, inner, item, header=f"[[{_dotted(inner)}]]")


def _is_section(value: Any, path: tuple[str, ...]) -> bool:
    """Top-level tables are sections; nested ones too unless small and flat enough to inline."""
    if not isinstance(value, Mapping) or not value:
        return False
    if not path:
        return True
    nested = any(isinstance(v, Mapping | list) for v in value.values())
    return nested or len(_inline(value)) > _WIDTH - 30


def _is_array_of_tables(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def _key_value(key: str, value: Any) -> str:
    prefix = f"{_key(key)} = "
    text = _value(value)
    if isinstance(value, list) and len(prefix) + len(text) > _WIDTH:
        return prefix + _wrapped(value)
    return prefix + text


def _wrapped(items: list[Any]) -> str:
    """A long array across lines, packed up to the line width, as the demo specs are written."""
    rows: list[str] = []
    for text in (_value(item) + "," for item in items):
        if rows and len(rows[-1]) + 1 + len(text) <= _WIDTH:
            rows[-1] += " " + text
        else:
            rows.append("    " + text)
    return "[\n" + "\n".join(rows) + "\n]"


def _value(value: Any) -> str:
    if value is None:
        raise TypeError("TOML has no null: leave the key out instead")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # repr spells inf, nan and exponents as TOML does
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return _inline(value)
    raise TypeError(f"cannot write a {type(value).__name__} as TOML")


def _inline(table: Mapping[str, Any]) -> str:
    if not table:
        return "{}"
    return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in table.items()) + " }"


def _string(text: str) -> str:
    if "\n" not in text:
        return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")
    escaped = "".join(_escape_multiline(char) for char in text)
    return '"""\n' + escaped + '"""'


def _escape_multiline(char: str) -> str:
    if char in ("\n", "\t"):
        return char
    if char == "\\":
        return "\\\\"
    if char == '"':
        return '\\"'
    if ord(char) < 0x20 or ord(char) == 0x7F:
        return f"\\u{ord(char):04x}"
    return char


def _key(key: str) -> str:
    return (
        key
        if _BARE_KEY.fullmatch(key)
        else json.dumps(key, ensure_ascii=False).replace("\x7f", "\\u007f")
    )


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join(_key(part) for part in path)
