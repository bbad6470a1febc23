"""Run the project's suite once, in the sandbox, through `run_tests`, with per-test line coverage on the side.

`run_tests` detects and runs the suite and parses its results; this adds only environment: `_EnvSandbox`
passes PYTHONPATH / PYTEST_ADDOPTS through to the sandboxed command so our pytest plugin
(`_coverage_plugin.py`) records which test ran which line. One run gives both the results and the
spectra: triage ranks suspects with them, the agent's verifier asks which tests execute a change.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ornith_local.sandbox import CommandResult, Sandbox, ShellSession, with_read_only
from ornith_local.tools.testing import Frame, TestCommand, TestReport, run_tests
from ornith_local.tools.testing.spectra import Spectra, read_spectra

PLUGIN_MODULE = "ornith_triage_cov"
_DUMP_FRAME = re.compile(r'File "(?P<path>[^"]+)", line (?P<line>\d+) in (?P<func>\S+)')
PLUGIN_SOURCE = Path(__file__).with_name("_coverage_plugin.py")
SCRATCH_PREFIX = ".ornith-triage-"


class _EnvSandbox:
    """A Sandbox that adds variables to every command's environment (run_tests takes no env of its own)."""

    def __init__(self, inner: Sandbox, env: Mapping[str, str]) -> None:
        self.inner = inner
        self.env = dict(env)
        self.tier = inner.tier
        self.unsandboxed = inner.unsandboxed

    def run(self, command: str | Sequence[str], *, workspace: Path, timeout_s: float | None = None,
            env: Mapping[str, str] | None = None, allow_network: bool = False, stdin: str | None = None,
            ) -> CommandResult:
        merged = {**(env or {}), **self.env}
        return self.inner.run(command, workspace=workspace, timeout_s=timeout_s, env=merged,
                              allow_network=allow_network, stdin=stdin)

    def shell(self, *, workspace: Path, env: Mapping[str, str] | None = None,
              allow_network: bool = False) -> ShellSession:
        return self.inner.shell(workspace=workspace, env={**(env or {}), **self.env}, allow_network=allow_network)


@dataclass
class Progress:
    """What the plugin's progress log says, for a run that was killed before it could report."""

    outcomes: dict[str, str] = field(default_factory=dict)  # node id -> passed / failed / skipped
    unfinished: list[str] = field(default_factory=list)  # started, never reported: the likely hang


@dataclass
class SuiteRun:
    report: TestReport
    spectra: Spectra | None
    coverage_note: str = ""  # why there is no coverage, or what is wrong with it
    progress: Progress = field(default_factory=Progress)
    hang: tuple[Frame, ...] = ()  # where the test thread was when a timed-out run was about to be killed


def _omit(root: Path, scratch: Path) -> list[str]:
    # Anchored at the root: a bare "*/tests/*" would also match a root that itself sits under tests/.
    base = str(root)
    patterns = ["**/tests/*", "**/test/*", "**/test_*.py", "**/*_test.py", "**/*_tests.py", "**/conftest.py",
                "**/.venv/*", "**/venv/*", "**/.tox/*", "**/.nox/*", "**/node_modules/*"]
    return [f"{base}/{pattern}" for pattern in patterns] + [f"{scratch}/*", "*/site-packages/*"]


def _prepare_scratch(root: Path) -> Path:
    import coverage

    scratch = root / f"{SCRATCH_PREFIX}{secrets.token_hex(4)}"
    scratch.mkdir()
    shutil.copyfile(PLUGIN_SOURCE, scratch / f"{PLUGIN_MODULE}.py")
    # A copy, not a link: ornith's own environment may sit where the sandbox hides it (under $HOME).
    shutil.copytree(Path(coverage.__file__).parent, scratch / "vendor" / "coverage",
                    ignore=shutil.ignore_patterns("__pycache__", "htmlfiles"))
    return scratch


def _coverage_env(root: Path, scratch: Path, timeout_s: float) -> dict[str, str]:
    settings = {"source": [str(root)], "omit": _omit(root, scratch)}
    # A stack dump every so often; the last one before the kill shows where a hang was stuck.
    dump_every = min(max(timeout_s / 8, 1.0), 30.0)
    return {"PYTHONPATH": str(scratch), "PYTEST_ADDOPTS": f"-p {PLUGIN_MODULE}", "ORNITH_TRIAGE_DIR": str(scratch),
            "ORNITH_TRIAGE_COVERAGE": json.dumps(settings), "ORNITH_TRIAGE_DUMP_EVERY": f"{dump_every:.1f}"}


def _read_hang(scratch: Path) -> tuple[Frame, ...]:
    """The test thread's stack in faulthandler's last dump (most recent call first), outermost first."""
    best: list[Frame] = []
    for dump in sorted(scratch.glob("hang-*.txt")):
        last = dump.read_text(encoding="utf-8", errors="replace").rsplit("Timeout (", 1)[-1]
        for block in re.split(r"\n(?=\S)", last):
            frames = [Frame(m["path"], int(m["line"]), m["func"]) for m in _DUMP_FRAME.finditer(block)]
            if sum("pytest" in f.path for f in frames) > sum("pytest" in f.path for f in best):
                best = frames
    return tuple(reversed(best))


def _read_progress(scratch: Path) -> Progress:
    progress = Progress()
    started: list[str] = []
    for log in sorted(scratch.glob("progress-*.log")):
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            event, _, node_id = line.partition("\t")
            if event == "start":
                started.append(node_id)
            elif node_id and progress.outcomes.get(node_id) != "failed":  # a teardown error stays red
                progress.outcomes[node_id] = event
    progress.unfinished = [node_id for node_id in started if node_id not in progress.outcomes]
    return progress


def _plugin_problem(scratch: Path) -> str:
    for meta in sorted(scratch.glob("meta-*.json")):
        try:
            problem = json.loads(meta.read_text(encoding="utf-8")).get("problem", "")
        except (OSError, ValueError):
            continue
        if problem:
            return str(problem)
    return ""


def is_pytest(command: TestCommand) -> bool:
    """The command runs pytest (detected, or configured as a command that calls it): the plugin can record."""
    return command.runner == "pytest" or (command.runner == "custom" and "pytest" in command.display)


def run_suite(root: Path, sandbox: Sandbox, command: TestCommand, *, timeout_s: float, coverage: bool = True,
              include: Callable[[str], bool] = lambda path: True, select: Sequence[str] = ()) -> SuiteRun:
    """Run `command` once (or its `select`ed tests); spectra of the files `include` keeps when the suite is
    pytest-based and coverage.py could record."""
    if not (coverage and is_pytest(command)):
        report = run_tests(root, sandbox, command=command, timeout_s=timeout_s, select=select)
        note = "coverage off (--no-coverage)" if not coverage else \
            f"no per-test coverage for {command.runner} suites (measured for pytest suites only)"
        return SuiteRun(report, None, note)
    scratch = _prepare_scratch(root)
    try:
        # The interpreter's own folders first (a venv linking outside the repo): the wrapper hides the real sandbox.
        shown = with_read_only(sandbox, command.read_only)
        report = run_tests(root, _EnvSandbox(shown, _coverage_env(root, scratch, timeout_s)), command=command,
                           timeout_s=timeout_s, select=select)
        progress = _read_progress(scratch)
        hang = _read_hang(scratch) if report.timed_out else ()
        data_files = sorted(scratch.glob("coverage.data.*"))
        problem = _plugin_problem(scratch)
        spectra = read_spectra(data_files, root, include=include) if data_files \
            else None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    note = problem
    if spectra is None and not note:
        note = "the run was killed before coverage was saved" if report.timed_out else \
            "no coverage was recorded (the suite may not run pytest in this interpreter)"
    return SuiteRun(report, spectra, note, progress, hang)
