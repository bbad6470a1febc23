"""The sandbox every model-written command runs in: tiers, probing, the runner and the shell.

Use `open_sandbox(settings)` for a `Sandbox`; `resolve_in_workspace` and `host_git_command` are the
host-side guards for ornith's own file tools and git calls.
"""

from ornith_local.sandbox.paths import OutsideWorkspace, host_git_command, resolve_in_workspace
from ornith_local.sandbox.policy import CommandResult, Limits, Sandbox, SandboxError
from ornith_local.sandbox.probe import TierProbe, active_tier, probe_tiers
from ornith_local.sandbox.runner import TierSandbox, open_sandbox, with_read_only
from ornith_local.sandbox.shell import ShellSession

__all__ = [
    "CommandResult", "Limits", "OutsideWorkspace", "Sandbox", "SandboxError", "ShellSession", "TierProbe",
    "TierSandbox", "active_tier", "host_git_command", "open_sandbox", "probe_tiers", "resolve_in_workspace",
    "with_read_only",
]
