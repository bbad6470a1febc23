import pytest
from splitter.bill import shares
from splitter.money import format_cents, split_cents, to_cents


def test_to_cents():
    assert to_cents("$12.50") == 1250
    assert to_cents("1,200") == 120000
    with pytest.raises(ValueError):
        to_cents("12.345")
    with pytest.raises(ValueError):
        to_cents("lunch")


def test_format_cents():
    assert format_cents(123456) == "$1,234.56"
    assert format_cents(5) == "$0.05"


def test_even_split():
    assert split_cents(9000, 3) == [3000, 3000, 3000]
    assert split_cents(1000, 4) == [250, 250, 250, 250]
    assert split_cents(777, 1) == [777]


def test_nobody_to_split_with():
    with pytest.raises(ValueError):
        split_cents(100, 0)


def test_shares_with_tip():
    assert shares("$80.00", ["ann", "bob"], tip_percent=10) == {"ann": "$44.00", "bob": "$44.00"}
