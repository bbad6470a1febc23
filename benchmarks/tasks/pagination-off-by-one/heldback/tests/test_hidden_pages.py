from catalog.pages import paginate
from catalog.search import search


def test_pages_cover_every_item_once():
    items = list(range(23))
    seen = []
    for number in (1, 2, 3):
        page = paginate(items, number, per_page=10)
        seen += page.items
    assert seen == items
    assert paginate(items, 3, per_page=10).items == [20, 21, 22]
    assert not paginate(items, 3, per_page=10).has_next


def test_search_second_page():
    products = [f"chair {n:02d}" for n in range(12)]
    assert search(products, "chair", page=2, per_page=5).items == [f"chair {n:02d}" for n in range(5, 10)]
