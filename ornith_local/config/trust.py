"""Which repos the user trusts to set security-relevant keys in their `.ornith.toml`.

A repo's `.ornith.toml` can name the sandbox tier, open the network, raise timeouts and choose the
commands ornith runs (tests, pre-commit checks). Anyone who can write the file (a cloned repo's
author, or a model-written command inside the sandbox) could otherwise escalate, so those keys count
only after the user trusts the repo, as editors do for workspace settings. Trust is remembered per
repo path *and* content hash: any rewrite of the file needs trusting again.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ornith_local.config.hooks import HOOK_EVENTS
from ornith_local.config.paths import app_dirs

# (section, key) pairs an untrusted repo may not set: they widen what commands may do or which commands run.
SECURITY_KEYS: frozenset[tuple[str, str]] = frozenset({
    ("sandbox", "tier"), ("sandbox", "allow_network"), ("sandbox", "timeout_s"),
    ("tests", "command"), ("tests", "timeout_s"), ("tests", "env"),
    ("precommit", "checks"), ("precommit", "warn_only"),
    ("agent", "mode"), ("agent", "allow_test_edits"),
    ("mcp", "servers"),  # each server is a command ornith starts on the host, or a URL its tools' calls go to
    *(("hooks", event) for event in HOOK_EVENTS),  # each hook is a command run at the agent's events
})
TRUST_FILE_NAME = "trusted_repos.json"


@dataclass(frozen=True)
class RepoConfigFile:
    """One read of a repo's `.ornith.toml`: its bytes' hash and whether the user trusts exactly them."""

    repo: Path  # the repo's real path
    digest: str  # sha256 of the file's bytes
    trusted: bool


def trust_file() -> Path:
    return app_dirs().data / TRUST_FILE_NAME


def content_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _load_store() -> dict[str, str]:
    try:
        raw = json.loads(trust_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # no file yet, or a damaged one: nothing is trusted
    if not isinstance(raw, dict):
        return {}
    return {str(k): str(v) for k, v in raw.items() if isinstance(v, str)}


def _save_store(store: dict[str, str]) -> None:
    path = trust_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written whole then renamed, so a crash never leaves half a trust list.
    handle, temporary = tempfile.mkstemp(prefix=".trusted-", dir=path.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(store, out, indent=1, sort_keys=True)
    os.replace(temporary, path)


def is_trusted(repo: Path, digest: str) -> bool:
    return _load_store().get(str(repo.resolve())) == digest


def trust_repo(repo: Path, data: bytes) -> None:
    """Trust these exact bytes of `repo`'s `.ornith.toml`."""
    store = _load_store()
    store[str(repo.resolve())] = content_digest(data)
    _save_store(store)


def revoke_repo(repo: Path) -> bool:
    """Forget `repo`; False when it was not trusted."""
    store = _load_store()
    found = store.pop(str(repo.resolve()), None) is not None
    if found:
        _save_store(store)
    return found


def security_keys_in(data: dict[str, Any]) -> list[str]:
    """The security-relevant keys a parsed `.ornith.toml` sets, as "section.key"."""
    return sorted(f"{section}.{key}" for section, table in data.items() if isinstance(table, dict)
                  for key in table if (section, key) in SECURITY_KEYS)


def without_security_keys(data: dict[str, Any]) -> dict[str, Any]:
    """The parsed file minus the keys an untrusted repo may not set."""
    kept: dict[str, Any] = {}
    for section, table in data.items():
        if isinstance(table, dict):
            table = {key: value for key, value in table.items() if (section, key) not in SECURITY_KEYS}
        kept[section] = table
    return kept
