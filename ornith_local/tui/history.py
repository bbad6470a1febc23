"""The task input's history: what you typed before, kept across sessions in the data dir."""

from __future__ import annotations

import json
from pathlib import Path

from ornith_local.config import app_dirs

MAX_ENTRIES = 500


def history_path() -> Path:
    return app_dirs().data / "tui-history.jsonl"


class InputHistory:
    """Up/down through past entries, shell style: the draft being typed is kept while browsing."""

    def __init__(self, path: Path | None = None, entries: list[str] | None = None) -> None:
        self.path = path
        self.entries: list[str] = entries if entries is not None else self._load()
        self._index: int | None = None  # None: not browsing
        self._draft = ""

    def _load(self) -> list[str]:
        if self.path is None or not self.path.is_file():
            return []
        entries = []
        try:
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    value = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(value, str) and value.strip():
                    entries.append(value)
        except OSError:
            return []
        return entries[-MAX_ENTRIES:]

    def add(self, text: str) -> None:
        self._index = None
        if not text.strip() or (self.entries and self.entries[-1] == text):
            return
        self.entries.append(text)
        del self.entries[:-MAX_ENTRIES]
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(text) + "\n")
            except OSError:
                pass  # history is a convenience; a read-only data dir must not stop a task

    def previous(self, current: str) -> str | None:
        """The entry before the one shown (or the newest, starting from the draft); None at the oldest."""
        if not self.entries:
            return None
        if self._index is None:
            self._draft = current
            self._index = len(self.entries)
        if self._index == 0:
            return None
        self._index -= 1
        return self.entries[self._index]

    def next(self) -> str | None:
        """The entry after the one shown, the draft after the newest; None when not browsing."""
        if self._index is None:
            return None
        self._index += 1
        if self._index >= len(self.entries):
            self._index = None
            return self._draft
        return self.entries[self._index]

    @property
    def browsing(self) -> bool:
        return self._index is not None
