"""ESLint's findings, run in the run's sandbox: an ESLint config is JavaScript the project wrote, and
loading it runs that code, so it runs where the model's own commands run (no network, writes only to the
workspace), never on the host.

The project's own ESLint (`node_modules/.bin/eslint`) with the project's own config; the text goes in on stdin
(`--stdin --stdin-filename`), so the text before an edit is checked without putting it back on disk.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ornith_local.sandbox import Sandbox
from ornith_local.tools.diagnostics.base import Diagnostic, SourceUnavailable
from ornith_local.tools.diagnostics.sandboxed import check_in_sandbox

JS_SUFFIXES = frozenset({".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts"})
ESLINT_CONFIGS = tuple(f"eslint.config.{ext}" for ext in ("js", "mjs", "cjs", "ts", "mts", "cts")) + tuple(
    f".eslintrc{ext}" for ext in ("", ".js", ".cjs", ".json", ".yaml", ".yml"))
ESLINT_BIN = "node_modules/.bin/eslint"
MIN_RUN_S = 0.1  # less than this left: not worth starting node


def eslint_configured(root: Path) -> bool:
    """An ESLint config at the workspace root (a config file, or "eslintConfig" in package.json) and ESLint
    installed in the project's node_modules."""
    if not (root / ESLINT_BIN).is_file():
        return False
    if any((root / name).is_file() for name in ESLINT_CONFIGS):
        return True
    try:
        package = json.loads((root / "package.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(package, dict) and "eslintConfig" in package


def parse_eslint_json(output: str) -> list[Diagnostic]:
    """ESLint's `--format json` report of one file, as findings; ValueError when it is not that report."""
    report: Any = json.loads(output)
    if not isinstance(report, list):
        raise ValueError("not an ESLint report")
    found = []
    for result in report:
        for message in result.get("messages", []) if isinstance(result, dict) else []:
            severity = message.get("severity")
            if severity not in (1, 2) or (message.get("ruleId") is None and not message.get("fatal")):
                continue  # no rule and not a parse error: a notice such as "File ignored because ...", not a problem
            found.append(Diagnostic(line=int(message.get("line") or 1), column=int(message.get("column") or 1),
                                    message=str(message.get("message", "")).strip().splitlines()[0][:300],
                                    source="eslint", code=str(message.get("ruleId") or ""),
                                    severity="error" if severity == 2 else "warning"))
    return found


class EslintSource:
    """A `DiagnosticsSource`: the project's ESLint in the sandbox, one process per check."""

    name = "eslint"

    def __init__(self, root: Path, sandbox: Sandbox) -> None:
        self.root = root
        self.sandbox = sandbox

    def applies(self, path: Path) -> bool:
        return path.suffix.lower() in JS_SUFFIXES

    def check(self, path: Path, text: str, deadline: float) -> list[Diagnostic]:
        # Exit 1: findings; 2: a broken config or a crash, which will not get better this run.
        output = check_in_sandbox(self.sandbox, self.root, path, text, deadline, ok_codes=(0, 1), min_run_s=MIN_RUN_S,
                                  argv=lambda rel: [str(self.root / ESLINT_BIN), "--format", "json", "--stdin",
                                                    "--stdin-filename", rel])
        try:
            return parse_eslint_json(output) if output is not None else []
        except (ValueError, TypeError, AttributeError) as error:
            raise SourceUnavailable(f"unreadable ESLint output: {error}") from None

    def close(self) -> None:
        return None
