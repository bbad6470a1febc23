#!/usr/bin/env bash
# README.md's first command, run as a stranger would: a fresh clone, a new virtualenv made exactly as the
# README says (not the dev one), empty ornith config/data/cache dirs, and a python3 that has no pytest.
# Then: the run ended with an outcome; a `verified` one holds against the task's held-back tests (a model's
# success is not asserted: greedy decoding differs across CPUs); `ornith undo` restores the tree exactly.
set -uo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d /tmp/ornith-readme-XXXXXX)"
git clone -q "$src" "$work/clone"
command="$(python3 "$src/.ci/readme_commands.py" 1)"

# A python3 without pytest first on PATH, so nothing can lean on a pytest that happens to be installed.
mkdir -p "$work/bin"
for candidate in /usr/bin/python3 "$(command -v python3)"; do
  if "$candidate" -c 'import sys, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
      && ! "$candidate" -c 'import pytest' 2>/dev/null; then
    ln -sf "$candidate" "$work/bin/python3"; break
  fi
done
[ -e "$work/bin/python3" ] || echo "readme-demo: no python3 >= 3.11 without pytest here; using PATH's"
export PATH="$work/bin:$PATH"
export ORNITH_CONFIG_DIR="$work/config" ORNITH_DATA_DIR="$work/data" ORNITH_CACHE_DIR="$work/cache"
export DEMO_DIR="$work/demo"

echo "readme-demo: $command"
start=$(date +%s)
(cd "$work/clone" && bash -c "$command") 2>&1 | tee "$work/demo.log"
status=${PIPESTATUS[0]}
echo "readme-demo: exit $status after $(( $(date +%s) - start )) s"

fail() { echo "readme-demo: FAILED: $*"; exit 1; }
outcome="$(sed -n 's/^ *outcome  *\([a-z][a-z ]*[a-z]\).*/\1/p' "$work/demo.log" | tail -n 1)"
[ -n "$outcome" ] || fail "the run printed no outcome"
echo "readme-demo: outcome $outcome"
if [ "$outcome" = verified ]; then
  [ "$status" -eq 0 ] || fail "verified but exit $status"
  heldback="$src/benchmarks/tasks/invoicing-empty-average/heldback/tests/test_hidden_average.py"
  cp "$heldback" "$work/demo/tests/"
  (cd "$work/demo" && .venv/bin/python -m pytest -q -p no:cacheprovider tests/test_invoice.py -k average \
      tests/test_hidden_average.py) || fail "reported verified, but the held-back tests fail"
  rm "$work/demo/tests/test_hidden_average.py"
else
  [ "$status" -ne 0 ] || fail "outcome $outcome with exit 0"
fi
if grep -q "ornith undo --session" "$work/demo.log"; then
  "$work/clone/.venv/bin/ornith" undo --repo "$work/demo" --yes || fail "ornith undo failed"
fi
[ -z "$(git -C "$work/demo" status --porcelain)" ] || fail "undo left changes: $(git -C "$work/demo" status --porcelain)"
echo "readme-demo: ok"
rm -rf "$work"
