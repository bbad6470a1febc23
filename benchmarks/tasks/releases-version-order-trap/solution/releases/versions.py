"""Semantic versions like '1.10.2'."""


def parse_version(text: str) -> tuple[int, ...]:
    """'v1.10.2' or '1.10.2' -> a key that sorts versions in release order."""
    text = text.strip()
    if text.startswith("v"):
        text = text[1:]
    parts = text.split(".")
    if not parts or not all(part.isdigit() for part in parts):
        raise ValueError(f"not a version: {text!r}")
    return tuple(int(part) for part in parts)


def latest(versions: list[str]) -> str:
    return max(versions, key=parse_version)
