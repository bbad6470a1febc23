from decimal import Decimal

from invoicing.money import format_money, round_cents


def test_round_half_up():
    assert round_cents("2.345") == Decimal("2.35")
    assert round_cents(0.1 + 0.2) == Decimal("0.30")


def test_format_money_symbols_and_thousands():
    assert format_money(Decimal("1234.5")) == "€1,234.50"
    assert format_money(3, "USD") == "$3.00"
    assert format_money(-2, "CHF") == "-CHF 2.00"
