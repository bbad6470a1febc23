"""Cut a release: check the version, build, check, install the wheel fresh, exercise it, report.

    python packaging/release.py            # everything, including a smoke run of the agent
    python packaging/release.py --check-only   # only the version / changelog agreement
    python packaging/release.py --no-smoke     # skip the agent smoke run (no tiny model needed)

It refuses to release when the version in ornith_local/__init__.py and the newest released section of
CHANGELOG.md disagree, or when [Unreleased] still holds entries. Artifacts go to dist/.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERSION_FILE = ROOT / "ornith_local" / "__init__.py"
CHANGELOG = ROOT / "CHANGELOG.md"
FORMULA = ROOT / "packaging" / "homebrew" / "ornith-local.rb"
SMOKE_TASK = "Fix the bulk discount: buying exactly 10 items should give the 5% rate"


class ReleaseError(Exception):
    pass


def package_version(text: str) -> str:
    match = re.search(r'^__version__ = "([^"]+)"', text, re.MULTILINE)
    if match is None:
        raise ReleaseError(f"{VERSION_FILE}: no __version__ line")
    return match.group(1)


def changelog_sections(text: str) -> list[tuple[str, str]]:
    """(heading name, body) for each `## [...]` section, in file order."""
    parts = re.split(r"^## \[([^\]]+)\].*$", text, flags=re.MULTILINE)
    return [(parts[i], parts[i + 1]) for i in range(1, len(parts) - 1, 2)]


def check_version_agreement(version: str, changelog: str) -> list[str]:
    """Problems that block a release; empty when the version and the changelog agree."""
    sections = changelog_sections(changelog)
    released = [(name, body) for name, body in sections if name.lower() != "unreleased"]
    unreleased = next((body for name, body in sections if name.lower() == "unreleased"), "")
    problems = []
    if not released:
        problems.append("CHANGELOG.md has no released section")
    elif released[0][0] != version:
        problems.append(f"version {version} (ornith_local/__init__.py) but the newest CHANGELOG.md section "
                        f"is [{released[0][0]}]")
    if re.search(r"^- ", unreleased, re.MULTILINE):
        problems.append(f"CHANGELOG.md [Unreleased] still has entries: move them under [{version}]")
    return problems


def run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    print(f"$ {' '.join(command)}", flush=True)
    result = subprocess.run(command, text=True, capture_output=True, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        raise ReleaseError(f"{command[0]} failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result  # type: ignore[no-any-return]


def build(dist: Path) -> tuple[Path, Path]:
    shutil.rmtree(dist, ignore_errors=True)
    run([sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)])
    wheel = next(dist.glob("*.whl"))
    sdist = next(dist.glob("*.tar.gz"))
    run([sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)])
    return wheel, sdist


def update_formula(formula: str, version: str, sdist: Path) -> str:
    """The Homebrew formula pointing at this release's sdist, with its sha256."""
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    formula = re.sub(r"ornith_local-[0-9][^/\"]*\.tar\.gz", f"ornith_local-{version}.tar.gz", formula)
    return re.sub(r'sha256 "[0-9a-f]{64}"', f'sha256 "{digest}"', formula, count=1)


def install_fresh(wheel: Path, where: Path, extras: str = "demo") -> Path:
    venv.EnvBuilder(with_pip=True).create(where)
    python = where / "bin" / "python"
    run([str(python), "-m", "pip", "install", "--quiet", f"{wheel}[{extras}]"])
    return where / "bin" / "ornith"


def exercise(ornith: Path, version: str, smoke: bool, scratch: Path) -> list[str]:
    verified = []
    out = run([str(ornith), "--version"]).stdout.strip()
    if out != f"ornith {version}":
        raise ReleaseError(f"the installed ornith says {out!r}, expected 'ornith {version}'")
    verified.append(f"ornith --version prints 'ornith {version}'")
    report = json.loads(run([str(ornith), "doctor", "--json"]).stdout)
    names = {model["name"] for model in report["models"]}
    if "gemma3-270m" not in names:
        raise ReleaseError("the installed wheel does not find its model catalog")
    verified.append(f"ornith doctor --json: llama-cpp-python {report['llama_cpp']['version']}, "
                    f"sandbox tier {report['sandbox']['active']}, catalog of {len(names)} models found in the wheel")
    if smoke:
        repo = scratch / "invoicing"
        shutil.copytree(ROOT / "examples" / "invoicing", repo)
        run(["git", "init", "-q"], cwd=repo)
        run(["git", "-c", "user.name=release", "-c", "user.email=release@localhost", "add", "-A"], cwd=repo)
        run(["git", "-c", "user.name=release", "-c", "user.email=release@localhost", "commit", "-qm", "x"],
            cwd=repo)
        result = subprocess.run(
            [str(ornith), "run", SMOKE_TASK, "--repo", str(repo), "--model", "gemma3-270m", "--mode", "auto",
             "--max-turns", "1", "--no-judge", "--n-ctx", "4096", "--json"],
            text=True, capture_output=True, timeout=1800,
        )
        events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
        if not events or events[-1].get("event") != "summary":
            raise ReleaseError(f"the smoke run did not finish with a summary:\n{result.stderr[-2000:]}")
        summary = events[-1]
        verified.append(f"ornith run on the bundled example with the tiny model: outcome {summary['outcome']}, "
                        f"{summary['turns']} turn(s), trajectory {summary['session_id']}")
    return verified


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check-only", action="store_true", help="only check version / changelog agreement")
    parser.add_argument("--no-smoke", action="store_true", help="skip the agent smoke run")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    args = parser.parse_args()
    try:
        version = package_version(VERSION_FILE.read_text(encoding="utf-8"))
        problems = check_version_agreement(version, CHANGELOG.read_text(encoding="utf-8"))
        if problems:
            raise ReleaseError("refusing to release:\n  " + "\n  ".join(problems))
        verified = [f"version {version} agrees with CHANGELOG.md"]
        if not args.check_only:
            wheel, sdist = build(args.dist)
            verified.append(f"built {wheel.name} and {sdist.name}; twine check --strict passed")
            FORMULA.write_text(update_formula(FORMULA.read_text(encoding="utf-8"), version, sdist), encoding="utf-8")
            verified.append(f"{FORMULA.relative_to(ROOT)} points at {sdist.name} with its sha256")
            with tempfile.TemporaryDirectory(prefix="ornith-release-") as temp:
                ornith = install_fresh(wheel, Path(temp) / "venv")
                verified.append("the wheel installed into a fresh virtualenv with the [demo] extra")
                verified += exercise(ornith, version, not args.no_smoke, Path(temp))
    except ReleaseError as error:
        print(f"release: {error}", file=sys.stderr)
        return 1
    print("\nVerified:")
    for line in verified:
        print(f"  ✓ {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
