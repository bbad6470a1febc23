"""The machine-facing and pasteable renderings of a TriageReport: JSON, Markdown and SARIF 2.1.0."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ornith_local import __version__
from ornith_local.triage.model import Cluster, Suspect, TriageReport

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
MARKDOWN_TESTS_SHOWN = 10


def to_json(report: TriageReport) -> str:
    return json.dumps(report.to_json(), indent=2)


def _code(root: Path, suspect: Suspect, context: int = 3) -> list[tuple[int, str]]:
    """The suspect's lines around its most suspicious one, clipped to the function."""
    try:
        lines = (root / suspect.path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    start = max(suspect.start_line, suspect.line - context, 1)
    end = min(suspect.end_line, suspect.line + context, len(lines))
    return [(number, lines[number - 1]) for number in range(start, end + 1)]


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(report: TriageReport) -> str:
    root = Path(report.root)
    counts = report.tests
    out = [f"## ornith triage: {report.summary}", ""]
    if report.test_command:
        out.append(f"`{report.test_command}` — {counts['failed']} failed, {counts['errors']} errors, "
                   f"{counts['passed']} passed, {counts['skipped']} skipped"
                   + (f" in {report.timings['tests_s']:.1f} s" if "tests_s" in report.timings else ""))
        out.append("")
    if report.suspects:
        out += ["### Most suspicious code", "", "| # | where | symbol | score | why |", "|---|---|---|---|---|"]
        for rank, suspect in enumerate(report.suspects, start=1):
            out.append(f"| {rank} | `{suspect.path}:{suspect.line}` | `{suspect.symbol}` | {suspect.score:.2f} "
                       f"| {_md_escape(suspect.why)} |")
        out.append("")
    for number, cluster in enumerate(report.clusters, start=1):
        out += _md_cluster(root, number, cluster)
    if report.status in {"timeout", "import-error", "error"} and report.output_tail and not report.clusters:
        out += ["<details><summary>test output (tail)</summary>", "", "```", report.output_tail.strip(), "```", "",
                "</details>", ""]
    for note in report.notes:
        out.append(f"> note: {note}")
    return "\n".join(out).rstrip() + "\n"


def _md_cluster(root: Path, number: int, cluster: Cluster) -> list[str]:
    count = len(cluster.tests)
    out = [f"### {number}. {_md_escape(cluster.signature)} ({count} test{'s' if count != 1 else ''})", ""]
    shown = cluster.tests[:MARKDOWN_TESTS_SHOWN]
    out += [f"- `{test}`" for test in shown]
    if count > len(shown):
        out.append(f"- … and {count - len(shown)} more")
    out.append("")
    if cluster.suspects:
        top = cluster.suspects[0]
        out.append(f"Top suspect: `{top.symbol}` in `{top.path}` (line {top.line}, score {top.score:.2f}): {top.why}")
        code = _code(root, top)
        if code:
            out += ["", "```python" if top.path.endswith(".py") else "```"]
            out += [f"{'>' if n == top.line else ' '} {n:>4} {text}" for n, text in code]
            out.append("```")
        others = ", ".join(f"`{s.symbol}` ({s.score:.2f})" for s in cluster.suspects[1:])
        if others:
            out += ["", f"Also: {others}"]
        out.append("")
    if cluster.explanation:
        out += [f"**Likely cause** ({cluster.explanation.model}): {_md_escape(cluster.explanation.cause)}", ""]
        if cluster.explanation.patch:
            applies = {True: "applies cleanly", False: "does not apply as is", None: "not checked"}
            out += [f"Proposed patch ({applies[cluster.explanation.patch_applies]}, not applied):", "", "```diff",
                    cluster.explanation.patch.rstrip(), "```", ""]
    return out


def to_sarif(report: TriageReport) -> str:
    """One result per cluster at its top suspect, plus the other suspects as related locations."""
    rules: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for number, cluster in enumerate(report.clusters, start=1):
        rule_id = f"triage/{cluster.kind}/{number}"
        rules.append({"id": rule_id, "name": f"FailingTests{number}",
                      "shortDescription": {"text": cluster.signature[:200]},
                      "properties": {"tests": cluster.tests}})
        if not cluster.suspects:
            continue
        top = cluster.suspects[0]
        count = len(cluster.tests)
        text = (f"{count} failing test{'s' if count != 1 else ''} ({cluster.signature}) most likely caused here: "
                f"{top.symbol} (score {top.score:.2f}; {top.why})")
        if cluster.explanation:
            text += f". Likely cause: {cluster.explanation.cause}"
        results.append({
            "ruleId": rule_id, "ruleIndex": number - 1, "level": "error" if top.score >= 0.5 else "warning",
            "message": {"text": text},
            "locations": [_location(top)],
            "relatedLocations": [dict(_location(s), id=i, message={"text": f"{s.symbol}: score {s.score:.2f}"})
                                 for i, s in enumerate(cluster.suspects[1:], start=1)],
            "partialFingerprints": {"ornithTriage/v1": f"{top.path}:{top.symbol}:{cluster.exception}"},
            "properties": {"score": round(top.score, 4), "signals": top.signals, "tests": cluster.tests},
        })
    sarif = {
        "$schema": SARIF_SCHEMA, "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "ornith-triage", "version": __version__,
                                "informationUri": "https://github.com/ornith-local/ornith-local", "rules": rules}},
            "originalUriBaseIds": {"SRCROOT": {"uri": Path(report.root).resolve().as_uri() + "/"}},
            "results": results,
            "invocations": [{"executionSuccessful": report.status in {"failures", "all-passed"},
                             "commandLine": report.test_command or "",
                             "properties": {"status": report.status, "summary": report.summary,
                                            "tests": report.tests}}],
        }],
    }
    return json.dumps(sarif, indent=2)


def _location(suspect: Suspect) -> dict[str, Any]:
    return {"physicalLocation": {
        "artifactLocation": {"uri": suspect.path, "uriBaseId": "SRCROOT"},
        "region": {"startLine": suspect.line},
        "contextRegion": {"startLine": suspect.start_line, "endLine": suspect.end_line},
    }, "logicalLocations": [{"fullyQualifiedName": suspect.symbol,
                             "kind": "function" if "." not in suspect.symbol else "member"}]}
