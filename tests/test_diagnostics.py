"""Diagnostics after every edit: real edits through edit_file / write_file on real temp projects.

The syntax check is the interpreter's compiler and tree-sitter; the lint findings come from the real
`ruff server` over LSP (pygls's client), started once per run and shut down at its end. A server that never
answers is a real process that reads nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from ornith_local.agent import events
from ornith_local.agent.trajectory import read_events
from ornith_local.config import ConfigError, load_config
from ornith_local.config.settings import DiagnosticsSettings, SandboxSettings
from ornith_local.llm.scripted import ScriptedBackend
from ornith_local.sandbox import CommandResult, Sandbox, ShellSession, open_sandbox
from ornith_local.session import RunRequest, open_run
from ornith_local.tools.base import ToolResult, call_tool
from ornith_local.tools.diagnostics import (
    Diagnostic,
    Diagnostics,
    LanguageServerSource,
    LoopThread,
    SyntaxSource,
    new_since,
    open_diagnostics,
)
from ornith_local.tools.diagnostics.eslint import EslintSource, eslint_configured
from ornith_local.tools.diagnostics.lsp import wait_until
from ornith_local.tools.diagnostics.project import PY_SUFFIXES, executable, pyright_server
from ornith_local.tools.diagnostics.syntax import syntax_errors
from ornith_local.tools.edit import EditFile
from ornith_local.tools.files import ReadFile, WriteFile
from ornith_local.tools.repomap.languages import grammar
from ornith_local.tools.workspace import Workspace

RUFF = executable("ruff")
needs_ruff = pytest.mark.skipif(RUFF is None, reason="ruff is not installed next to this interpreter or on PATH")

SOURCE = """import os


def total(items):
    return sum(item.price for item in items)
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "cart.py").write_text(SOURCE)
    return tmp_path


@pytest.fixture
def ruff_project(project: Path) -> Path:
    (project / "pyproject.toml").write_text('[project]\nname = "cart"\n\n[tool.ruff]\nline-length = 100\n')
    return project


def opened(root: Path, **settings: object) -> Iterator[Diagnostics]:
    diagnostics = open_diagnostics(root, DiagnosticsSettings(**settings))  # type: ignore[arg-type]
    assert diagnostics is not None
    try:
        yield diagnostics
    finally:
        diagnostics.close()


@pytest.fixture
def diagnostics(project: Path) -> Iterator[Diagnostics]:
    yield from opened(project)


def edit(root: Path, diagnostics: Diagnostics | None, old: str, new: str, path: str = "cart.py") -> ToolResult:
    return call_tool(EditFile(Workspace.at(root), diagnostics=diagnostics),
                     {"path": path, "old_string": old, "new_string": new})


# --- syntax ----------------------------------------------------------------------------------------------


def test_an_edit_that_breaks_python_syntax_says_so_in_its_result(project: Path, diagnostics: Diagnostics) -> None:
    result = edit(project, diagnostics, "def total(items):", "def total(items:")
    assert result.ok  # the edit is made; the model is told what it broke
    assert "def total(items:" in (project / "cart.py").read_text()
    assert "new problems in cart.py" in result.text
    assert "cart.py:4:" in result.text and "(syntax)" in result.text
    assert result.data["unparseable"] is True
    assert "1 new problem" in result.title


def test_a_clean_edit_carries_no_diagnostics(project: Path, diagnostics: Diagnostics) -> None:
    result = edit(project, diagnostics, "return sum(", "return 0 + sum(")
    assert result.ok
    assert "new problems" not in result.text and "timed out" not in result.text
    assert result.data["diagnostics"] == [] and result.data["unparseable"] is False


def test_without_diagnostics_a_broken_edit_is_silent(project: Path) -> None:
    """The control: the same breaking edit with no `Diagnostics` leaves the model to find out later."""
    result = edit(project, None, "def total(items):", "def total(items:")
    assert result.ok and "new problems" not in result.text and "diagnostics" not in result.data


def test_a_syntax_error_the_file_already_had_is_not_repeated(project: Path, diagnostics: Diagnostics) -> None:
    (project / "cart.py").write_text(SOURCE + "\ndef broken(:\n    pass\n")
    result = edit(project, diagnostics, "import os", "import os\nimport sys")
    assert result.ok and "new problems" not in result.text


def test_a_file_this_run_broke_is_said_to_be_broken_after_every_edit_until_it_parses(
        project: Path, diagnostics: Diagnostics) -> None:
    """A model that repeats its breaking edit must not hear silence the second time."""
    first = edit(project, diagnostics, "def total(items):", "def total(items):\n        x = 1")
    assert "new problems" in first.text and "IndentationError" in first.text
    second = edit(project, diagnostics, "def total(items):", "def total(items):\n        y = 2")
    assert "still does not parse" in second.text and "IndentationError" in second.text, second.text
    fixed = edit(project, diagnostics, "\n        y = 2\n        x = 1", "")
    assert fixed.ok and "parse" not in fixed.text and "new problems" not in fixed.text, fixed.text


def test_write_file_of_a_new_broken_file_reports_it(project: Path, diagnostics: Diagnostics) -> None:
    result = call_tool(WriteFile(Workspace.at(project), diagnostics=diagnostics),
                       {"path": "pkg/new.py", "content": "def f(:\n    return 1\n"})
    assert result.ok and "pkg/new.py:1:" in result.text and "(syntax)" in result.text


def test_write_file_over_a_read_file_reports_only_new_problems(project: Path, diagnostics: Diagnostics) -> None:
    workspace = Workspace.at(project)
    call_tool(ReadFile(workspace), {"path": "cart.py"})
    result = call_tool(WriteFile(workspace, diagnostics=diagnostics),
                       {"path": "cart.py", "content": SOURCE.replace("return sum(", "return sum((")})
    assert result.ok and "(syntax)" in result.text


@pytest.mark.parametrize(("name", "language", "good", "bad"), [
    ("app.js", "javascript", "function add(a, b) {\n  return a + b;\n}\n", "function add(a, b) {\n  return a + ;\n}\n"),
    ("app.ts", "typescript", "export function add(a: number): number {\n  return a;\n}\n",
     "export function add(a: number): number {\n  return a;\n"),
])
def test_a_js_or_ts_syntax_error_is_found_by_tree_sitter(tmp_path: Path, name: str, language: str, good: str,
                                                         bad: str) -> None:
    if grammar(language) is None:
        pytest.skip(f"no tree-sitter grammar for {language} installed")
    (tmp_path / name).write_text(good)
    diagnostics = open_diagnostics(tmp_path, DiagnosticsSettings())
    assert diagnostics is not None
    try:
        clean = call_tool(WriteFile(Workspace.at(tmp_path), diagnostics=diagnostics),
                          {"path": f"copy-{name}", "content": good})
        assert clean.ok and "new problems" not in clean.text  # the control: the grammar accepts good code
        broken = edit(tmp_path, diagnostics, good, bad, path=name)
    finally:
        diagnostics.close()
    assert broken.ok and f"{name}:" in broken.text and "(syntax)" in broken.text


def test_tree_sitter_reports_a_missing_token_where_it_is_missing() -> None:
    if grammar("javascript") is None:
        pytest.skip("no tree-sitter grammar for javascript installed")
    errors = syntax_errors("a.js", "const x = [1, 2;\nconst y = 3;\n")
    assert errors and errors[0].line == 1 and errors[0].source == "syntax"


# --- ruff over LSP ---------------------------------------------------------------------------------------


@needs_ruff
def test_ruff_server_reports_a_new_undefined_name_and_not_the_old_unused_import(ruff_project: Path) -> None:
    for diagnostics in opened(ruff_project):
        result = edit(ruff_project, diagnostics, "    return sum(item.price for item in items)",
                      "    tax = rate * 2\n    return sum(item.price for item in items) + tax")
    assert result.ok, result.text
    assert "F821" in result.text and "Undefined name `rate`" in result.text and "(ruff)" in result.text
    assert "cart.py:5:" in result.text  # the line the new code is on
    assert "F401" not in result.text  # `import os` was unused before the edit: not this edit's doing


@needs_ruff
def test_an_old_finding_moved_down_by_the_edit_is_still_old(ruff_project: Path) -> None:
    (ruff_project / "cart.py").write_text(SOURCE + "\n\ndef broken():\n    return missing\n")
    for diagnostics in opened(ruff_project):
        result = edit(ruff_project, diagnostics, "import os\n", "import os\n\nLIMIT = 3\n")
    assert result.ok and "new problems" not in result.text, result.text  # F821 `missing` moved by two lines


@needs_ruff
def test_repairing_broken_syntax_does_not_bring_back_the_old_findings(ruff_project: Path) -> None:
    for diagnostics in opened(ruff_project):
        broke = edit(ruff_project, diagnostics, "def total(items):", "def total(items:")
        repaired = edit(ruff_project, diagnostics, "def total(items:", "def total(items):")
    assert "(syntax)" in broke.text
    assert repaired.ok and "new problems" not in repaired.text, repaired.text  # `import os` was unused all along


@needs_ruff
def test_the_server_stays_warm_across_edits_and_stops_with_the_run(ruff_project: Path) -> None:
    diagnostics = open_diagnostics(ruff_project, DiagnosticsSettings())
    assert diagnostics is not None
    (source,) = diagnostics.linters
    assert isinstance(source, LanguageServerSource)
    try:
        first = edit(ruff_project, diagnostics, "return sum(", "return first + sum(")
        process = source._process
        second = edit(ruff_project, diagnostics, "return first + sum(", "return second + sum(")
        assert source._process is process and process is not None and process.returncode is None
    finally:
        diagnostics.close()
    assert "`first`" in first.text and "`second`" in second.text and "`first`" not in second.text
    deadline = time.monotonic() + 5
    while process.returncode is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.returncode is not None  # shut down, not left behind


@needs_ruff
def test_a_project_without_ruff_config_gets_no_ruff_findings(project: Path, diagnostics: Diagnostics) -> None:
    assert diagnostics.linters == []  # ruff is installed, but this project never chose it
    result = edit(project, diagnostics, "return sum(", "return rate + sum(")
    assert result.ok and "F821" not in result.text and "new problems" not in result.text


def test_a_ruff_toml_counts_as_configuring_ruff(project: Path) -> None:
    if RUFF is None:
        pytest.skip("ruff is not installed")
    (project / "ruff.toml").write_text("line-length = 100\n")
    for diagnostics in opened(project):
        assert [source.name for source in diagnostics.linters] == ["ruff"]


@pytest.mark.skipif(pyright_server() is None, reason="neither basedpyright-langserver nor pyright-langserver installed")
def test_pyright_over_lsp_reports_a_new_type_error_in_a_pyright_configured_project(project: Path) -> None:
    (project / "pyrightconfig.json").write_text('{"typeCheckingMode": "standard"}\n')
    (project / "cart.py").write_text("def total(count: int) -> int:\n    return count\n")
    for diagnostics in opened(project, time_budget_s=30):  # the first check starts the server: seconds
        assert [source.name for source in diagnostics.linters] == ["pyright"]
        result = edit(project, diagnostics, "return count", "return count + 'x'")
    assert result.ok and "(pyright)" in result.text and "reportOperatorIssue" in result.text, result.text


# --- ESLint, in the sandbox ------------------------------------------------------------------------------

# A node_modules folder with ESLint 9 in it (`npm install eslint@9`); the tests copy it into their project.
ESLINT_MODULES = os.environ.get("ESLINT_NODE_MODULES", "")
needs_eslint = pytest.mark.skipif(not (ESLINT_MODULES and (Path(ESLINT_MODULES) / ".bin" / "eslint").exists()),
                                  reason="set ESLINT_NODE_MODULES to a node_modules with ESLint 9 installed")
ESLINT_CONFIG = """const fs = require("fs");
if (process.env.ESCAPE_TO) {
  fs.writeFileSync("config-ran.txt", process.env.ESCAPE_TO);  // in the workspace: proof that it ran
  try { fs.writeFileSync(process.env.ESCAPE_TO, "the config ran here"); } catch (error) {}
}
module.exports = [{ files: ["**/*.js"], rules: { "no-undef": "error" },
  languageOptions: { sourceType: "commonjs", globals: { module: "readonly", require: "readonly" } } }];
"""


@pytest.fixture
def js_project(tmp_path: Path) -> Path:
    root = tmp_path / "web"
    root.mkdir()
    shutil.copytree(ESLINT_MODULES, root / "node_modules", symlinks=True)
    (root / "eslint.config.js").write_text(ESLINT_CONFIG)
    (root / "app.js").write_text("const total = (items) => items.length;\nmodule.exports = { total };\n")
    return root


@needs_eslint
def test_eslint_in_the_sandbox_reports_a_new_undefined_name(js_project: Path) -> None:
    diagnostics = open_diagnostics(js_project, DiagnosticsSettings(time_budget_s=20), open_sandbox(SandboxSettings()))
    assert diagnostics is not None and [source.name for source in diagnostics.linters] == ["eslint"]
    try:
        result = edit(js_project, diagnostics, "items.length", "items.length * rate", path="app.js")
    finally:
        diagnostics.close()
    assert result.ok and "no-undef" in result.text and "'rate' is not defined" in result.text, result.text


@needs_eslint
def test_the_eslint_config_runs_in_the_sandbox_not_on_the_host(js_project: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    escaped = tmp_path / "escaped.txt"  # outside the workspace: the sandbox gives the config a private /tmp
    monkeypatch.setenv("ESCAPE_TO", str(escaped))
    source = EslintSource(js_project, open_sandbox(SandboxSettings()))
    sandbox_env = source.sandbox.run(["/bin/sh", "-c", "echo ${ESCAPE_TO:-unset}"], workspace=js_project).stdout
    if sandbox_env.strip() != "unset":
        pytest.skip("this sandbox passes the test's environment variable on")
    with_env = EslintSource(js_project, _EnvSandbox(source.sandbox, {"ESCAPE_TO": str(escaped)}))
    assert with_env.check(js_project / "app.js", "module.exports = {};\n", time.monotonic() + 20) == []
    assert (js_project / "config-ran.txt").read_text() == str(escaped)  # the config ran, with the variable...
    assert not escaped.exists()  # ...in the sandbox, and its write outside the workspace did not reach the host
    # The control: the same ESLint run straight on the host lets the project's config write outside the project.
    subprocess.run([str(js_project / "node_modules/.bin/eslint"), "--stdin", "--stdin-filename", "app.js"],
                   cwd=js_project, input="module.exports = {};\n", text=True, capture_output=True, timeout=60,
                   check=False)
    assert escaped.read_text() == "the config ran here"


class _EnvSandbox:
    """The real sandbox, with one variable added to every command's environment (the sandbox passes on only an
    allow-list of the caller's)."""

    def __init__(self, inner: Sandbox, env: dict[str, str]) -> None:
        self.inner, self.env = inner, env
        self.tier, self.unsandboxed = inner.tier, inner.unsandboxed

    def run(self, command: str | Sequence[str], **options: Any) -> CommandResult:
        return self.inner.run(command, **{**options, "env": {**(options.get("env") or {}), **self.env}})

    def shell(self, **options: Any) -> ShellSession:
        return self.inner.shell(**options)


def test_eslint_needs_a_config_and_the_projects_own_eslint(tmp_path: Path) -> None:
    (tmp_path / "node_modules/.bin").mkdir(parents=True)
    assert not eslint_configured(tmp_path)  # no ESLint installed, no config
    (tmp_path / "node_modules/.bin/eslint").write_text("#!/bin/sh\n")
    assert not eslint_configured(tmp_path)  # installed, but the project never configured it
    (tmp_path / "eslint.config.mjs").write_text("export default [];\n")
    assert eslint_configured(tmp_path)
    diagnostics = open_diagnostics(tmp_path, DiagnosticsSettings())  # no sandbox: ESLint is left out, never run bare
    assert diagnostics is not None and diagnostics.linters == []


# --- the budget ------------------------------------------------------------------------------------------


def test_a_server_that_never_answers_times_out_quickly_and_the_edit_stands(project: Path) -> None:
    loop = LoopThread()
    silent = LanguageServerSource("silent-lsp", [sys.executable, "-c", "import time; time.sleep(60)"], project,
                                  PY_SUFFIXES, "python", loop)
    diagnostics = Diagnostics(SyntaxSource(), [silent], time_budget_s=0.5, loop=loop)
    try:
        started = time.monotonic()
        result = edit(project, diagnostics, "return sum(", "return 0 + sum(")
        took = time.monotonic() - started
    finally:
        closing = time.monotonic()
        diagnostics.close()
        closed_in = time.monotonic() - closing
    assert result.ok and "return 0 + sum(" in (project / "cart.py").read_text()
    assert "diagnostics timed out (silent-lsp (still starting): no answer within 0.5 s); the edit was made" \
        in result.text
    assert took < 2.0 and closed_in < 3.0
    process = silent._process
    assert process is not None and process.returncode is not None  # killed at the end, not left sleeping


def test_a_server_that_cannot_start_is_dropped_without_failing_the_edit(project: Path) -> None:
    loop = LoopThread()
    missing = LanguageServerSource("missing-lsp", [str(project / "no-such-server")], project, PY_SUFFIXES,
                                   "python", loop)
    diagnostics = Diagnostics(SyntaxSource(), [missing], time_budget_s=2.0, loop=loop)
    try:
        first = edit(project, diagnostics, "return sum(", "return 0 + sum(")
        second = edit(project, diagnostics, "return 0 + sum(", "return 1 + sum(")
    finally:
        diagnostics.close()
    assert first.ok and second.ok and "timed out" not in first.text + second.text


# --- comparing before and after, settings ------------------------------------------------------------------


def finding(line: int, code: str, message: str = "m") -> Diagnostic:
    return Diagnostic(line=line, column=1, message=message, source="ruff", code=code)


def test_new_since_matches_by_code_and_message_wherever_the_line_went() -> None:
    before = [finding(3, "F821", "Undefined name `a`"), finding(9, "F401")]
    after = [finding(5, "F821", "Undefined name `a`"), finding(11, "F401"), finding(6, "F821", "Undefined name `b`")]
    assert new_since(before, after) == [finding(6, "F821", "Undefined name `b`")]


def test_new_since_counts_copies_and_drops_repeats_at_one_place() -> None:
    before = [finding(3, "E501")]
    after = [finding(3, "E501"), finding(8, "E501"), finding(8, "E501")]
    assert new_since(before, after) == [finding(8, "E501")]


@needs_ruff
def test_findings_are_capped_with_a_count_of_the_rest(ruff_project: Path) -> None:
    for diagnostics in opened(ruff_project, max_items=2):
        result = edit(ruff_project, diagnostics, "return sum(", "return a + b + c + d + sum(")
    assert result.text.count("F821") == 2 and "… and 2 more" in result.text and "(4)" in result.text


def test_the_diagnostics_section_is_read_from_the_repo_config(tmp_path: Path) -> None:
    (tmp_path / ".ornith.toml").write_text("[diagnostics]\nenabled = false\ntime_budget_s = 1.5\nmax_items = 4\n")
    config = load_config(tmp_path, environ={})
    assert config.diagnostics == DiagnosticsSettings(enabled=False, time_budget_s=1.5, max_items=4)
    assert open_diagnostics(tmp_path, config.diagnostics) is None


def test_a_bad_diagnostics_value_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"diagnostics\.time_budget_s"):
        load_config(tmp_path, environ={"ORNITH_DIAGNOSTICS_TIME_BUDGET_S": "0"})


# --- through the run `ornith run` opens ----------------------------------------------------------------------


def call(name: str, **arguments: object) -> str:
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': arguments})}\n</tool_call>"


@needs_ruff
def test_a_run_shows_the_edit_its_new_lint_error_and_stops_the_server_at_its_end(example_repo: Path) -> None:
    with (example_repo / "pyproject.toml").open("a") as config:
        config.write("\n[tool.ruff]\nline-length = 120\n")
    task = "Add a surcharge to invoice lines."
    backend = ScriptedBackend([
        call("read_file", path="invoicing/invoice.py"), call("step_done", summary="read it"),
        call("edit_file", path="invoicing/invoice.py", old_string="gross = self.unit_price * self.quantity",
             new_string="gross = self.unit_price * self.quantity * surcharge"),
        call("step_done", summary="edited"), call("step_done", summary="done"),
    ])
    request = RunRequest(task=task, repo=example_repo, config=load_config(example_repo, environ={}), mode="auto",
                         scaffold_mode="fixed", max_turns=8, use_judge=False, use_library=False, quirks=())
    with open_run(request, emit=lambda event: None, backend=backend) as run:
        run.loop.run(task)
        results = [event for event in read_events(run.trajectory.path)
                   if isinstance(event, events.ToolFinished) and event.tool == "edit_file"]
        assert run.diagnostics is not None
        (source,) = run.diagnostics.linters
    assert len(results) == 1 and results[0].ok
    assert "F821" in results[0].text and "Undefined name `surcharge`" in results[0].text
    assert isinstance(source, LanguageServerSource) and source._process is not None
    deadline = time.monotonic() + 5
    while source._process.returncode is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert source._process.returncode is not None  # the run's end shut the server down


# A real language server (pygls's own) that starts and answers `initialize`, then never says anything about a file.
MUTE_SERVER = "from pygls.lsp.server import LanguageServer; LanguageServer('mute', '1').start_io()"


def test_a_server_that_misses_three_budgets_in_a_row_is_dropped_for_the_run(project: Path) -> None:
    loop = LoopThread()
    mute = LanguageServerSource("mute-lsp", [sys.executable, "-c", MUTE_SERVER], project, PY_SUFFIXES, "python",
                                loop)
    diagnostics = Diagnostics(SyntaxSource(), [mute], time_budget_s=0.5, loop=loop)
    try:
        wait_until(mute.start(), time.monotonic() + 20)  # up, so each edit waits on its check, not on the start
        notes = [edit(project, diagnostics, f"return {n} + sum(" if n else "return sum(", f"return {n + 1} + sum(")
                 for n in range(4)]
    finally:
        diagnostics.close()
    assert all(note.ok for note in notes)
    assert ["mute-lsp: no answer" in note.text for note in notes] == [True, True, True, False]


def test_a_server_that_never_starts_is_given_up_after_its_start_limit(project: Path) -> None:
    loop = LoopThread()
    silent = LanguageServerSource("silent-lsp", [sys.executable, "-c", "import time; time.sleep(60)"], project,
                                  PY_SUFFIXES, "python", loop, start_limit_s=1.0)
    diagnostics = Diagnostics(SyntaxSource(), [silent], time_budget_s=0.3, loop=loop)
    try:
        notes = [edit(project, diagnostics, f"return {n} + sum(" if n else "return sum(", f"return {n + 1} + sum(")
                 for n in range(6)]
    finally:
        diagnostics.close()
    assert all(note.ok for note in notes)
    starting = ["still starting" in note.text for note in notes]
    assert starting[0] and not starting[-1]  # a timeout while it starts, until the start limit gives up on it
    assert starting == sorted(starting, reverse=True) and all("timed out" not in note.text for note in notes[-2:])


class _BrokenChecker:
    """A checker with a bug of its own (unit test): it must cost its findings, never the edit."""

    name = "broken"
    calls = 0

    def applies(self, path: Path) -> bool:
        return True

    def check(self, path: Path, text: str, deadline: float) -> list[Diagnostic]:
        self.calls += 1
        raise KeyError("a checker's own bug")

    def close(self) -> None:
        return None


def test_a_checker_that_fails_is_dropped_and_the_edit_stands(project: Path) -> None:
    checker = _BrokenChecker()
    diagnostics = Diagnostics(SyntaxSource(), [checker], time_budget_s=1.0)
    first = edit(project, diagnostics, "return sum(", "return 0 + sum(")
    second = edit(project, diagnostics, "return 0 + sum(", "return 1 + sum(")
    assert first.ok and second.ok and "return 1 + sum(" in (project / "cart.py").read_text()
    assert checker.calls == 1  # not asked again after it failed


def test_eslint_json_keeps_rule_findings_and_parse_errors_and_drops_notices() -> None:
    from ornith_local.tools.diagnostics.eslint import parse_eslint_json

    report = json.dumps([{"filePath": "/w/a.js", "messages": [
        {"ruleId": "no-undef", "severity": 2, "message": "'b' is not defined.", "line": 2, "column": 9},
        {"ruleId": None, "severity": 1, "message": "File ignored because no matching configuration was supplied."},
        {"ruleId": None, "fatal": True, "severity": 2, "message": "Parsing error: Unexpected token", "line": 3,
         "column": 1},
    ]}])
    assert [(d.code, d.severity, d.line) for d in parse_eslint_json(report)] == [("no-undef", "error", 2),
                                                                                 ("", "error", 3)]
