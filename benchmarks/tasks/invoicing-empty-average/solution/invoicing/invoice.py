"""Invoices: lines with quantities and unit prices, bulk discounts, a coupon, and tax."""

from dataclasses import dataclass, field
from decimal import Decimal

from invoicing.discounts import apply_coupon, bulk_discount_rate
from invoicing.money import round_cents, to_decimal


@dataclass
class InvoiceLine:
    description: str
    quantity: int
    unit_price: Decimal

    def __post_init__(self) -> None:
        self.unit_price = to_decimal(self.unit_price)
        if self.quantity <= 0:
            raise ValueError(f"{self.description}: quantity must be positive")

    @property
    def total(self) -> Decimal:
        gross = self.unit_price * self.quantity
        return round_cents(gross * (1 - bulk_discount_rate(self.quantity)))


@dataclass
class Invoice:
    customer: str
    tax_rate: Decimal = Decimal("0.20")
    coupon: str | None = None
    lines: list[InvoiceLine] = field(default_factory=list)

    def add(self, description: str, quantity: int, unit_price) -> InvoiceLine:
        line = InvoiceLine(description, quantity, unit_price)
        self.lines.append(line)
        return line

    @property
    def subtotal(self) -> Decimal:
        return round_cents(sum((line.total for line in self.lines), Decimal("0")))

    @property
    def discounted_subtotal(self) -> Decimal:
        return apply_coupon(self.subtotal, self.coupon)

    @property
    def tax(self) -> Decimal:
        return round_cents(self.discounted_subtotal * self.tax_rate)

    @property
    def total(self) -> Decimal:
        return self.discounted_subtotal + self.tax

    def average_line_total(self) -> Decimal:
        """Mean of the line totals; an empty invoice averages to zero."""
        if not self.lines:
            return Decimal("0.00")
        return round_cents(self.subtotal / len(self.lines))
