from catalog.search import search


def test_search_is_case_insensitive():
    page = search(["Red Chair", "blue chair", "Table"], "CHAIR")
    assert page.items == ["Red Chair", "blue chair"]
