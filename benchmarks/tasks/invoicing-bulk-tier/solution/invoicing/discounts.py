"""Discount rules: bulk discounts by quantity, and coupon codes."""

from decimal import Decimal

from invoicing.money import round_cents, to_decimal

# (minimum quantity, discount rate): buying at least that many items gives that rate.
BULK_TIERS = [(100, Decimal("0.15")), (50, Decimal("0.10")), (10, Decimal("0.05"))]

COUPONS = {
    "WELCOME10": Decimal("0.10"),
    "SPRING25": Decimal("0.25"),
}


def bulk_discount_rate(quantity: int) -> Decimal:
    """The discount rate for buying `quantity` items of one product."""
    if quantity < 0:
        raise ValueError("quantity cannot be negative")
    for minimum, rate in BULK_TIERS:
        if quantity >= minimum:
            return rate
    return Decimal("0")


def apply_coupon(amount, code: str | None) -> Decimal:
    """The amount after a coupon; codes are case-insensitive; an unknown code is an error."""
    amount = to_decimal(amount)
    if not code:
        return round_cents(amount)
    try:
        rate = COUPONS[code.strip().upper()]
    except KeyError:
        raise ValueError(f"unknown coupon code: {code}") from None
    return round_cents(amount * (1 - rate))
