import pytest
from catalog.pages import page_count, paginate


def test_page_count():
    assert page_count(0, 10) == 1
    assert page_count(10, 10) == 1
    assert page_count(11, 10) == 2


def test_first_page_starts_with_the_first_item():
    page = paginate(list(range(25)), 1, per_page=10)
    assert page.items == list(range(10))
    assert page.has_next


def test_pages_are_numbered_from_one():
    with pytest.raises(ValueError):
        paginate([1, 2, 3], 0)
