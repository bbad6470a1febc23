"""A bill, the tip, and who pays what."""

from splitter.money import format_cents, split_cents, to_cents


def shares(total: str, names: list[str], tip_percent: int = 0) -> dict[str, str]:
    """What each person pays, tip included, as text."""
    cents = to_cents(total)
    cents += cents * tip_percent // 100
    return {name: format_cents(share) for name, share in zip(names, split_cents(cents, len(names)), strict=True)}
