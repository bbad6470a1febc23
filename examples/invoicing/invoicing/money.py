"""Amounts are Decimals; these helpers round and format them consistently."""

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}


def to_decimal(value) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        # Go through str so 0.1 becomes Decimal("0.1"), not its binary approximation.
        return Decimal(str(value))
    return Decimal(value)


def round_cents(amount) -> Decimal:
    """Round half up to whole cents, as invoices are printed."""
    return to_decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


def format_money(amount, currency: str = "EUR") -> str:
    """'€1,234.50' style formatting; unknown currencies print their code."""
    rounded = round_cents(amount)
    sign = "-" if rounded < 0 else ""
    symbol = SYMBOLS.get(currency, currency + " ")
    return f"{sign}{symbol}{abs(rounded):,.2f}"
