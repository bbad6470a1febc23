"""The Sandbox the tools and the agent use: one tier, the user's settings, and the persistent shell."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from ornith_local.config.settings import SandboxSettings
from ornith_local.sandbox.policy import (
    CommandResult,
    Limits,
    RunRequest,
    Sandbox,
    SandboxError,
    as_argv,
    check_read_only,
    check_workspace,
)
from ornith_local.sandbox.process import execute
from ornith_local.sandbox.shell import SHELL_ARGV, ShellSession
from ornith_local.sandbox.tiers import Tier, make_tier


class TierSandbox:
    """Runs commands in one tier. Network and Unix sockets come from the user, never from the model:
    the tools must not map a model's argument onto `allow_network`."""

    def __init__(
        self,
        tier: Tier,
        *,
        timeout_s: float = 120.0,
        allow_network: bool = False,
        allow_unix_sockets: bool = False,
        limits: Limits | None = None,
        home: Path | None = None,
        read_only: Sequence[Path] = (),
        hide: Sequence[Path] = (),
    ) -> None:
        self._tier = tier
        self.tier = tier.name
        self.unsandboxed = tier.unsandboxed
        self.timeout_s = timeout_s
        self.allow_network = allow_network
        self.allow_unix_sockets = allow_unix_sockets
        self.limits = limits or Limits()
        self.home = home or Path.home()
        self.read_only = check_read_only(read_only, self.home)
        self.hide = tuple(Path(path).resolve() for path in hide)

    def _request(
        self, argv: tuple[str, ...], workspace: Path, env: Mapping[str, str] | None, allow_network: bool,
        interactive: bool = False,
    ) -> RunRequest:
        return RunRequest(
            argv=argv, workspace=check_workspace(workspace, self.home), env=dict(env or {}),
            allow_network=self.allow_network or allow_network, allow_unix_sockets=self.allow_unix_sockets,
            limits=self.limits, home=self.home, interactive=interactive, read_only=self.read_only, hide=self.hide,
        )

    def run(
        self,
        command: str | Sequence[str],
        *,
        workspace: Path,
        timeout_s: float | None = None,
        env: Mapping[str, str] | None = None,
        allow_network: bool = False,
        stdin: str | None = None,
    ) -> CommandResult:
        request = self._request(as_argv(command), workspace, env, allow_network)
        return execute(self._tier, request, timeout_s=timeout_s or self.timeout_s, stdin=stdin)

    def shell(
        self, *, workspace: Path, env: Mapping[str, str] | None = None, allow_network: bool = False
    ) -> ShellSession:
        request = self._request(SHELL_ARGV, workspace, env, allow_network, interactive=True)
        return ShellSession(self._tier, request, default_timeout_s=self.timeout_s)


def with_read_only(sandbox: Sandbox, paths: Sequence[Path]) -> Sandbox:
    """`sandbox` showing `paths` read-only too (a test interpreter outside the workspace); other sandboxes
    (test fakes, which show everything) are returned as they are."""
    if not isinstance(sandbox, TierSandbox) or all(path in sandbox.read_only for path in paths):
        return sandbox
    return TierSandbox(sandbox._tier, timeout_s=sandbox.timeout_s, allow_network=sandbox.allow_network,
                       allow_unix_sockets=sandbox.allow_unix_sockets, limits=sandbox.limits, home=sandbox.home,
                       read_only=[*sandbox.read_only, *paths], hide=sandbox.hide)


def open_sandbox(
    settings: SandboxSettings | None = None, *, tier: str | None = None, read_only: Sequence[Path] = (),
    hide: Sequence[Path] = (),
) -> TierSandbox:
    """The sandbox for this machine: the configured tier, or with "auto" the strongest that works.

    `read_only`: host directories commands may read but not write, beyond what the tier shows anyway.
    `hide`: host paths commands must not see (the fallback tier, unsandboxed, hides nothing).
    """
    from ornith_local.sandbox.probe import active_tier, probe_tiers

    settings = settings or SandboxSettings()
    name = tier or settings.tier
    if name == "auto":
        name = active_tier(probe_tiers()).name
    else:
        probe = next((p for p in probe_tiers() if p.name == name), None)
        if probe is None:
            raise SandboxError(f"unknown sandbox tier '{name}' (known: auto, bwrap, landlock, macos, fallback)")
        if not probe.works:
            raise SandboxError(f"sandbox tier '{name}' does not work here: {probe.detail}")
    return TierSandbox(make_tier(name), timeout_s=settings.timeout_s, allow_network=settings.allow_network,
                       read_only=read_only, hide=hide)
