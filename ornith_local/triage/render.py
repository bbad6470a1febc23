"""The terminal report: a headline, then each cluster with its tests and suspects and the top suspect's code."""

from __future__ import annotations

from pathlib import Path

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from ornith_local.triage.model import Cluster, Suspect, TriageReport

TESTS_SHOWN = 5
_STATUS_STYLE = {"failures": "bold red", "all-passed": "bold green", "no-suite": "bold yellow",
                 "no-tests": "bold yellow", "import-error": "bold red", "timeout": "bold red", "error": "bold red"}


def _evidence(suspect: Suspect) -> str:
    """The signals in a few words (the JSON and Markdown carry the long `why`)."""
    parts = []
    if suspect.signals.get("sbfl", 0) > 0:
        parts.append(f"run by {suspect.failed} failing / {suspect.passed} passing")
    traceback = suspect.signals.get("traceback", 0)
    if traceback > 0:
        parts.append("raised here" if traceback >= 0.5 else "in the call chain")
    if suspect.signals.get("git", 0) > 0:
        parts.append("changed recently")
    return ", ".join(parts)


def _suspect_table(suspects: list[Suspect], title: str | None = None) -> Table:
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False, expand=False)
    table.add_column("#", justify="right", style="dim")
    table.add_column("where", style="cyan", overflow="fold")
    table.add_column("symbol", style="bold", overflow="fold")
    table.add_column("score", justify="right")
    table.add_column("evidence", style="dim")
    for rank, suspect in enumerate(suspects, start=1):
        table.add_row(str(rank), f"{suspect.path}:{suspect.line}", suspect.symbol, f"{suspect.score:.2f}",
                      _evidence(suspect))
    return table


def _code(root: Path, suspect: Suspect, context: int = 4) -> RenderableType | None:
    path = root / suspect.path
    try:
        total = len(path.read_text(encoding="utf-8", errors="replace").splitlines())
    except OSError:
        return None
    start = max(suspect.start_line, suspect.line - context, 1)
    end = min(suspect.end_line, suspect.line + context, total)
    return Syntax.from_path(str(path), line_numbers=True, line_range=(start, end), highlight_lines={suspect.line},
                            theme="ansi_dark", background_color="default")


def _cluster_panel(root: Path, number: int, cluster: Cluster) -> Panel:
    parts: list[RenderableType] = []
    count = len(cluster.tests)
    tests = Text()
    for test in cluster.tests[:TESTS_SHOWN]:
        tests.append(f"  ✗ {test}\n", style="red")
    if count > TESTS_SHOWN:
        tests.append(f"  … and {count - TESTS_SHOWN} more\n", style="dim")
    parts.append(tests)
    if cluster.message and cluster.kind != "wrong-value":
        parts.append(Text(f"{cluster.exception}: {cluster.message}"[:300], style="yellow"))
    for variant in cluster.variants:
        parts.append(Text(f"same suspect as: {variant}", style="dim"))
    if cluster.suspects:
        parts.append(_suspect_table(cluster.suspects))
        code = _code(root, cluster.suspects[0])
        if code is not None:
            parts.append(code)
    else:
        parts.append(Text("no suspect in project code (the failures never reached it)", style="dim"))
    if cluster.explanation:
        explanation = cluster.explanation
        parts.append(Text.assemble(("likely cause", "bold magenta"), f" ({explanation.model}, "
                                   f"{explanation.seconds:.0f} s): ", explanation.cause))
        if explanation.patch:
            applies = {True: "applies cleanly", False: "does not apply as is", None: "not checked"}
            parts.append(Text(f"proposed patch ({applies[explanation.patch_applies]}; not applied):", style="magenta"))
            parts.append(Syntax(explanation.patch, "diff", theme="ansi_dark", background_color="default"))
    title = f"[bold]{number}.[/] {cluster.signature}  [dim]({count} test{'s' if count != 1 else ''})[/]"
    return Panel(Group(*parts), title=title, title_align="left", border_style="red")


def render(report: TriageReport) -> RenderableType:
    root = Path(report.root)
    parts: list[RenderableType] = [Text(report.summary, style=_STATUS_STYLE.get(report.status, "bold"))]
    if report.test_command:
        counts = report.tests
        timing = "  ".join(f"{name.removesuffix('_s')} {value:.1f} s" for name, value in report.timings.items())
        parts.append(Text(
            f"{report.test_command}  ·  {counts['failed']} failed, {counts['errors']} errors, {counts['passed']} "
            f"passed, {counts['skipped']} skipped  ·  sandbox {report.sandbox_tier}  ·  {timing}", style="dim"))
    for number, cluster in enumerate(report.clusters, start=1):
        parts.append(_cluster_panel(root, number, cluster))
    if len(report.clusters) > 1 and report.suspects:
        parts.append(_suspect_table(report.suspects, title="Overall, most suspicious first"))
    if report.status in {"timeout", "import-error", "error", "no-tests"} and report.output_tail and \
            not report.clusters:
        tail = "\n".join(report.output_tail.strip().splitlines()[-25:])
        parts.append(Panel(Text(tail), title="test output (last lines)", border_style="dim"))
    for note in report.notes:
        parts.append(Text(f"note: {note}", style="dim"))
    return Group(*parts)
