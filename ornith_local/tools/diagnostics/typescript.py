"""The TypeScript compiler's errors in one file, run in the run's sandbox with the project's own `typescript`.

A TypeScript project's compiler is code from its node_modules, and its tsconfig can `extends` or name plugins
from there: it runs where the model's own commands run, never on the host, like ESLint. One node process per
check loads the project's `typescript`, reads its `tsconfig.json`, and type-checks the edited file with its text
taken from stdin (so the text before an edit is checked without putting it back on disk); the rest of the
program comes from disk. Only that file's syntactic and semantic errors come back, as JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ornith_local.sandbox import Sandbox
from ornith_local.tools.diagnostics.base import Diagnostic, SourceUnavailable
from ornith_local.tools.diagnostics.sandboxed import check_in_sandbox

TS_SUFFIXES = frozenset({".ts", ".tsx", ".mts", ".cts"})
TYPESCRIPT_LIB = "node_modules/typescript/lib/typescript.js"
MIN_RUN_S = 0.2  # less than this left: not worth starting node and the compiler

# argv: the project root, the file (relative); stdin: the file's text. Prints [[line, column, code, message], ...].
_CHECK_JS = r"""
const path = require("path");
const [root, rel] = process.argv.slice(1);
const ts = require(path.join(root, "node_modules", "typescript"));
const target = path.resolve(root, rel);
const text = require("fs").readFileSync(0, "utf8");
const found = ts.findConfigFile(root, ts.sys.fileExists, "tsconfig.json");
let options = { noEmit: true }, names = [target];
if (found) {
  const parsed = ts.getParsedCommandLineOfConfigFile(found, { noEmit: true }, {
    ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
  if (parsed) { options = { ...parsed.options, noEmit: true }; names = [...new Set([...parsed.fileNames, target])]; }
}
const host = ts.createCompilerHost(options);
const same = (name) => path.resolve(name) === target;
const getSourceFile = host.getSourceFile;
host.getSourceFile = (name, version, ...rest) =>
  same(name) ? ts.createSourceFile(name, text, version, true) : getSourceFile.call(host, name, version, ...rest);
const fileExists = host.fileExists, readFile = host.readFile;
host.fileExists = (name) => same(name) || fileExists.call(host, name);
host.readFile = (name) => (same(name) ? text : readFile.call(host, name));
const program = ts.createProgram({ rootNames: names, options, host });
const source = program.getSourceFile(target);
const all = source ? [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)] : [];
process.stdout.write(JSON.stringify(all.filter((d) => d.file && d.start !== undefined).map((d) => {
  const at = d.file.getLineAndCharacterOfPosition(d.start);
  return [at.line + 1, at.character + 1, d.code, ts.flattenDiagnosticMessageText(d.messageText, "\n")];
})));
"""


def typescript_configured(root: Path) -> bool:
    """A `tsconfig.json` at the workspace root and TypeScript installed in the project's node_modules."""
    return (root / "tsconfig.json").is_file() and (root / TYPESCRIPT_LIB).is_file()


def parse_typescript_json(output: str) -> list[Diagnostic]:
    """The check script's report, as findings; ValueError when it is not that report."""
    report: Any = json.loads(output)
    if not isinstance(report, list):
        raise ValueError("not a TypeScript report")
    return [Diagnostic(line=int(line), column=int(column), message=str(message).strip().splitlines()[0][:300],
                       source="tsc", code=f"TS{code}")
            for line, column, code, message in report]


class TypeScriptSource:
    """A `DiagnosticsSource`: the project's TypeScript compiler in the sandbox, one process per check."""

    name = "tsc"

    def __init__(self, root: Path, sandbox: Sandbox, node: str = "node") -> None:
        self.root = root
        self.sandbox = sandbox
        self.node = node

    def applies(self, path: Path) -> bool:
        return path.suffix.lower() in TS_SUFFIXES

    def check(self, path: Path, text: str, deadline: float) -> list[Diagnostic]:
        output = check_in_sandbox(self.sandbox, self.root, path, text, deadline, ok_codes=(0,), min_run_s=MIN_RUN_S,
                                  argv=lambda rel: [self.node, "-e", _CHECK_JS, str(self.root), rel])
        try:
            return parse_typescript_json(output) if output is not None else []
        except (ValueError, TypeError) as error:
            raise SourceUnavailable(f"unreadable TypeScript output: {error}") from None

    def close(self) -> None:
        return None
