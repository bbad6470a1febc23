"""Usernames: shown as typed, compared by a key so that look-alike names cannot both be taken."""


def name_key(name: str) -> str:
    """The key two usernames are compared by: case and extra spaces do not matter."""
    return " ".join(name.split()).lower()


def check_name(name: str) -> str:
    """The name as it will be shown (spaces tidied); ValueError when it cannot be a username."""
    shown = " ".join(name.split())
    if not 3 <= len(shown) <= 30:
        raise ValueError("a username has 3 to 30 characters")
    return shown
