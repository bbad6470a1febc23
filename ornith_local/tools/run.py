"""run: one shell command in the sandbox, with a timeout the model can shorten but not extend."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ornith_local.config.settings import SandboxSettings
from ornith_local.sandbox import Sandbox, SandboxError, open_sandbox
from ornith_local.tools.base import CallPreview, Effect, ToolError, ToolResult, arg_int, arg_str, schema
from ornith_local.tools.workspace import Workspace

OUTPUT_CHARS = 8000


def _clip(text: str, limit: int = OUTPUT_CHARS) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[… {len(text) - limit} characters cut …]\n{text[-half:]}"


@dataclass
class RunCommand:
    workspace: Workspace
    sandbox: Sandbox | None = None
    settings: SandboxSettings = field(default_factory=SandboxSettings)  # given at construction, never re-read
    name: str = "run"
    description: str = (
        "Run a shell command in the workspace, inside the sandbox (no network; writes only to the "
        "workspace). Returns the exit code, stdout and stderr."
    )
    parameters: dict[str, Any] = field(default_factory=lambda: schema({
        "command": {"type": "string", "description": "shell command line, run with /bin/sh in the workspace root"},
        "timeout_s": {"type": "integer", "description": "seconds before it is killed (capped by the settings)"},
    }, ["command"]))
    effect: ClassVar[Effect] = "exec"

    def preview(self, args: Mapping[str, Any]) -> CallPreview:
        command = str(args.get("command", "")).strip() or "(empty command)"
        tier = getattr(self.sandbox, "tier", "configured")
        return CallPreview("command", command, f"run `{command.splitlines()[0][:80]}` (sandbox: {tier})")

    def run(self, args: Mapping[str, Any]) -> ToolResult:
        command = arg_str(args, "command").strip()
        if not command:
            raise ToolError("command is empty")
        settings = self.settings
        requested = arg_int(args, "timeout_s")
        timeout = min(float(requested), settings.timeout_s) if requested and requested > 0 else settings.timeout_s
        try:
            sandbox = self.sandbox or open_sandbox(settings)
            result = sandbox.run(command, workspace=self.workspace.root, timeout_s=timeout)
        except SandboxError as error:
            raise ToolError(f"sandbox: {error}") from None
        status = f"timed out after {timeout:.0f} s" if result.timed_out else f"exit {result.exit_code}"
        parts = [f"$ {command}", f"[{status}, {result.duration_s:.1f} s, sandbox: {result.tier}]"]
        if result.stdout:
            parts += ["stdout:", _clip(result.stdout.rstrip("\n"))]
        if result.stderr:
            parts += ["stderr:", _clip(result.stderr.rstrip("\n"))]
        if result.truncated:
            parts.append("[output was longer than the sandbox keeps; the rest was dropped]")
        return ToolResult(result.exit_code == 0 and not result.timed_out, "\n".join(parts),
                          title=f"ran `{command}` ({status})",
                          data={"exit_code": result.exit_code, "timed_out": result.timed_out,
                                "duration_s": result.duration_s})
