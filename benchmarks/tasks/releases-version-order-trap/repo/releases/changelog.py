"""Order changelog sections newest first."""

from releases.versions import parse_version


def newest_first(sections: dict[str, str]) -> list[str]:
    return sorted(sections, key=parse_version, reverse=True)
