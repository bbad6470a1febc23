"""Group failing tests by root-cause signature, so forty red tests from one bug become one item.

- A failure that raised inside project code groups by exception type, message shape and the innermost
  project frame (`path:function`): the same bug raises the same way from the same place.
- A failure in test code (an assertion on a wrong value, usually) has no such frame: the traceback
  points at the test. It groups by the function that per-test SBFL finds most suspicious for that one
  test, when coverage was recorded, else by exception type and test file.
- A module that failed to import groups by exception, shape and the frame that raised at import.

Clusters whose localization later agrees on the top suspect are merged by the engine (`merge_by_top`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from ornith_local.triage.failures import Failure
from ornith_local.triage.model import ClusterKind


@dataclass
class Group:
    signature: str
    kind: ClusterKind
    failures: list[Failure] = field(default_factory=list)
    variants: list[str] = field(default_factory=list)

    @property
    def exception(self) -> str:
        return self.failures[0].exception

    @property
    def test_ids(self) -> list[str]:
        return [failure.test_id for failure in self.failures]


def _where(failure: Failure) -> str:
    frame = failure.frames[0]
    return f"{frame.path}:{frame.symbol}"


def signature_of(failure: Failure, suspect_of: Callable[[Failure], str | None]) -> tuple[str, ClusterKind]:
    shape = failure.shape if failure.shape and failure.shape != "assertion" else ""
    head = f"{failure.exception}: {shape}" if shape else failure.exception
    if failure.collection:
        where = f" @ {_where(failure)}" if failure.frames else ""
        return f"import/collection error: {head}{where}", "collection"
    if failure.raised_in_project and failure.frames:
        return f"{head} @ {_where(failure)}", "raises"
    suspect = suspect_of(failure)
    if suspect is not None:
        return f"{failure.exception} in tests, most suspicious: {suspect}", "wrong-value"
    test_file = failure.case.file or failure.test_id.split("::", 1)[0]
    return f"{head} in {PurePosixPath(test_file).as_posix()}", "wrong-value"


def group_failures(failures: list[Failure], suspect_of: Callable[[Failure], str | None]) -> list[Group]:
    """Groups by signature, largest first (ties: the order the runner reported them)."""
    groups: dict[str, Group] = {}
    for failure in failures:
        signature, kind = signature_of(failure, suspect_of)
        groups.setdefault(signature, Group(signature, kind)).failures.append(failure)
    return sorted(groups.values(), key=lambda group: -len(group.failures))


def merge_by_top(groups: list[Group], top_of: Callable[[Group], str | None]) -> list[Group]:
    """Merge groups whose top suspect is the same function: two symptoms of one bug.

    Import/collection errors stay apart: they stop tests from running, whatever else is wrong.
    """
    merged: dict[str, Group] = {}
    result: list[Group] = []
    for group in groups:
        top = top_of(group) if group.kind != "collection" else None
        if top is None:
            result.append(group)
            continue
        existing = merged.get(top)
        if existing is None:
            merged[top] = group
            result.append(group)
        else:
            existing.failures.extend(group.failures)
            existing.variants.append(group.signature)
            existing.variants.extend(group.variants)
    return sorted(result, key=lambda group: -len(group.failures))
