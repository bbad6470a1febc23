from decimal import Decimal

import pytest
from invoicing.invoice import Invoice


def make_invoice(**kwargs):
    invoice = Invoice("ACME", **kwargs)
    invoice.add("Widget", 2, "9.99")
    invoice.add("Gadget", 1, "25.00")
    return invoice


def test_subtotal_tax_and_total():
    invoice = make_invoice()
    assert invoice.subtotal == Decimal("44.98")
    assert invoice.tax == Decimal("9.00")
    assert invoice.total == Decimal("53.98")


def test_coupon_applies_before_tax():
    invoice = make_invoice(coupon="SPRING25")
    assert invoice.discounted_subtotal == Decimal("33.74")
    assert invoice.total == Decimal("40.49")


def test_bulk_line_is_discounted():
    invoice = Invoice("ACME")
    line = invoice.add("Bolt", 100, "0.50")
    assert line.total == Decimal("42.50")


def test_average_line_total():
    assert make_invoice().average_line_total() == Decimal("22.49")


def test_average_of_empty_invoice_is_zero():
    assert Invoice("ACME").average_line_total() == Decimal("0")


def test_zero_quantity_is_rejected():
    with pytest.raises(ValueError):
        Invoice("ACME").add("Nothing", 0, "1.00")
