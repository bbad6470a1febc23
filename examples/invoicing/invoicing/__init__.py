"""A tiny invoicing library."""

from invoicing.discounts import apply_coupon, bulk_discount_rate
from invoicing.invoice import Invoice, InvoiceLine
from invoicing.money import format_money, round_cents

__all__ = ["Invoice", "InvoiceLine", "apply_coupon", "bulk_discount_rate", "format_money", "round_cents"]
