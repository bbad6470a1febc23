"""Helpers for people's names as users type them."""


def normalize(name: str) -> str:
    """Collapse runs of whitespace and strip the ends: '  Ada   Lovelace ' -> 'Ada Lovelace'."""
    return " ".join(name.split())


def display_name(first: str, last: str) -> str:
    """'Lovelace, Ada' style, or just the part that is present."""
    first, last = normalize(first), normalize(last)
    if first and last:
        return f"{last}, {first}"
    return first or last
