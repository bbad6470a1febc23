"""Ornith's approvals as ACP `session/request_permission`: what the editor is asked, and what its answer means.

The question carries the tool's own preview (the diff the edit would make, the command it would run), the same
the CLI prompt and the TUI show; the answer is one of the approvals' words: yes, always (for this run) or no.
"""

from __future__ import annotations

from acp import helpers
from acp.schema import (
    AllowedOutcome,
    PermissionOption,
    RequestPermissionResponse,
    ToolCallUpdate,
)

from ornith_local.acp.updates import ToolContent, diff_contents, text_content, tool_kind
from ornith_local.guard.approvals import Answer
from ornith_local.tools.base import CallPreview

ALLOW, ALWAYS, REJECT = "allow", "always", "reject"
OPTIONS = [
    PermissionOption(option_id=ALLOW, name="Allow", kind="allow_once"),
    PermissionOption(option_id=ALWAYS, name="Allow this tool for the rest of the run", kind="allow_always"),
    PermissionOption(option_id=REJECT, name="Reject", kind="reject_once"),
]
ANSWERS: dict[str, Answer] = {ALLOW: "yes", ALWAYS: "always", REJECT: "no"}


def permission_call(call_id: str, tool: str, preview: CallPreview, tier: str) -> ToolCallUpdate:
    """The call the editor is asked about, as its tool card: the preview's diff natively, else its text."""
    content: list[ToolContent] = [*diff_contents(preview.text)] if preview.kind == "diff" else []
    if not content:
        content = [text_content(preview.text)]
    if tier not in ("", "?"):
        content.append(helpers.tool_content(helpers.text_block(f"(tool {tool} · sandbox: {tier})")))
    return ToolCallUpdate(tool_call_id=call_id, title=preview.title, kind=tool_kind(tool), status="pending",
                          content=content)


def answer_of(response: RequestPermissionResponse) -> Answer:
    """The editor's choice as the approvals' answer; a cancelled request, or an option we never offered, is a no."""
    outcome = response.outcome
    if isinstance(outcome, AllowedOutcome):
        return ANSWERS.get(outcome.option_id, "no")
    return "no"
