"""Setting values checked against their dataclass field's annotation; env strings converted on the way.

Each error is the one line the user sees, naming the file (or variable) and the key.
"""

from __future__ import annotations

from typing import Any, Literal, get_args, get_origin, get_type_hints


class ConfigError(ValueError):
    """A configuration problem, worded as the one line the user sees."""


def coerce(value: Any, annotation: Any, where: str) -> Any:
    """Check (and for env strings, convert) one value against its field's annotation."""
    origin = get_origin(annotation)
    if origin is Literal:
        allowed = get_args(annotation)
        if value not in allowed:
            raise ConfigError(f"{where}: expected one of {', '.join(map(repr, allowed))}, got {value!r}")
        return value
    args = [a for a in get_args(annotation) if a is not type(None)]
    if args and type(None) in get_args(annotation):  # Optional[X]
        if value is None:
            return None
        return coerce(value, args[0], where)
    if origin is dict:  # a table of tables such as [mcp.servers.NAME], each a dataclass of its own
        return _tables(value, get_args(annotation)[1], where)
    if origin is list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
        return value
    if annotation is bool:
        if isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off"}:
                return False
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{where}: unsupported setting type")  # pragma: no cover - a bug in this module


def _tables(value: Any, item_type: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(table, dict) for table in value.values()):
        raise ConfigError(f"{where}: expected a table of tables, got {value!r}")
    hints = get_type_hints(item_type)
    tables: dict[str, Any] = {}
    prefix = where.removesuffix("'")  # each key is named "FILE: 'mcp.servers.NAME.KEY'"
    for name, table in value.items():
        for key in table:
            if key not in hints:
                raise ConfigError(f"{prefix}.{name}': unknown key '{key}' (known: {', '.join(hints)})")
        tables[name] = item_type(**{key: coerce(item, hints[key], f"{prefix}.{name}.{key}'")
                                    for key, item in table.items()})
    return tables
