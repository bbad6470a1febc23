"""Which test files a staged change could break: the `{related_tests}` of a check.

Static and cheap, so it fits in a hook: the staged test files themselves; tests whose name matches a
changed module (`money.py` → `test_money.py`); tests under a changed `conftest.py`; and tests that import a
changed (or deleted) module directly or through other project modules (the reverse import graph,
read with a regular expression rather than a parser: a few milliseconds for a thousand files). Erring
towards more tests is fine; missing the test that breaks is not.
"""

from __future__ import annotations

import os
import re
from collections import deque
from pathlib import Path, PurePosixPath

SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".nox", "build", "dist", ".eggs"}
_IMPORT = re.compile(r"^[ \t]*import[ \t]+([\w. \t,]+)", re.M)
_FROM = re.compile(r"^[ \t]*from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n#]+)", re.M)


def is_test_file(path: str) -> bool:
    name = PurePosixPath(path).name
    return name.endswith(".py") and (name.startswith("test_") or name.endswith(("_test.py", "_tests.py")))


def python_files(tree: Path) -> list[str]:
    """Repo-relative .py files under `tree`, skipping environments and caches (never following links)."""
    found: list[str] = []
    for directory, dirs, files in os.walk(tree):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info")]
        base = os.path.relpath(directory, tree)
        for name in files:
            if name.endswith(".py"):
                found.append(name if base == "." else f"{base}/{name}".replace(os.sep, "/"))
    return found


def module_names(path: str, packages: set[str]) -> set[str]:
    """Dotted names `path` can be imported as: from the repo root, and from its nearest non-package folder
    (how `src/` layouts and pytest's rootdir insertion see it). `packages` holds folders with __init__.py."""
    parts = list(PurePosixPath(path).with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    if not parts:
        return set()
    names = {".".join(parts)}
    start = len(parts) - 1  # the module itself
    while start > 0 and "/".join(parts[:start]) in packages:
        start -= 1
    names.add(".".join(parts[start:]))
    return names


def _imports(path: str, text: str) -> set[str]:
    """Dotted module names `text` imports (relative imports resolved against `path`'s package)."""
    found: set[str] = set()
    for match in _IMPORT.finditer(text):
        for item in match.group(1).split(","):
            name = item.strip().split()[0] if item.strip() else ""
            if name:
                found.add(name)
    package = list(PurePosixPath(path).parent.parts)
    for match in _FROM.finditer(text):
        base = match.group(1)
        dots = len(base) - len(base.lstrip("."))
        if dots:
            anchor = package[: len(package) - (dots - 1)] if dots - 1 <= len(package) else []
            rest = base[dots:]
            base = ".".join([*anchor, *([rest] if rest else [])])
        if not base:
            continue
        found.add(base)
        for item in match.group(2).strip("() \t").replace("\n", ",").split(","):
            name = item.strip().split()[0] if item.strip() else ""
            if name and name != "*":
                found.add(f"{base}.{name}")  # `from pkg import mod` may import a module
    return found


def related_tests(tree: Path, changed: list[str], deleted: list[str]) -> list[str]:
    """Test files (repo-relative, sorted) related to the `changed` and `deleted` paths, found in `tree`."""
    files = python_files(tree)
    tests = [f for f in files if is_test_file(f)]
    related = {path for path in changed if is_test_file(path)}
    touched = [p for p in [*changed, *deleted] if p.endswith(".py") and not is_test_file(p)]

    for path in touched:
        pure = PurePosixPath(path)
        if pure.name == "conftest.py":
            folder = str(pure.parent)
            related.update(t for t in tests if folder == "." or t.startswith(folder + "/"))
            continue
        stem = pure.stem
        related.update(t for t in tests if PurePosixPath(t).name in {f"test_{stem}.py", f"{stem}_test.py"})

    modules = [p for p in touched if PurePosixPath(p).name != "conftest.py"]
    if modules:
        related.update(_importers(tree, files, modules, set(tests)))
    return sorted(related)


def _importers(tree: Path, files: list[str], modules: list[str], tests: set[str]) -> set[str]:
    """Tests that reach any of `modules` through the project's imports (breadth-first, reverse edges)."""
    packages = {str(PurePosixPath(f).parent) for f in files if PurePosixPath(f).name == "__init__.py"}
    # "a.b.c" imported by F: importing it runs a, a.b and a.b.c, so F depends on each prefix.
    importers: dict[str, set[str]] = {}
    for path in files:
        try:
            text = (tree / path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for name in _imports(path, text):
            parts = name.split(".")
            for end in range(1, len(parts) + 1):
                importers.setdefault(".".join(parts[:end]), set()).add(path)
    found: set[str] = set()
    seen = set(modules)
    queue = deque(modules)
    while queue:
        for name in module_names(queue.popleft(), packages):
            for path in importers.get(name, ()):
                if path in seen:
                    continue
                seen.add(path)
                if path in tests:
                    found.add(path)
                else:
                    queue.append(path)
    return found
