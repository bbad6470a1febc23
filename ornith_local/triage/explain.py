"""Optional model explanations for the top clusters, under a time budget the report never waits past.

Each cluster becomes one grammar-constrained chat: the failure, a short traceback and the top suspects'
code in; `{"cause", "confidence", "culprit", "patch"?}` out, where `culprit` must be one of our
suspects (an enum in the schema). The CLI runs the model in a child process (`explain_in_subprocess`)
that is killed at the deadline, so a slow model costs at most the budget and leaves nothing running;
`explain_with_backend` is the same loop in-process, for a backend already open (tests, HTTP).
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from ornith_local.config.settings import ModelSettings
from ornith_local.llm.backend import Backend, BackendError, GenerateOptions, Message
from ornith_local.sandbox import host_git_command
from ornith_local.triage.model import Cluster, Explanation, TriageReport

SYSTEM = (
    "You are a debugging assistant. A project's test suite fails. You get one group of failing tests that share "
    "a root cause, the error, and the functions a fault-localization tool ranks as most suspicious, with their "
    "code. Say in one or two sentences what most likely causes the failures, and pick the culprit function."
)
SUGGEST = " Also propose the smallest fix as a unified diff (--- a/PATH, +++ b/PATH, paths from the repo root)."
DETAILS_CHARS = 1200
CODE_LINES = 40
SUSPECTS_SHOWN = 3
CAUSE_CHARS = 200


@dataclass(frozen=True)
class Job:
    cluster: int  # index into report.clusters
    messages: tuple[tuple[str, str], ...]  # (role, content): plain tuples so they pickle to the child
    culprits: tuple[str, ...]  # "path::symbol" of the suspects shown


def _function_source(root: Path, path: str, start: int, end: int) -> str:
    try:
        lines = (root / path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    end = min(end, start + CODE_LINES - 1, len(lines))
    return "\n".join(f"{number:>5} {lines[number - 1]}" for number in range(start, end + 1))


def build_job(root: Path, index: int, cluster: Cluster, suggest: bool) -> Job:
    suspects = cluster.suspects[:SUSPECTS_SHOWN]
    tests = ", ".join(cluster.tests[:5]) + (f" and {len(cluster.tests) - 5} more" if len(cluster.tests) > 5 else "")
    parts = [f"Failure group: {cluster.signature}", f"Failing tests ({len(cluster.tests)}): {tests}",
             f"Error: {cluster.exception}: {cluster.message}"]
    if cluster.details:
        parts.append("Traceback (as the test runner printed it):\n" + cluster.details.strip()[-DETAILS_CHARS:])
    parts.append("Suspects, most suspicious first:")
    for rank, suspect in enumerate(suspects, start=1):
        parts.append(f"[{rank}] {suspect.path}::{suspect.symbol} (score {suspect.score:.2f}; {suspect.why})\n"
                     f"```\n{_function_source(root, suspect.path, suspect.start_line, suspect.end_line)}\n```")
    messages = (("system", SYSTEM + (SUGGEST if suggest else "")), ("user", "\n\n".join(parts)))
    return Job(index, messages, tuple(f"{s.path}::{s.symbol}" for s in suspects))


def reply_schema(culprits: tuple[str, ...], suggest: bool) -> dict[str, Any]:
    # Keys sort alphabetically in the grammar, so the free-form patch comes last: when max_tokens cuts
    # a reply, the short fields before it are already complete and can be salvaged.
    properties: dict[str, Any] = {
        "cause": {"type": "string", "maxLength": CAUSE_CHARS},
        "confidence": {"type": "string", "enum": ["low", "medium", "high"]},
        "culprit": {"type": "string", "enum": list(culprits) or ["unknown"]},
    }
    if suggest:
        properties["patch"] = {"type": "string"}
    return {"type": "object", "properties": properties, "required": sorted(properties),
            "additionalProperties": False}


def parse_reply(text: str, job: Job) -> Explanation | None:
    """The model's JSON as an Explanation; a reply cut short keeps whichever fields were complete."""
    try:
        data = json.loads(text)
    except ValueError:
        data = {key: match.group(1) for key in ("cause", "confidence", "culprit", "patch")
                if (match := re.search(rf'"{key}"\s*:\s*"((?:[^"\\]|\\.)*)"', text))}
        data = {key: json.loads(f'"{value}"') for key, value in data.items()}
    if not isinstance(data, dict) or not str(data.get("cause", "")).strip():
        return None
    culprit = str(data.get("culprit", ""))
    patch = str(data.get("patch", "")).strip() or None
    return Explanation(cause=str(data["cause"]).strip(), suspect=culprit if culprit in job.culprits else None,
                       confidence=str(data.get("confidence", "")), patch=patch)


def _options(job: Job, suggest: bool) -> GenerateOptions:
    return GenerateOptions(max_tokens=700 if suggest else 200, temperature=0.0, seed=0,
                           json_schema=reply_schema(job.culprits, suggest))


def _messages(job: Job) -> list[Message]:
    return [Message(role, content) for role, content in job.messages]  # type: ignore[arg-type]


def patch_applies(root: Path, patch: str) -> bool:
    """`git apply --check`: would the proposed patch apply to the working tree (it is never applied)."""
    try:
        result = subprocess.run(host_git_command(root, "apply", "--check", "-"), input=patch + "\n", text=True,
                                capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def explain_with_backend(backend: Backend, jobs: list[Job], *, suggest: bool, deadline: float,
                         on_result: Callable[[int, str, float], None]) -> None:
    """Run the jobs in order until the deadline (checked between jobs: one chat cannot be interrupted)."""
    for job in jobs:
        if time.monotonic() >= deadline:
            return
        started = time.monotonic()
        completion = backend.chat(_messages(job), _options(job, suggest))
        on_result(job.cluster, completion.text, time.monotonic() - started)


def _child(settings: dict[str, Any], model: str | None, jobs: list[Job], suggest: bool, conn: Connection) -> None:
    from ornith_local.llm.factory import open_backend

    # llama.cpp writes to fd 2 from C; the user's terminal shows the report, not the engine's chatter.
    # Failures still reach the parent, through the pipe.
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
    try:
        backend = open_backend(ModelSettings(**settings), model=model)
        conn.send(("loaded", backend.name))
        explain_with_backend(backend, jobs, suggest=suggest, deadline=float("inf"),
                             on_result=lambda index, text, seconds: conn.send(("result", (index, text, seconds))))
        conn.send(("done", None))
    except Exception as error:  # anything the model layer raises becomes one line in the report
        conn.send(("error", f"{type(error).__name__}: {error}".splitlines()[0][:300]))


@dataclass
class ExplainOutcome:
    explained: int = 0
    model: str = ""
    note: str = ""  # why fewer clusters were explained than asked (budget, load failure, garbage output)
    seconds: float = 0.0


def select_jobs(report: TriageReport, max_clusters: int, suggest: bool) -> list[Job]:
    root = Path(report.root)
    return [build_job(root, index, cluster, suggest) for index, cluster in enumerate(report.clusters[:max_clusters])
            if cluster.suspects]


def _apply(report: TriageReport, job: Job, text: str, seconds: float, model: str, outcome: ExplainOutcome) -> None:
    explanation = parse_reply(text, job)
    if explanation is None:
        outcome.note = outcome.note or "the model's reply was not a usable explanation"
        return
    explanation.model, explanation.seconds = model, seconds
    if explanation.patch:
        explanation.patch_applies = patch_applies(Path(report.root), explanation.patch)
    report.clusters[job.cluster].explanation = explanation
    outcome.explained += 1


def explain_in_subprocess(report: TriageReport, settings: ModelSettings, model: str | None, *, budget_s: float,
                          max_clusters: int = 3, suggest: bool = False) -> ExplainOutcome:
    """Explain the top clusters with the model in a child process, killed when `budget_s` is spent."""
    started = time.monotonic()
    outcome = ExplainOutcome(model=model or settings.name or "")
    jobs = {job.cluster: job for job in select_jobs(report, max_clusters, suggest)}
    if not jobs:
        return outcome
    context = multiprocessing.get_context("spawn")  # no fork: the parent may hold threads and a console
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(asdict(settings), model, list(jobs.values()), suggest, sender),
                            daemon=True)
    child.start()
    sender.close()
    deadline = started + budget_s
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                outcome.note = f"model time budget ({budget_s:.0f} s) spent after {outcome.explained} of " \
                               f"{len(jobs)} clusters"
                break
            if not receiver.poll(min(remaining, 0.5)):
                if not child.is_alive():
                    outcome.note = "the model process ended early"
                    break
                continue
            kind, payload = receiver.recv()
            if kind == "loaded":
                outcome.model = str(payload)
            elif kind == "result":
                index, text, seconds = payload
                _apply(report, jobs[index], text, seconds, outcome.model, outcome)
            elif kind == "error":
                outcome.note = f"model unavailable: {payload}"
                break
            else:  # done
                break
    except (EOFError, OSError):
        outcome.note = outcome.note or "the model process ended early"
    finally:
        if child.is_alive():
            child.terminate()
        child.join(5)
        receiver.close()
    outcome.seconds = time.monotonic() - started
    return outcome


def explain_in_process(report: TriageReport, backend: Backend, *, budget_s: float, max_clusters: int = 3,
                       suggest: bool = False) -> ExplainOutcome:
    started = time.monotonic()
    outcome = ExplainOutcome(model=backend.name)
    jobs = {job.cluster: job for job in select_jobs(report, max_clusters, suggest)}
    try:
        explain_with_backend(
            backend, list(jobs.values()), suggest=suggest, deadline=started + budget_s,
            on_result=lambda index, text, seconds: _apply(report, jobs[index], text, seconds, backend.name, outcome))
    except BackendError as error:
        outcome.note = f"model failed: {error}"
    if outcome.explained < len(jobs) and not outcome.note:
        outcome.note = f"model time budget ({budget_s:.0f} s) spent after {outcome.explained} of {len(jobs)} clusters"
    outcome.seconds = time.monotonic() - started
    return outcome
