"""Layered configuration: defaults < user config.toml < the repo's .ornith.toml < ORNITH_* env vars.

Every section is a plain dataclass; the TOML keys are the field names. Unknown keys and wrong types
are errors that name the file and the key, so a typo never silently does nothing.

The repo's `.ornith.toml` is read once per process and frozen (a command that rewrites it mid-run
changes nothing), and its security-relevant keys count only when the user trusts the repo
(`config/trust.py`).
"""

from __future__ import annotations

import difflib
import os
import sys
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, get_origin, get_type_hints

from ornith_local.config.coerce import ConfigError, coerce
from ornith_local.config.hooks import HookConfigError, HookSettings, merge_hooks
from ornith_local.config.paths import app_dirs
from ornith_local.config.trust import content_digest, is_trusted, security_keys_in, without_security_keys

REPO_CONFIG_NAME = ".ornith.toml"
PROJECT_INSTRUCTIONS_NAME = "AGENTS.md"
ENV_PREFIX = "ORNITH_"

# ORNITH_* variables that are not settings: the directory overrides (config/paths.py) and the ones ornith sets
# for its own child processes (sandbox/policy.py, triage/run.py), which may run ornith again.
OTHER_ENV_NAMES = frozenset({
    "ORNITH_CONFIG_DIR", "ORNITH_CACHE_DIR", "ORNITH_DATA_DIR", "ORNITH_SANDBOX",
    "ORNITH_TRIAGE_DIR", "ORNITH_TRIAGE_COVERAGE", "ORNITH_TRIAGE_DUMP_EVERY",
})
MIN_N_CTX = 256  # below this not even the system prompt fits; llama.cpp's own error would be the user's only clue

Mode = Literal["read-only", "ask", "auto"]
ScaffoldMode = Literal["self", "fixed"]
AttemptsPolicy = Literal["best", "first"]  # best: every attempt runs, then the ranking; first: the first verified


@dataclass(frozen=True)
class ModelSettings:
    name: str | None = None  # catalog name or a path to a .gguf
    endpoint: str | None = None  # OpenAI-compatible server URL instead of in-process llama.cpp
    n_ctx: int | None = None  # None: planned from the hardware
    n_gpu_layers: int | None = None  # None: planned from the hardware; -1: all
    threads: int | None = None  # None: picked from free cores
    max_reasoning_tokens: int = 2048
    # Disk cap for warm starts (the system prompt's model state saved between runs, llm/warm.py); 0: off.
    warm_start_mb: int = 2048


@dataclass(frozen=True)
class AgentSettings:
    mode: Mode = "ask"
    scaffold: ScaffoldMode = "self"
    max_turns: int = 40
    use_library: bool = True
    allow_test_edits: bool = False
    max_tokens_per_turn: int = 768  # a step turn's reply; an edit_file call with a whole function needs room
    attempts: int = 1  # rollouts of each task, each in its own git worktree; the verifier picks (attempts.py)
    attempts_policy: AttemptsPolicy = "best"


@dataclass(frozen=True)
class SandboxSettings:
    tier: str = "auto"  # auto | bwrap | landlock | macos | fallback
    allow_network: bool = False
    timeout_s: float = 120.0


@dataclass(frozen=True)
class TestSettings:
    command: str | None = None  # None: detected from the project
    timeout_s: float = 600.0
    # Run the suite once before the agent starts, so tests that already fail do not fail its run. Off: one
    # suite run less (slow suites), and the whole suite must pass at the end.
    baseline: bool = True
    # "NAME=value" entries set for every test run and check command (the sandbox passes on only an
    # allow-list of your environment).
    env: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DiagnosticsSettings:
    # After every edit_file/write_file: the new syntax errors, then the new findings of the project's own
    # ruff / pyright (only where it configures them), in the tool's result.
    enabled: bool = True
    time_budget_s: float = 3.0  # per edit, all checkers together; past it the edit says "diagnostics timed out"
    max_items: int = 10  # new findings shown per edit; the rest are counted


@dataclass(frozen=True)
class PrecommitSettings:
    # Shell commands run on the staged content; placeholders {files}, {files:GLOB,...}, {related_tests},
    # {python}. Empty: ruff (when the project configures it) and the tests related to the staged files.
    checks: list[str] = field(default_factory=list)
    time_budget_s: float = 60.0  # for a fix suggestion: model load, generation and re-running the checks
    warn_only: bool = False  # failing checks print a warning and let the commit through
    model: str | None = None  # model for suggestions; None: [model] name, else the most capable installed


@dataclass(frozen=True)
class McpServerSettings:
    """One MCP server whose tools the agent may use: a command to start (stdio) or a running server's URL."""

    command: str | None = None  # started on the host, like an editor's language server
    args: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)  # NAME=value, over a minimal environment (not ornith's own)
    url: str | None = None  # streamable HTTP endpoint instead of a command
    allow: list[str] = field(default_factory=lambda: ["*"])  # glob patterns of tool names; others never offered
    expose: list[str] = field(default_factory=list)  # tools offered as first-class ornith tools, schema and all
    timeout_s: float = 30.0  # for each call
    start_timeout_s: float = 60.0  # to start and list the tools (an `npx -y` server may download itself first)


@dataclass(frozen=True)
class McpSettings:
    servers: dict[str, McpServerSettings] = field(default_factory=dict)  # [mcp.servers.NAME] tables


@dataclass(frozen=True)
class Config:
    model: ModelSettings = field(default_factory=ModelSettings)
    agent: AgentSettings = field(default_factory=AgentSettings)
    sandbox: SandboxSettings = field(default_factory=SandboxSettings)
    tests: TestSettings = field(default_factory=TestSettings)
    precommit: PrecommitSettings = field(default_factory=PrecommitSettings)
    diagnostics: DiagnosticsSettings = field(default_factory=DiagnosticsSettings)
    mcp: McpSettings = field(default_factory=McpSettings)
    hooks: HookSettings = field(default_factory=HookSettings)  # [[hooks.EVENT]] lists, read by config/hooks.py
    # Where each layer came from, for `ornith doctor`.
    sources: tuple[str, ...] = ()


def _at_least(minimum: int) -> Callable[[Any], str | None]:
    return lambda value: None if value >= minimum else f"must be at least {minimum}, got {value}"


def _assignments(value: list[str]) -> str | None:
    bad = [entry for entry in value if not entry.partition("=")[0].strip().isidentifier() or "=" not in entry]
    return f"expected NAME=value entries, got {bad[0]!r}" if bad else None


def endpoint_problem(url: str) -> str | None:
    """Why `url` cannot be an OpenAI-compatible server's address, or None when it can."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as error:
        return f"not a URL ({error})"
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return f"expected an http:// or https:// URL such as http://localhost:8080/v1, got {url!r}"
    return None


def _mcp_servers(servers: dict[str, McpServerSettings]) -> str | None:
    for name, server in servers.items():
        if (server.command is None) == (server.url is None):
            return f"server '{name}': set exactly one of command (a stdio server) or url (a streamable HTTP one)"
        problem = (endpoint_problem(server.url) if server.url is not None else None) or _assignments(server.env)
        if problem is None and min(server.timeout_s, server.start_timeout_s) <= 0:
            problem = "timeout_s and start_timeout_s must be positive"
        if problem is not None:
            return f"server '{name}': {problem}"
    return None


# Checks beyond the type, for values that would otherwise fail much later and far from the file that set them.
VALUE_CHECKS: dict[tuple[str, str], Callable[[Any], str | None]] = {
    ("agent", "max_turns"): _at_least(1),
    ("agent", "max_tokens_per_turn"): _at_least(64),  # room for one tool call
    ("agent", "attempts"): _at_least(1),
    ("tests", "env"): _assignments,
    ("model", "endpoint"): endpoint_problem,
    ("model", "n_ctx"): _at_least(MIN_N_CTX),
    ("model", "threads"): _at_least(1),
    ("model", "warm_start_mb"): _at_least(0),
    ("diagnostics", "max_items"): _at_least(1),
    ("diagnostics", "time_budget_s"): lambda value: None if value > 0 else f"must be above 0, got {value}",
    ("mcp", "servers"): _mcp_servers,
}


def _section_types() -> dict[str, type]:
    hints = get_type_hints(Config)
    return {f.name: hints[f.name] for f in fields(Config) if f.name not in ("sources", "hooks")}


def _apply(config: Config, data: dict[str, Any], origin: str) -> Config:
    sections = _section_types()
    updates: dict[str, Any] = {}
    for section_name, table in data.items():
        if section_name == "hooks":  # lists of command tables, added up across layers (not ORNITH_* settings)
            try:
                updates["hooks"] = merge_hooks(updates.get("hooks", config.hooks), table, origin)
            except HookConfigError as error:
                raise ConfigError(str(error)) from None
            continue
        if section_name not in sections:
            known = ", ".join(sorted([*sections, "hooks"]))
            raise ConfigError(f"{origin}: unknown section [{section_name}] (known: {known})")
        if not isinstance(table, dict):
            raise ConfigError(f"{origin}: [{section_name}] must be a table")
        section_type = sections[section_name]
        hints = get_type_hints(section_type)
        values: dict[str, Any] = {}
        for key, value in table.items():
            if key not in hints:
                raise ConfigError(f"{origin}: unknown key '{section_name}.{key}'")
            where = f"{origin}: '{section_name}.{key}'"
            values[key] = coerce(value, hints[key], where)
            if isinstance(values[key], dict):  # tables of tables add up across layers (a repo's server, the user's)
                values[key] = {**getattr(getattr(config, section_name), key), **values[key]}
            check = VALUE_CHECKS.get((section_name, key))
            problem = check(values[key]) if check is not None and values[key] is not None else None
            if problem is not None:
                raise ConfigError(f"{where}: {problem}")
        updates[section_name] = replace(getattr(config, section_name), **values)
    return replace(config, **updates, sources=(*config.sources, origin))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror}") from None
    return parse_toml(path, data)


def parse_toml(path: Path, data: bytes) -> dict[str, Any]:
    try:
        return tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: invalid TOML: {error}") from None


@dataclass(frozen=True)
class RepoLayer:
    """The repo's `.ornith.toml` as read at start: what counts, and what was ignored for want of trust."""

    path: Path
    data: dict[str, Any]  # already without the security keys when untrusted
    digest: str
    ignored: tuple[str, ...]  # "section.key" names dropped because the repo is not trusted


# Real repo path -> its layer, read on first use and kept for the process: settings are frozen at start.
_FROZEN: dict[Path, RepoLayer | None] = {}


def thaw_repo_config(repo: Path | None = None) -> None:
    """Forget the frozen `.ornith.toml` (of `repo`, or of every repo): after `ornith trust`, and in tests."""
    if repo is None:
        _FROZEN.clear()
    else:
        _FROZEN.pop(repo.resolve(), None)


def repo_layer(repo: Path) -> RepoLayer | None:
    """The frozen repo layer of `repo`, read now if this is the first time; None when there is no file."""
    key = repo.resolve()
    if key not in _FROZEN:
        _FROZEN[key] = _read_repo_layer(key)
    return _FROZEN[key]


def _read_repo_layer(repo: Path) -> RepoLayer | None:
    path = repo / REPO_CONFIG_NAME
    try:
        if not path.is_file():
            return None
        raw = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror}") from None
    data = parse_toml(path, raw)
    _apply(Config(), data, str(path))  # a typo is an error whether or not the key would count
    digest = content_digest(raw)
    risky = security_keys_in(data)
    if not risky or is_trusted(repo, digest):
        return RepoLayer(path, data, digest, ())
    sys.stderr.write(f"ornith: ignoring {', '.join(risky)} from {path}: this repo is not trusted "
                     f"(review the file, then run 'ornith trust {repo}')\n")
    return RepoLayer(path, without_security_keys(data), digest, tuple(risky))


def setting_env_names() -> list[str]:
    """Every ORNITH_<SECTION>_<KEY> name that sets something."""
    return [f"{ENV_PREFIX}{section}_{key}".upper() for section, section_type in _section_types().items()
            for key in get_type_hints(section_type)]


def check_env_names(environ: Mapping[str, str]) -> None:
    """A misspelt ORNITH_ variable is an error naming it and the closest known name, never silently ignored."""
    known = setting_env_names()
    for name in sorted(environ):
        if name.startswith(ENV_PREFIX) and name.upper() not in known and name not in OTHER_ENV_NAMES:
            close = difflib.get_close_matches(name.upper(), [*known, *OTHER_ENV_NAMES], n=1, cutoff=0.6)
            hint = f"did you mean {close[0]}?" if close else "see README: Configuration"
            raise ConfigError(f"unknown environment variable {name} ({hint})")


def _env_layer(environ: dict[str, str]) -> dict[str, dict[str, Any]]:
    """ORNITH_<SECTION>_<KEY>=value, e.g. ORNITH_AGENT_MODE=auto or ORNITH_MODEL_NAME=gemma3-270m."""
    check_env_names(environ)
    layer: dict[str, dict[str, Any]] = {}
    sections = _section_types()
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name in OTHER_ENV_NAMES:
            continue
        rest = name[len(ENV_PREFIX) :].lower()
        for section_name, section_type in sections.items():
            prefix = section_name + "_"
            key = rest[len(prefix) :]
            hints = get_type_hints(section_type)
            if rest.startswith(prefix) and key in hints:
                # Lists come from the environment comma separated.
                parsed = [p.strip() for p in value.split(",") if p.strip()] if get_origin(hints[key]) is list else value
                layer.setdefault(section_name, {})[key] = parsed
                break
    return layer


def load_config(repo: Path | None = None, environ: dict[str, str] | None = None) -> Config:
    """The effective configuration for work in `repo` (or with no repo)."""
    environ = dict(os.environ) if environ is None else environ
    config = Config()
    user_file = app_dirs().config_file
    if user_file.is_file():
        config = _apply(config, _read_toml(user_file), str(user_file))
    layer = repo_layer(repo) if repo is not None else None
    if layer is not None:
        config = _apply(config, layer.data, str(layer.path))
    env = _env_layer(environ)
    if env:
        config = _apply(config, env, "environment (ORNITH_*)")
    return config


def project_instructions(repo: Path) -> str | None:
    """The repo's AGENTS.md, read as instructions for the agent, or None when there is none."""
    path = repo / PROJECT_INSTRUCTIONS_NAME
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
