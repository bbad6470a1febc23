"""Case-insensitive product search."""

from catalog.pages import Page, paginate


def search(products: list[str], query: str, page: int = 1, per_page: int = 10) -> Page:
    needle = query.strip().lower()
    hits = [name for name in products if needle in name.lower()]
    return paginate(sorted(hits), page, per_page)
