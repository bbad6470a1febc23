"""What every tool is: a name, a description, a JSON schema for its arguments, and `run(args) -> ToolResult`.

The schema is in OpenAI function style so the same object can be offered to a model (through the chat
template's tool list) and validated before it runs. A result carries plain text for the model and a
rich renderable for a person; both come from the same data, so what the user sees is what the model saw.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text

# What a call does to the world. The loop, the guard and the approvals decide from this, never from tool names:
# read looks, edit changes files (a checkpoint first; refused in read-only mode), exec runs a command,
# control steers the loop itself (step_done, replan).
Effect = Literal["read", "edit", "exec", "control"]


@dataclass(frozen=True)
class CallPreview:
    """What a call is about to do, shown before it runs (the approval prompt of the CLI and the TUI).

    kind "diff": a unified diff; "command": a command line; "text": anything else. Never empty.
    """

    kind: Literal["diff", "command", "text"]
    text: str
    title: str  # one line: "edit src/app.py", "run `make test` (sandbox: landlock)"


def plain_preview(name: str, args: Mapping[str, Any]) -> CallPreview:
    """The preview of a call that changes nothing worth showing: the tool and its arguments."""
    shown = ", ".join(f"{key}={value!r}" for key, value in args.items())
    return CallPreview("text", f"{name}({shown})", f"{name} {args.get('path') or ''}".strip())


class ToolError(Exception):
    """A failure the model can act on (bad path, missing anchor...): its message becomes the observation."""


@dataclass(frozen=True)
class ToolResult:
    ok: bool
    text: str  # what the model reads
    title: str = ""  # one line for a person, e.g. "edited src/app.py (+3 -1)"
    data: dict[str, Any] = field(default_factory=dict)  # structured detail for callers (runtime, monitor, triage)
    diff: str | None = None  # unified diff of a change, shown highlighted to a person

    def __rich__(self) -> RenderableType:
        style = "green" if self.ok else "red"
        head = Text(self.title or ("ok" if self.ok else "error"), style=f"bold {style}")
        if self.diff:
            return Group(head, Syntax(self.diff, "diff", theme="ansi_dark", background_color="default"))
        return Group(head, Text(self.text))

    @classmethod
    def failure(cls, message: str, **data: Any) -> ToolResult:
        return cls(ok=False, text=f"error: {message}", title=message.splitlines()[0] if message else "error",
                   data=data)


@runtime_checkable
class Tool(Protocol):
    name: str
    description: str
    parameters: dict[str, Any]  # JSON schema of the arguments object

    @property
    def effect(self) -> Effect: ...

    def preview(self, args: Mapping[str, Any]) -> CallPreview: ...

    def run(self, args: Mapping[str, Any]) -> ToolResult: ...


def function_spec(tool: Tool) -> dict[str, Any]:
    """The OpenAI-style function description of a tool, as chat templates expect it."""
    return {
        "type": "function",
        "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters},
    }


def schema(properties: dict[str, dict[str, Any]], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


def check_args(tool: Tool, args: Mapping[str, Any]) -> str | None:
    """A one-line problem with `args` against the tool's schema, or None when they fit.

    Only the subset of JSON schema the tools use (object of scalars with required keys), so the parser's
    typed output and a hand-written call are checked the same way before anything touches the disk.
    """
    properties: dict[str, Any] = tool.parameters.get("properties", {})
    for key in tool.parameters.get("required", []):
        if key not in args:
            return f"{tool.name}: missing required argument '{key}'"
    python_types: dict[str, tuple[type, ...]] = {
        "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
        "array": (list,), "object": (dict,),
    }
    for key, value in args.items():
        if key not in properties:
            return f"{tool.name}: unknown argument '{key}' (known: {', '.join(properties)})"
        expected = properties[key].get("type")
        if expected is None or value is None:
            continue
        allowed = python_types.get(expected, (object,))
        if isinstance(value, bool) and expected in {"integer", "number"}:
            return f"{tool.name}: argument '{key}' must be {expected}, got a boolean"
        if not isinstance(value, allowed):
            return f"{tool.name}: argument '{key}' must be {expected}, got {type(value).__name__}"
    return None


def call_tool(tool: Tool, args: Mapping[str, Any]) -> ToolResult:
    """Validate, run, and turn a ToolError or an OS error into a failed result instead of an exception.

    An optional argument given as "" or null counts as left out: small models fill in every parameter of
    the schema ("path": "", "glob": ""), which otherwise fails or means something else ("" is no path).
    """
    required = set(tool.parameters.get("required", []))
    args = {key: value for key, value in args.items() if key in required or value not in ("", None)}
    problem = check_args(tool, args)
    if problem:
        return ToolResult.failure(problem)
    try:
        return tool.run(args)
    except ToolError as error:
        return ToolResult.failure(str(error))
    except OSError as error:
        return ToolResult.failure(f"{tool.name}: {error.strerror or error}: {error.filename or ''}".rstrip(": "))


def arg_str(args: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = args.get(key, default)
    if not isinstance(value, str):
        raise ToolError(f"argument '{key}' is required and must be a string")
    return value


def arg_int(args: Mapping[str, Any], key: str, default: int | None = None) -> int | None:
    value = args.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ToolError(f"argument '{key}' must be an integer")
    return value


def arg_bool(args: Mapping[str, Any], key: str, default: bool = False) -> bool:
    value = args.get(key, default)
    if not isinstance(value, bool):
        raise ToolError(f"argument '{key}' must be true or false")
    return value
