"""Pagination of result lists. Pages are numbered from 1, as the web UI shows them."""

from dataclasses import dataclass


@dataclass
class Page:
    number: int
    items: list
    total_pages: int

    @property
    def has_next(self) -> bool:
        return self.number < self.total_pages


def page_count(total: int, per_page: int) -> int:
    """How many pages `total` items fill; an empty list still has one (empty) page."""
    if per_page < 1:
        raise ValueError("per_page must be at least 1")
    return max(1, -(-total // per_page))


def paginate(items: list, page: int, per_page: int = 10) -> Page:
    """The items on page `page` (1-based)."""
    if page < 1:
        raise ValueError("pages are numbered from 1")
    pages = page_count(len(items), per_page)
    start = (page - 1) * per_page
    return Page(page, items[start:start + per_page], pages)
