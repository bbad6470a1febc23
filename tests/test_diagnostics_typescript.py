"""The TypeScript compiler's findings after an edit: the project's own `typescript`, run in the sandbox."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from ornith_local.config.settings import DiagnosticsSettings, SandboxSettings
from ornith_local.sandbox import CommandResult, Sandbox, ShellSession, open_sandbox
from ornith_local.tools.base import call_tool
from ornith_local.tools.diagnostics import open_diagnostics
from ornith_local.tools.diagnostics.typescript import _CHECK_JS, TypeScriptSource, typescript_configured
from ornith_local.tools.edit import EditFile
from ornith_local.tools.workspace import Workspace

# A node_modules folder with TypeScript 5 in it (`npm install typescript@5`); the tests copy it into their project.
TS_MODULES = os.environ.get("TYPESCRIPT_NODE_MODULES", "")
NODE = shutil.which("node")
needs_typescript = pytest.mark.skipif(
    not (NODE and TS_MODULES and (Path(TS_MODULES) / "typescript" / "lib" / "typescript.js").exists()),
    reason="set TYPESCRIPT_NODE_MODULES to a node_modules with TypeScript 5 installed (and have node)")
TSCONFIG = '{"compilerOptions": {"strict": true, "target": "es2020", "module": "commonjs"}}\n'
CART = "export function total(items: number[]): number {\n  return items.length;\n}\n"


@pytest.fixture
def ts_project(tmp_path: Path) -> Path:
    root = tmp_path / "web"
    (root / "node_modules").mkdir(parents=True)
    shutil.copytree(Path(TS_MODULES) / "typescript", root / "node_modules" / "typescript", symlinks=True)
    (root / "tsconfig.json").write_text(TSCONFIG)
    (root / "cart.ts").write_text(CART)
    (root / "use.ts").write_text('import { total } from "./cart";\nexport const count: number = total([1, 2]);\n')
    return root


@needs_typescript
def test_an_edit_that_breaks_a_caller_s_types_is_reported_by_tsc(ts_project: Path) -> None:
    diagnostics = open_diagnostics(ts_project, DiagnosticsSettings(time_budget_s=30), open_sandbox(SandboxSettings()))
    assert diagnostics is not None and [source.name for source in diagnostics.linters] == ["tsc"]
    try:
        edit = EditFile(Workspace.at(ts_project), diagnostics=diagnostics)
        result = call_tool(edit, {"path": "cart.ts", "old_string": "items.length;",
                                  "new_string": "items.length + rate;"})
        clean = call_tool(edit, {"path": "use.ts", "old_string": "[1, 2]", "new_string": "[1, 2, 3]"})
    finally:
        diagnostics.close()
    assert result.ok and "TS2304" in result.text and "Cannot find name 'rate'" in result.text, result.text
    assert "(tsc)" in result.text and "cart.ts:2:" in result.text
    assert clean.ok and "tsc" not in clean.text  # an edit that breaks nothing says nothing


@needs_typescript
def test_the_check_sees_the_text_given_not_the_file_on_disk(ts_project: Path) -> None:
    source = TypeScriptSource(ts_project, open_sandbox(SandboxSettings()), NODE or "node")
    wrong = 'import { total } from "./cart";\nexport const count: string = total([1, 2]);\n'
    found = source.check(ts_project / "use.ts", wrong, time.monotonic() + 30)
    assert [(d.line, d.code) for d in found] == [(2, "TS2322")]
    assert source.check(ts_project / "use.ts", (ts_project / "use.ts").read_text(), time.monotonic() + 30) == []


@needs_typescript
def test_the_projects_typescript_runs_in_the_sandbox_not_on_the_host(ts_project: Path, tmp_path: Path) -> None:
    # A project's node_modules is its own code: a planted `typescript` that writes outside the workspace.
    planted = ts_project / "node_modules" / "typescript" / "lib" / "typescript.js"
    escaped = tmp_path / "escaped.txt"
    planted.write_text(f'require("fs").writeFileSync({str(escaped)!r}, "ran here");\n' + planted.read_text())
    sandbox = open_sandbox(SandboxSettings())
    if sandbox.unsandboxed:
        pytest.skip("no sandbox tier works here")
    TypeScriptSource(ts_project, sandbox, NODE or "node").check(ts_project / "cart.ts", CART, time.monotonic() + 30)
    assert not escaped.exists()  # the write outside the workspace did not reach the host
    # The control: the same check run straight on the host lets the planted module write there.
    subprocess.run([NODE or "node", "-e", _CHECK_JS, str(ts_project), "cart.ts"], input=CART, text=True,
                   capture_output=True, timeout=60, check=False)
    assert escaped.read_text() == "ran here"


class _Bare:
    """A sandbox that says it is none (the fallback tier)."""

    tier, unsandboxed = "fallback", True

    def run(self, command: str | Sequence[str], **options: Any) -> CommandResult:
        raise AssertionError("never run bare")

    def shell(self, **options: Any) -> ShellSession:
        raise AssertionError("never run bare")


def test_typescript_needs_a_tsconfig_the_projects_own_compiler_and_a_sandbox(tmp_path: Path) -> None:
    lib = tmp_path / "node_modules" / "typescript" / "lib"
    lib.mkdir(parents=True)
    assert not typescript_configured(tmp_path)
    (lib / "typescript.js").write_text("")
    assert not typescript_configured(tmp_path)  # installed, but no tsconfig.json
    (tmp_path / "tsconfig.json").write_text(TSCONFIG)
    assert typescript_configured(tmp_path)
    bare: Sandbox = _Bare()
    for sandbox in (None, bare):  # no sandbox, or the fallback tier: left out, never run on the host
        diagnostics = open_diagnostics(tmp_path, DiagnosticsSettings(), sandbox)
        assert diagnostics is not None and diagnostics.linters == []
