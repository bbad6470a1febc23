from decimal import Decimal

from invoicing.discounts import bulk_discount_rate


def test_every_tier_starts_at_its_minimum():
    assert bulk_discount_rate(9) == 0
    assert bulk_discount_rate(10) == Decimal("0.05")
    assert bulk_discount_rate(49) == Decimal("0.05")
    assert bulk_discount_rate(50) == Decimal("0.10")
    assert bulk_discount_rate(99) == Decimal("0.10")
    assert bulk_discount_rate(100) == Decimal("0.15")
    assert bulk_discount_rate(0) == 0
