import pytest
from splitter.bill import shares
from splitter.money import split_cents


@pytest.mark.parametrize(("total", "people"), [(10000, 3), (200, 3), (101, 2), (1, 4), (99999, 7), (5, 5)])
def test_shares_add_up_and_differ_by_a_cent_at_most(total, people):
    parts = split_cents(total, people)
    assert len(parts) == people
    assert sum(parts) == total
    assert max(parts) - min(parts) <= 1


def test_a_hundred_dollars_three_ways():
    assert sorted(split_cents(10000, 3), reverse=True) == [3334, 3333, 3333]
    paid = shares("$100.00", ["ann", "bob", "cy"])
    assert sorted(paid.values()) == ["$33.33", "$33.33", "$33.34"]
