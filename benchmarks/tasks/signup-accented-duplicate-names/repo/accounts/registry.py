"""Registered accounts, looked up by name."""

from accounts.names import check_name, name_key


class NameTaken(Exception):
    """Another account already has this name (or one that only differs in how it is typed)."""


class Registry:
    def __init__(self) -> None:
        self._accounts: dict[str, str] = {}  # name key -> the name as shown

    def register(self, name: str) -> str:
        shown = check_name(name)
        key = name_key(shown)
        if key in self._accounts:
            raise NameTaken(f"{shown!r} is taken")
        self._accounts[key] = shown
        return shown

    def find(self, name: str) -> str | None:
        return self._accounts.get(name_key(name))

    def __len__(self) -> int:
        return len(self._accounts)
