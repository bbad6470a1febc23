from decimal import Decimal

import pytest
from invoicing.discounts import apply_coupon, bulk_discount_rate


def test_no_bulk_discount_for_small_orders():
    assert bulk_discount_rate(1) == 0
    assert bulk_discount_rate(9) == 0


def test_bulk_discount_starts_at_tier_minimum():
    # "at least 10 items" gets 5%, "at least 50" gets 10%.
    assert bulk_discount_rate(10) == Decimal("0.05")
    assert bulk_discount_rate(50) == Decimal("0.10")
    assert bulk_discount_rate(120) == Decimal("0.15")


def test_negative_quantity_is_rejected():
    with pytest.raises(ValueError):
        bulk_discount_rate(-1)


def test_coupons():
    assert apply_coupon(100, "welcome10") == Decimal("90.00")
    assert apply_coupon(100, None) == Decimal("100.00")
    with pytest.raises(ValueError, match="unknown coupon"):
        apply_coupon(100, "FREE")
