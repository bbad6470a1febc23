"""What an MCP tool's result and an SDK failure look like to the model: plain text, capped, one line for errors.

Text content is joined as it is; images, audio and binary resources are summarized (a small model cannot read
base64), embedded text resources are shown with their URI. Arguments are checked against the tool's own
input schema before anything is sent, so a malformed call costs the model one line, not a server round trip.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_RESULT_CHARS = 8_000  # a tool result is one observation in a small context window
MAX_LINE_CHARS = 300


@dataclass(frozen=True)
class CallOutcome:
    ok: bool  # False: the server ran the tool and reported an error (isError)
    text: str  # the result's content, rendered and capped


def error_line(error: BaseException) -> str:
    """One line for whatever the SDK, the transport or the process raised (groups: their first leaf)."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    detail = getattr(error, "error", None)  # mcp's MCPError carries the JSON-RPC ErrorData
    message = getattr(detail, "message", None) or str(error)
    if isinstance(error, OSError) and error.strerror:
        message = f"{error.strerror}: {error.filename}" if error.filename else error.strerror
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    return (lines[0] if lines else type(error).__name__)[:MAX_LINE_CHARS]


def cap(text: str, limit: int = MAX_RESULT_CHARS) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n... ({len(text) - limit} more characters cut)"


def _size(base64_data: str) -> str:
    return f"{len(base64_data) * 3 // 4} bytes"


def _block_text(block: Any) -> str:
    kind = getattr(block, "type", "")
    if kind == "text":
        return str(block.text)
    if kind in ("image", "audio"):
        return f"[{kind}: {block.mime_type}, {_size(block.data)}]"
    if kind == "resource":
        resource = block.resource
        text = getattr(resource, "text", None)
        if isinstance(text, str):
            return f"[resource {resource.uri}]\n{text}"
        return f"[resource {resource.uri}: {resource.mime_type or 'binary'}, {_size(resource.blob)}]"
    if kind == "resource_link":
        return f"[resource link {block.uri}" + (f": {block.name}" if getattr(block, "name", None) else "") + "]"
    return f"[{kind or 'unknown'} content]"


def render_result(result: Any) -> CallOutcome:
    """A `CallToolResult` as the model reads it; structured content only when there is no other content."""
    parts = [_block_text(block) for block in result.content]
    if not parts and result.structured_content is not None:
        parts = [json.dumps(result.structured_content, ensure_ascii=False, default=str)]
    text = "\n".join(parts) or "(the tool returned no content)"
    return CallOutcome(ok=not result.is_error, text=cap(text))


def argument_problem(schema: Mapping[str, Any], arguments: Mapping[str, Any]) -> str | None:
    """The most relevant way `arguments` break the tool's JSON schema, in one line; None when they fit
    (or when the server's schema is itself not valid, which is the server's to answer)."""
    jsonschema: Any = importlib.import_module("jsonschema")  # the SDK's own dependency; it ships no type hints
    try:
        validator = jsonschema.validators.validator_for(schema)(schema)
        validator.check_schema(schema)
    except jsonschema.exceptions.SchemaError:
        return None
    error = jsonschema.exceptions.best_match(validator.iter_errors(dict(arguments)))
    if error is None:
        return None
    where = ".".join(str(part) for part in error.absolute_path)
    return (f"argument '{where}': " if where else "arguments: ") + error_line(ValueError(error.message))
