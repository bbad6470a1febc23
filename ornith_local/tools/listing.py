"""The files of a workspace as git sees them: tracked plus untracked, minus what .gitignore ignores.

In a git repo git itself answers (`ls-files`, exact and fast). Elsewhere a small pure-Python
.gitignore matcher walks the tree, so search, list_dir and the repo map behave the same in both.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ornith_local.sandbox.hostgit import HOST_GIT_OPTIONS, host_git_env, host_git_options, with_diff_flags
from ornith_local.sandbox.workspace_fs import WorkspaceFS

# Never worth listing, ignored or not: version control and tool caches.
ALWAYS_SKIPPED = frozenset({".git", ".hg", ".svn", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache",
                            ".tox", ".venv", "node_modules"})

GIT_SAFE = list(HOST_GIT_OPTIONS)  # the static part; host_git adds the repo's filter drivers
GITIGNORE_LIMIT = 1024 * 1024


def host_git(root: Path, *args: str, input_bytes: bytes | None = None, env: dict[str, str] | None = None,
             check: bool = True) -> bytes:
    """A git command run by ornith itself (not the model): hooks and fsmonitor off, so no repo code runs."""
    result = subprocess.run(
        ["git", *host_git_options(root), *with_diff_flags(args)], cwd=root, input=input_bytes, capture_output=True,
        env=host_git_env(env),
    )
    if check and result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        raise subprocess.CalledProcessError(result.returncode, ["git", *args], result.stdout,
                                            "\n".join(message[-3:]))
    return result.stdout


def is_git_worktree(root: Path) -> bool:
    try:
        out = host_git(root, "rev-parse", "--show-toplevel", check=True)
    except (subprocess.CalledProcessError, OSError):
        return False
    return bool(out.strip())


def git_files(root: Path) -> list[str] | None:
    """Tracked and untracked, not ignored, relative to `root`; None when `root` is not in a git work tree."""
    try:
        out = host_git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--full-name", ".")
        prefix = host_git(root, "rev-parse", "--show-prefix").decode().strip()
    except (subprocess.CalledProcessError, OSError):
        return None
    if not out and _is_ignored(root):
        return None  # a directory git ignores (a vendored package in .venv): walk it instead
    seen: set[str] = set()
    files: list[str] = []
    fs = WorkspaceFS(root)
    real_dirs: dict[str, bool] = {}
    for raw in out.split(b"\0"):
        name = raw.decode("utf-8", errors="surrogateescape")
        # A nested repository shows up as "dir/": its files are not ours to list.
        if not name or name.endswith("/") or name in seen:
            continue
        seen.add(name)
        rel = name[len(prefix):] if prefix and name.startswith(prefix) else name
        if any(part in ALWAYS_SKIPPED for part in rel.split("/")[:-1]):
            continue
        # A tracked file the user deleted is not there to read, nor one behind a directory now a symlink.
        parent = rel.rpartition("/")[0]
        if parent not in real_dirs:  # one link-free walk per directory, not per file
            real_dirs[parent] = fs.is_real_directory(parent or ".")
        if real_dirs[parent] and os.path.lexists(root / rel):
            files.append(rel)
    return sorted(files)


def _is_ignored(root: Path) -> bool:
    result = subprocess.run(["git", *GIT_SAFE, "check-ignore", "-q", "."], cwd=root, capture_output=True,
                            env=host_git_env())
    return result.returncode == 0


@dataclass(frozen=True)
class _Rule:
    regex: re.Pattern[str]
    negated: bool
    dir_only: bool


def _translate(pattern: str) -> str:
    """A .gitignore glob as a regex over a path relative to the .gitignore's directory."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("/**", i) and i + 3 == len(pattern):
            out.append("/.*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif char == "*":
            out.append("[^/]*")
            i += 1
        elif char == "?":
            out.append("[^/]")
            i += 1
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(char))
                i += 1
            else:
                body = pattern[i + 1:end].replace("\\", "\\\\")
                out.append("[^" + body[1:] + "]" if body.startswith("!") else "[" + body + "]")
                i = end + 1
        elif char == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(char))
            i += 1
    return "".join(out)


def parse_gitignore(text: str) -> list[_Rule]:
    rules: list[_Rule] = []
    for line in text.splitlines():
        line = line.rstrip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        if negated:
            line = line[1:]
        dir_only = line.endswith("/")
        line = line.rstrip("/")
        if not line:
            continue
        # A pattern with a slash (other than a trailing one) is anchored to its directory.
        anchored = "/" in line
        line = line.lstrip("/")
        body = _translate(line)
        regex = re.compile(("^" if anchored else "^(?:.*/)?") + body + "$")
        rules.append(_Rule(regex, negated, dir_only))
    return rules


def _ignored(rules: list[tuple[str, list[_Rule]]], rel: str, is_dir: bool) -> bool:
    verdict = False
    for base, base_rules in rules:
        if base and not rel.startswith(base + "/"):
            continue
        local = rel[len(base) + 1:] if base else rel
        for rule in base_rules:
            if rule.dir_only and not is_dir:
                continue
            if rule.regex.match(local):
                verdict = not rule.negated
    return verdict


def walk_files(root: Path) -> list[str]:
    """Every file under `root` not ignored by the .gitignore files found on the way (pure Python)."""
    files: list[str] = []
    fs = WorkspaceFS(root)
    stack: list[tuple[str, list[tuple[str, list[_Rule]]]]] = [("", [])]
    while stack:
        rel_dir, rules = stack.pop()
        # Each directory is opened link-free from the root: one swapped for a link meanwhile is skipped.
        with contextlib.suppress(OSError):  # a link, FIFO or huge file named .gitignore is not read
            ignore_text = fs.read_bytes(f"{rel_dir}/.gitignore" if rel_dir else ".gitignore", GITIGNORE_LIMIT)
            rules = [*rules, (rel_dir, parse_gitignore(ignore_text.decode(errors="replace")))]
        try:
            entries = fs.scandir(rel_dir or ".")
        except OSError:
            continue
        for name, is_dir in entries:
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if is_dir and name in ALWAYS_SKIPPED:
                continue
            if _ignored(rules, rel, is_dir):
                continue
            if is_dir:
                stack.append((rel, rules))
            else:
                files.append(rel)
    return sorted(files)


def list_files(root: Path) -> list[str]:
    """The workspace's files relative to `root`, sorted, respecting .gitignore."""
    files = git_files(root)
    return files if files is not None else walk_files(root)
