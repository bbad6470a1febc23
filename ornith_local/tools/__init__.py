"""The agent's tools: files, edits, search, repo map, tests, git.

Each tool is a small object satisfying `Tool` (name, description, JSON-schema parameters, `run(args)`);
`default_tools(workspace)` builds the full set for one workspace, and `call_tool` validates arguments
and turns failures into results the model can read.
"""

from ornith_local.config.settings import SandboxSettings
from ornith_local.sandbox import Sandbox
from ornith_local.tools.base import Tool, ToolError, ToolResult, call_tool, function_spec
from ornith_local.tools.diagnostics import Diagnostics
from ornith_local.tools.edit import EditFile
from ornith_local.tools.files import ListDir, ReadFile, WriteFile
from ornith_local.tools.gittools import GitDiff
from ornith_local.tools.repomap import RepoMapTool
from ornith_local.tools.run import RunCommand
from ornith_local.tools.search import Search
from ornith_local.tools.testing import RunTests
from ornith_local.tools.workspace import Workspace


def default_tools(workspace: Workspace, sandbox: Sandbox | None = None,
                  settings: SandboxSettings | None = None, diagnostics: Diagnostics | None = None) -> list[Tool]:
    """Every tool, bound to `workspace`; the loop offers each step the subset its scaffold allows.

    `sandbox` is shared by run and run_tests; without one each opens the configured sandbox when called.
    `settings`: the sandbox settings of the run (timeouts), given here so no tool reads the configuration mid-call.
    `diagnostics`: the run's checks after every edit (`tools.diagnostics.open_diagnostics`); None: edits carry none.
    """
    return [ReadFile(workspace), ListDir(workspace), Search(workspace), EditFile(workspace, diagnostics=diagnostics),
            WriteFile(workspace, diagnostics=diagnostics),
            RunCommand(workspace, sandbox, settings or SandboxSettings()), RunTests(workspace, sandbox),
            GitDiff(workspace),
            RepoMapTool(workspace)]


__all__ = ["Tool", "ToolError", "ToolResult", "Workspace", "call_tool", "default_tools", "function_spec"]
