"""A pytest plugin that records per-test line coverage, loaded into the project's own pytest by triage.

This file runs inside the sandbox under the project's interpreter, not ornith's: it imports nothing
from ornith, only the standard library, pytest and coverage.py. Triage copies it into a scratch folder
as `ornith_triage_cov.py`, puts that folder on PYTHONPATH and adds `-p ornith_triage_cov` to
PYTEST_ADDOPTS, so it works whatever command (pytest, python -m pytest, tox, make) ends up in pytest.

Measurement starts when the plugin is imported, before conftest files and the project are, and each
test's setup, call and teardown run under a dynamic context named by its node id. Every process
(xdist workers too) writes its own data file; triage merges them.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

BETWEEN_TESTS = "ornith:between-tests"
_scratch = os.environ.get("ORNITH_TRIAGE_DIR", "")
_cov: Any = None
_problem = ""

try:
    import coverage
except ImportError:
    # The project's interpreter has no coverage.py: fall back to the copy triage put beside us.
    sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "vendor"))
    try:
        import coverage
    except ImportError as error:
        coverage = None  # type: ignore[assignment]
        _problem = f"coverage.py could not be imported: {error}"

if coverage is not None and _scratch:
    try:
        settings = json.loads(os.environ.get("ORNITH_TRIAGE_COVERAGE", "{}"))
        _cov = coverage.Coverage(
            data_file=os.path.join(_scratch, "coverage.data"), data_suffix=True, config_file=False,
            source=settings.get("source"), omit=settings.get("omit"), branch=False,
        )
        _cov.start()
        _cov.switch_context(BETWEEN_TESTS)
    except Exception as error:  # a broken coverage install must never break the user's test run
        _cov = None
        _problem = f"coverage.py could not start: {type(error).__name__}: {error}"


_dump_file: Any = None
_dump_every = 0.0


def _arm_hang_dump() -> None:
    """Dump every thread's stack every few seconds: if the sandbox's timeout kills a hanging suite, the
    last dump says where it was stuck. (One late dump would race the kill on a loaded machine.)

    Re-armed at each test's start, because pytest cancels faulthandler's timer whenever a test fails
    (pytest_exception_interact) and a project's own faulthandler_timeout replaces it."""
    global _dump_file, _dump_every
    import faulthandler

    try:
        if _dump_file is None:
            _dump_every = float(os.environ.get("ORNITH_TRIAGE_DUMP_EVERY", "0"))
            if _dump_every <= 0 or not _scratch:
                return
            _dump_file = open(os.path.join(_scratch, f"hang-{os.getpid()}.txt"), "w", encoding="utf-8")  # noqa: SIM115
        faulthandler.dump_traceback_later(_dump_every, repeat=True, file=_dump_file)
    except (OSError, ValueError, RuntimeError):
        _dump_every = 0.0


_arm_hang_dump()


def _write_meta() -> None:
    if not _scratch:
        return
    meta = {"pid": os.getpid(), "python": sys.version.split()[0], "problem": _problem,
            "coverage": getattr(coverage, "__version__", None) if coverage is not None else None}
    try:
        with open(os.path.join(_scratch, f"meta-{os.getpid()}.json"), "w", encoding="utf-8") as handle:
            json.dump(meta, handle)
    except OSError:
        pass


_progress: Any = None


def _record(event: str, nodeid: str) -> None:
    """A line per test start and result, flushed at once: what survives if the suite hangs and is killed."""
    global _progress
    if not _scratch:
        return
    try:
        if _progress is None:
            _progress = open(os.path.join(_scratch, f"progress-{os.getpid()}.log"), "a", encoding="utf-8")  # noqa: SIM115
        _progress.write(f"{event}\t{nodeid}\n")
        _progress.flush()
    except OSError:
        pass


def pytest_runtest_logstart(nodeid: str, location: tuple[str, int | None, str]) -> None:
    _record("start", nodeid)
    if _dump_file is not None and _dump_every > 0:
        _arm_hang_dump()
    if _cov is not None:
        _cov.switch_context(nodeid)


def pytest_runtest_logreport(report: Any) -> None:
    if report.when == "call" or report.outcome != "passed":
        _record(report.outcome, report.nodeid)


def pytest_runtest_logfinish(nodeid: str, location: tuple[str, int | None, str]) -> None:
    if _cov is not None:
        _cov.switch_context(BETWEEN_TESTS)


def pytest_unconfigure(config: object) -> None:
    global _cov
    if _cov is not None:
        try:
            _cov.stop()
            _cov.save()
        except Exception as error:
            global _problem
            _problem = f"coverage.py could not save: {type(error).__name__}: {error}"
        _cov = None
    _write_meta()
