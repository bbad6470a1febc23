"""A fix for a failing check: asked of the model, checked by the guard, verified by the checks themselves.

The model answers under a JSON grammar with search-and-replace edits (`file` is an enum of the staged,
editable files, so it cannot name any other), because small models copy a passage far more reliably
than they write a unified diff that applies. Applying the edits ourselves gives a diff that always
applies. A proposal is offered only when all of this holds:

- every edit names an editable staged file (never a test or a verifier file) and its text is found;
- the guard (`guard.monitor.check_diff`) finds nothing: no test edits, skips, trivial asserts...;
- every check passes on the staged content with the edits applied (run in the sandbox, within the budget).

Otherwise the reason goes back to the model for another try, while the time budget lasts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ornith_local.guard.monitor import GuardPolicy, check_diff, is_test_path
from ornith_local.llm.backend import GenerateOptions, Message
from ornith_local.precommit.checks import CheckResult
from ornith_local.precommit.model import ModelSession
from ornith_local.tools.base import ToolError
from ornith_local.tools.edit import apply_edit
from ornith_local.tools.fileio import BinaryFileError, decode, encode
from ornith_local.tools.files import unified_diff

MAX_ATTEMPTS = 3
MAX_EDITS = 3
MAX_FILE_BYTES = 200_000
OUTPUT_CHARS = 3000
DIFF_CHARS = 4000
FILE_CHARS = 8000  # per file shown; longer files are shown around their staged hunks
CAUSE_CHARS = 200
SYSTEM = (
    "You fix a failing pre-commit check with the smallest possible edit. The user staged a change and one "
    "of the project's checks fails on it. Edit only the staged files listed under 'Files you may edit'. "
    "Never edit tests; never skip, delete or weaken a check; never special-case the values a test uses. "
    "Each edit replaces the text `find`, copied exactly from the file (indentation included) and unique in it, "
    "by `replace`. Say the cause in one short sentence."
)


class Rejected(Exception):
    """Why a proposal is not offered, worded for the user and fed back to the model."""


@dataclass(frozen=True)
class Edit:
    file: str
    find: str
    replace: str


@dataclass
class Suggestion:
    patch: str  # a git-style unified diff against the staged content
    cause: str
    files: list[str]
    model: str
    seconds: float  # from the first model call to the verified result


@dataclass
class Attempt:
    outcome: str  # "offered", or why the proposal was not offered
    seconds: float


@dataclass
class SuggestOutcome:
    model: str = ""
    suggestion: Suggestion | None = None
    attempts: list[Attempt] = field(default_factory=list)
    note: str = ""  # why there is no suggestion, when it is not in the attempts (budget, no model...)
    seconds: float = 0.0


def editable_files(tree: Path, present: list[str]) -> list[str]:
    """Staged text files the model may change: never tests, never the verifier's files, never binary."""
    policy = GuardPolicy(protect_tests=True)
    editable = []
    for path in present:
        if is_test_path(path) or policy.is_protected(path):
            continue
        full = tree / path
        try:
            if full.is_symlink() or full.stat().st_size > MAX_FILE_BYTES:
                continue
            decode(full.read_bytes())
        except (OSError, BinaryFileError):
            continue
        editable.append(path)
    return editable


def reply_schema(editable: list[str]) -> dict[str, Any]:
    # The grammar keeps this key order (both declared and alphabetical): the cause first, then the edits, each
    # naming its file and the text to find before the replacement.
    edit = {"type": "object", "properties": {"file": {"type": "string", "enum": editable},
                                             "find": {"type": "string", "minLength": 1},
                                             "replace": {"type": "string"}},
            "required": ["file", "find", "replace"], "additionalProperties": False}
    return {"type": "object", "properties": {"cause": {"type": "string", "maxLength": CAUSE_CHARS},
                                             "edits": {"type": "array", "items": edit, "minItems": 1,
                                                       "maxItems": MAX_EDITS}},
            "required": ["cause", "edits"], "additionalProperties": False}


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit // 3] + "\n[…]\n" + text[-(limit - limit // 3):]


def _failure_text(failures: list[CheckResult]) -> str:
    parts = []
    for result in failures:
        why = f"timed out ({result.note})" if result.status == "timeout" else f"exit {result.exit_code}"
        parts.append(f"Failing check: {result.check.name} ({why})\n$ {result.command}\n"
                     f"{_clip(result.output, OUTPUT_CHARS)}")
    return "\n\n".join(parts)


def _file_text(tree: Path, path: str) -> str:
    text, _ = decode((tree / path).read_bytes())
    return _clip(text, FILE_CHARS)


def build_messages(tree: Path, diff: str, failures: list[CheckResult], editable: list[str]) -> list[Message]:
    files = "\n\n".join(f"=== {path} ===\n{_file_text(tree, path)}" for path in editable)
    user = (f"{_failure_text(failures)}\n\nThe staged change (git diff --cached):\n{_clip(diff, DIFF_CHARS)}\n\n"
            f"Files you may edit (their staged content):\n{files}")
    return [Message("system", SYSTEM), Message("user", user)]


def parse_reply(text: str, editable: list[str]) -> tuple[str, list[Edit]]:
    """The cause and edits in the model's JSON; Rejected when it is not usable (the model is never trusted)."""
    try:
        data = json.loads(text)
    except ValueError:
        raise Rejected("the reply was not complete JSON (cut off, or not under the grammar)") from None
    if not isinstance(data, dict) or not isinstance(data.get("edits"), list) or not data["edits"]:
        raise Rejected("the reply had no edits")
    edits = []
    for item in data["edits"][:MAX_EDITS]:
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("file", "find", "replace")):
            raise Rejected("an edit was missing file, find or replace")
        path = item["file"]
        if path not in editable:
            what = "a test file" if is_test_path(path) else "a file outside the staged, editable files"
            raise Rejected(f"it edits {what} ({path})")
        edits.append(Edit(path, item["find"], item["replace"]))
    return str(data.get("cause", "")).strip()[:CAUSE_CHARS], edits


def apply_edits(tree: Path, edits: list[Edit]) -> dict[str, tuple[bytes, bytes]]:
    """path -> (staged bytes, edited bytes); Rejected when an anchor is missing or changes nothing."""
    changed: dict[str, tuple[bytes, bytes]] = {}
    for edit in edits:
        before = changed[edit.file][1] if edit.file in changed else (tree / edit.file).read_bytes()
        text, fmt = decode(before)
        try:
            outcome = apply_edit(text, edit.find, edit.replace, where=edit.file)
        except ToolError as error:
            raise Rejected(f"edit in {edit.file}: {str(error).splitlines()[0]}") from None
        original = changed[edit.file][0] if edit.file in changed else before
        changed[edit.file] = (original, encode(outcome.text, fmt))
    changed = {path: pair for path, pair in changed.items() if pair[0] != pair[1]}
    if not changed:
        raise Rejected("the edits change nothing")
    return changed


def patch_of(changed: dict[str, tuple[bytes, bytes]]) -> str:
    """A unified diff `git apply` takes (bytes kept exactly: CRLF and odd encodings survive)."""
    parts = []
    for path, (before, after) in sorted(changed.items()):
        body = unified_diff(path, before.decode("utf-8", "surrogateescape"), after.decode("utf-8", "surrogateescape"))
        parts.append(f"diff --git a/{path} b/{path}\n{body}")
    return "".join(parts)


def guard_reason(patch: str) -> str | None:
    findings = [f for f in check_diff(patch, GuardPolicy(protect_tests=True)) if f.flags_run]
    if not findings:
        return None
    return "the guard refused it: " + "; ".join(f"{f.detail} ({f.path})" if f.path else f.detail for f in findings)


Verify = Callable[[float], list[CheckResult]]  # runs the checks on the tree as it is now, until the deadline


def _options(editable: list[str]) -> GenerateOptions:
    return GenerateOptions(max_tokens=900, temperature=0.0, seed=0, json_schema=reply_schema(editable))


def _verified(tree: Path, changed: dict[str, tuple[bytes, bytes]], verify: Verify, deadline: float) -> None:
    """Run the checks with the edits in place, then put the staged bytes back whatever happened."""
    try:
        for path, (_, after) in changed.items():
            (tree / path).write_bytes(after)
        results = verify(deadline)
    finally:
        for path, (before, _) in changed.items():
            (tree / path).write_bytes(before)
    failed = [r for r in results if r.failed]
    if any(r.status == "timeout" for r in failed) and time.monotonic() >= deadline:
        raise Rejected("the time budget ran out while the checks ran on it")
    if failed:
        raise Rejected(f"the checks still fail on it: {failed[0].check.name}\n{_clip(failed[0].output, 1500)}")


def propose_fix(model: ModelSession, tree: Path, diff: str, failures: list[CheckResult], editable: list[str],
                verify: Verify, deadline: float) -> SuggestOutcome:
    """Ask, check and verify, up to MAX_ATTEMPTS proposals or until `deadline` (monotonic)."""
    started = time.monotonic()
    outcome = SuggestOutcome(model=model.name)
    messages = build_messages(tree, diff, failures, editable)
    options = _options(editable)
    for _ in range(MAX_ATTEMPTS):
        asked = time.monotonic()
        text = model.chat(messages, options, deadline)
        outcome.model = model.name
        if text is None:
            outcome.note = model.problem or "the time budget ran out before the model answered"
            break
        try:
            cause, edits = parse_reply(text, editable)
            changed = apply_edits(tree, edits)
            patch = patch_of(changed)
            reason = guard_reason(patch)
            if reason:
                raise Rejected(reason)
            _verified(tree, changed, verify, deadline)
        except Rejected as rejected:
            outcome.attempts.append(Attempt(str(rejected).splitlines()[0], time.monotonic() - asked))
            if time.monotonic() >= deadline:
                break
            messages += [Message("assistant", text),
                         Message("user", f"That fix was not used: {rejected}\nPropose a different, minimal fix.")]
            continue
        outcome.attempts.append(Attempt("offered", time.monotonic() - asked))
        outcome.suggestion = Suggestion(patch, cause, sorted(changed), model.name, time.monotonic() - started)
        break
    outcome.seconds = time.monotonic() - started
    return outcome
