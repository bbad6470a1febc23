"""The values parsing hands to the agent: calls, problems, the parsed output and the stream events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeAlias

# A JSON value as the tool executor receives it (what `json.loads` can return).
JSONValue: TypeAlias = bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"] | None

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """Something wrong with the model's output, worded so the agent can send it back to the model.

    `error`: something was not run or not understood (the call is invalid or was dropped).
    `warning`: the parser recovered (e.g. a missing closing tag); nothing was lost.
    """

    code: str
    message: str
    severity: Severity = "error"
    call_index: int | None = None  # index into ParsedOutput.tool_calls, when it concerns one call

    def to_json(self) -> dict[str, JSONValue]:
        return {"code": self.code, "severity": self.severity, "message": self.message,
                "call_index": self.call_index}


@dataclass(frozen=True)
class ToolCall:
    """One call the model made. `valid` is False when an error problem is attached: do not run it as-is."""

    index: int
    name: str
    arguments: dict[str, JSONValue]
    raw: str  # the call's text as the model wrote it, markers included
    format: str  # "hermes", "qwen3_xml", "gemma4", or "openai" when a server parsed it
    valid: bool = True
    server_id: str | None = None  # the id a server gave the call: its result must be sent back under it

    @property
    def id(self) -> str:
        return self.server_id or f"call_{self.index}"

    def to_json(self) -> dict[str, JSONValue]:
        return {"id": self.id, "name": self.name, "arguments": self.arguments, "valid": self.valid}


@dataclass(frozen=True)
class ParsedOutput:
    """reasoning: None when the output had no reasoning block; content: text outside reasoning and calls."""

    reasoning: str | None
    content: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def problems_for(self, call_index: int) -> list[Problem]:
        return [p for p in self.problems if p.call_index == call_index]

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "reasoning": self.reasoning,
            "content": self.content,
            "tool_calls": [call.to_json() for call in self.tool_calls],
            "problems": [problem.to_json() for problem in self.problems],
        }


# --- stream events -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True)
class ContentDelta:
    text: str


@dataclass(frozen=True)
class ToolCallStarted:
    """An opening tag was seen; the call's text is being received (a UI can show "calling…")."""

    marker: str


@dataclass(frozen=True)
class ToolCallDone:
    call: ToolCall


@dataclass(frozen=True)
class ProblemFound:
    problem: Problem


Event: TypeAlias = ReasoningDelta | ContentDelta | ToolCallStarted | ToolCallDone | ProblemFound
