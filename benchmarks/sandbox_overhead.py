"""Per-command overhead of each sandbox tier against a bare subprocess, and the shell's round trip.

Run: .venv/bin/python -m benchmarks.sandbox_overhead [--runs N]
Targets (issue 5): bwrap tier <= 15 ms over bare, persistent shell round trip <= 5 ms.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ornith_local.sandbox import TierSandbox, owner, probe_tiers
from ornith_local.sandbox.tiers import make_tier


def _median_ms(action: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ornith-bench-") as tmp:
        workspace = Path(tmp)
        bare = _median_ms(lambda: subprocess.run(["true"], cwd=workspace, check=True), args.runs)
        print(f"bare subprocess `true`: {bare:.2f} ms median of {args.runs}")
        for probe in probe_tiers():
            if not probe.works:
                print(f"{probe.name:>9}: not available here ({probe.detail})")
                continue
            sandbox = TierSandbox(make_tier(probe.name))
            median = _median_ms(lambda s=sandbox: s.run(["true"], workspace=workspace), args.runs)  # type: ignore[misc]
            print(f"{probe.name:>9}: {median:.2f} ms median, {median - bare:+.2f} ms over bare")
            with sandbox.shell(workspace=workspace) as shell:
                round_trip = _median_ms(lambda sh=shell: sh.run("true"), args.runs)  # type: ignore[misc]
            print(f"{'':>9}  persistent shell round trip (`true`): {round_trip:.2f} ms median")
            if probe.name in ("bwrap", "landlock") and owner.workspace_owner(workspace) == owner.SANDBOX_OWNER:
                # ornith as root in its own project: the same command as uid 0 (no idmapped mount), side by side
                real = owner.idmap_supported
                owner.idmap_supported = lambda path: False
                try:
                    as_root = _median_ms(lambda s=sandbox: s.run(["true"], workspace=workspace), args.runs)  # type: ignore[misc]
                finally:
                    owner.idmap_supported = real
                print(f"{'':>9}  root-owned project: as uid {owner.SANDBOX_ID} (idmapped) {median:.2f} ms, as uid 0 "
                      f"{as_root:.2f} ms: x{median / as_root:.2f}")


if __name__ == "__main__":
    main()
