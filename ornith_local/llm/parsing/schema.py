"""Typing calls by the tools' JSON schemas (OpenAI-style definitions) and checking them.

Values arrive as raw text (XML) or loosely typed JSON; each is converted to the type the schema
declares, and every mismatch becomes a sentence the model can act on.
"""

from __future__ import annotations

import ast
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from ornith_local.llm.parsing.scanning import RawCall
from ornith_local.llm.parsing.types import JSONValue, Problem, ToolCall


class ToolSpecError(ValueError):
    """A tool definition that cannot be used, worded as one line."""


@dataclass(frozen=True)
class ToolSpec:
    name: str
    parameters: Mapping[str, Any]

    @property
    def properties(self) -> Mapping[str, Any]:
        props = self.parameters.get("properties")
        return props if isinstance(props, Mapping) else {}

    @property
    def required(self) -> list[str]:
        req = self.parameters.get("required")
        return [r for r in req if isinstance(r, str)] if isinstance(req, list) else []

    @property
    def closed(self) -> bool:
        """Whether a parameter the schema does not list is a mistake."""
        return bool(self.properties) or self.parameters.get("additionalProperties") is False


def load_tools(definitions: object) -> dict[str, ToolSpec]:
    """OpenAI-style definitions ({"type": "function", "function": {...}}) or bare {"name", "parameters"}."""
    if not isinstance(definitions, list):
        raise ToolSpecError("tools must be a JSON list of tool definitions")
    specs: dict[str, ToolSpec] = {}
    for number, item in enumerate(definitions, start=1):
        if isinstance(item, dict) and isinstance(item.get("function"), dict):
            item = item["function"]
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise ToolSpecError(f"tool definition {number} has no \"name\" (a string)")
        parameters = item.get("parameters", {})
        if not isinstance(parameters, dict):
            raise ToolSpecError(f"tool {item['name']}: \"parameters\" must be a JSON schema object")
        specs[item["name"]] = ToolSpec(item["name"], parameters)
    return specs


def type_call(raw: RawCall, index: int, tools: Mapping[str, ToolSpec] | None) -> tuple[ToolCall, list[Problem]]:
    """Convert a scanned call into a ToolCall, with every problem found tied to its index."""
    problems = list(raw.problems)
    spec = tools.get(raw.name) if tools is not None else None
    if tools is not None and spec is None:
        known = ", ".join(sorted(tools)) or "none"
        problems.append(Problem("unknown_tool", f"there is no tool named `{raw.name}`; the tools are: {known}."))
    arguments: dict[str, JSONValue] = {}
    for key, value in _dedupe(raw, problems):
        arguments[key] = _type_argument(raw, spec, key, value, problems)
    if spec is not None:
        for missing in (r for r in spec.required if r not in arguments):
            problems.append(Problem("missing_parameter", f"your call to {raw.name} was missing parameter `{missing}`."))
    problems = [Problem(p.code, p.message, p.severity, index) for p in problems]
    valid = not any(p.severity == "error" for p in problems)
    return ToolCall(index, raw.name, arguments, raw.raw, raw.format, valid), problems


def _dedupe(raw: RawCall, problems: list[Problem]) -> list[tuple[str, object]]:
    seen: dict[str, object] = {}
    for key, value in raw.arguments:
        if key in seen:
            same = seen[key] == value
            problems.append(Problem(
                "duplicate_parameter",
                f"your call to {raw.name} gave parameter `{key}` twice"
                + ("; the copies were equal, so it was read once." if same else
                   " with different values; give it once. The last value was kept."),
                severity="warning" if same else "error",
            ))
        seen[key] = value
    return list(seen.items())


def _type_argument(raw: RawCall, spec: ToolSpec | None, key: str, value: object,
                   problems: list[Problem]) -> JSONValue:
    if spec is None:
        return _plain(value)
    schema = spec.properties.get(key)
    if schema is None:
        if spec.closed:
            takes = ", ".join(spec.properties) or "no parameters"
            problems.append(Problem("unknown_parameter", f"your call to {raw.name} has parameter `{key}`, which "
                                    f"{raw.name} does not take (it takes: {takes})."))
        return _plain(value)
    typed, error = coerce(value, schema if isinstance(schema, Mapping) else {}, raw.raw_text_values)
    if error is not None:
        problems.append(Problem("wrong_type", f"your call to {raw.name} gave parameter `{key}` the value "
                                f"{_show(value)}, which is not {error}."))
    return typed


def coerce(value: object, schema: Mapping[str, Any], from_text: bool = False) -> tuple[JSONValue, str | None]:
    """(typed value, None) or (best-effort value, "an integer"-style description of what was expected).

    from_text: the value is raw text (Qwen3-XML). `null` there is how the template writes None (the Qwen3-Coder one
    writes `None`), so a parameter that may be null reads it as None even when it may also be text."""
    if from_text and isinstance(value, str) and value.strip() in ("null", "None") and allows_null(schema):
        return None, None
    branches = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(branches, list) and branches:
        first_error = None
        for branch in branches:
            if isinstance(branch, Mapping):
                branch_value, error = coerce(value, branch, from_text)
                if error is None:
                    return branch_value, None
                first_error = first_error or error
        return _plain(value), first_error
    declared = schema.get("type")
    types = [t for t in (declared if isinstance(declared, list) else [declared]) if isinstance(t, str)]
    typed: JSONValue = None
    if not types:
        typed = _plain(value)
    else:
        # Prefer the branch that needs no conversion (a string schema keeps "3" as text).
        ordered = sorted(types, key=lambda t: 0 if _matches(value, t) else 1)
        for kind in ordered:
            converted = _convert(value, kind, schema, from_text)
            if converted is not _FAIL:
                typed = cast(JSONValue, converted)
                break
        else:
            return _plain(value), _describe(types)
    enum = schema.get("enum")
    if isinstance(enum, list) and enum and typed not in enum:
        return typed, "one of " + ", ".join(json.dumps(e) for e in enum)
    return typed, None


def allows_null(schema: Mapping[str, Any]) -> bool:
    declared = schema.get("type")
    if declared == "null" or (isinstance(declared, list) and "null" in declared) or schema.get("nullable") is True:
        return True
    branches = schema.get("anyOf") or schema.get("oneOf")
    return isinstance(branches, list) and any(isinstance(b, Mapping) and allows_null(b) for b in branches)


_FAIL = object()
_NAMES = {"integer": "an integer", "number": "a number", "boolean": "true or false", "string": "text",
          "array": "a list", "object": "an object", "null": "null"}


def _describe(types: Sequence[str]) -> str:
    return " or ".join(_NAMES.get(t, t) for t in types)


def _matches(value: object, kind: str) -> bool:
    checks: dict[str, bool] = {
        "string": isinstance(value, str), "boolean": isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "array": isinstance(value, list), "object": isinstance(value, dict), "null": value is None,
    }
    return checks.get(kind, False)


def _convert(value: object, kind: str, schema: Mapping[str, Any], from_text: bool) -> object:
    text = value.strip() if isinstance(value, str) else None
    if kind == "string":
        if isinstance(value, str):
            return value
        return json.dumps(value) if isinstance(value, bool | int | float) or value is None else _FAIL
    if kind == "integer":
        if isinstance(value, bool):
            return _FAIL
        if isinstance(value, int):
            return value
        number = _number(text) if text is not None else value
        if isinstance(number, float) and number.is_integer():
            return int(number)
        return number if isinstance(number, int) and not isinstance(number, bool) else _FAIL
    if kind == "number":
        if isinstance(value, bool):
            return _FAIL
        number = _number(text) if text is not None else value
        ok = isinstance(number, int | float) and not isinstance(number, bool) and math.isfinite(number)
        return number if ok else _FAIL
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if text is not None and text.lower() in ("true", "false", "yes", "no", "1", "0"):
            return text.lower() in ("true", "yes", "1")
        return value == 1 if isinstance(value, int) and value in (0, 1) else _FAIL
    if kind == "null":
        return None if value is None or (text is not None and text.lower() in ("null", "none", "")) else _FAIL
    if kind in ("array", "object"):
        structured = _structured(text) if text is not None else value
        wanted = list if kind == "array" else dict
        if not isinstance(structured, wanted):
            return _FAIL
        return _type_nested(structured, kind, schema)
    return _plain(value)


def _number(text: str) -> object:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return _FAIL


def _structured(text: str) -> object:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        pass
    try:  # Python-style lists and dicts (single quotes, True/None) are a common slip
        return json.loads(json.dumps(ast.literal_eval(text)))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return _FAIL


def _type_nested(value: object, kind: str, schema: Mapping[str, Any]) -> object:
    """Type items and properties one level down where the schema says how; otherwise keep them."""
    if kind == "array" and isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        items = [coerce(item, schema["items"]) for item in value]
        return _FAIL if any(error for _, error in items) else [typed for typed, _ in items]
    if kind == "object" and isinstance(value, dict) and isinstance(schema.get("properties"), Mapping):
        typed_obj: dict[str, JSONValue] = {}
        for key, item in value.items():
            sub = schema["properties"].get(key)
            typed, error = coerce(item, sub) if isinstance(sub, Mapping) else (_plain(item), None)
            if error is not None:
                return _FAIL
            typed_obj[str(key)] = typed
        return typed_obj
    return _plain(value)


def _plain(value: object) -> JSONValue:
    """Any decoded value as a JSONValue (tuples from literal_eval and the like become lists)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value)


def _show(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(_plain(value))
    return json.dumps(text if len(text) <= 60 else text[:57] + "...")
