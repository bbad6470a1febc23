from decimal import Decimal

from invoicing.invoice import Invoice


def test_empty_invoice_averages_to_zero_cents():
    assert Invoice("ACME").average_line_total() == Decimal("0")


def test_average_is_unchanged_for_real_invoices():
    invoice = Invoice("ACME")
    invoice.add("A", 1, "10.00")
    invoice.add("B", 1, "20.01")
    assert invoice.average_line_total() == Decimal("15.01")
    single = Invoice("ACME")
    single.add("C", 3, "1.00")
    assert single.average_line_total() == Decimal("3.00")
