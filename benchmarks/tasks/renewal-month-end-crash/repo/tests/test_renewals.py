from datetime import date

from billing.dates import add_months
from billing.subscriptions import Subscription, next_renewal, page_summary


def test_add_months():
    assert add_months(date(2024, 1, 15), 1) == date(2024, 2, 15)
    assert add_months(date(2024, 11, 10), 3) == date(2025, 2, 10)
    assert add_months(date(2024, 5, 1), 12) == date(2025, 5, 1)


def test_next_renewal_is_after_today():
    sub = Subscription("ada", date(2024, 1, 15), 900)
    assert next_renewal(sub, date(2024, 3, 20)) == date(2024, 4, 15)
    assert next_renewal(sub, date(2024, 4, 15)) == date(2024, 5, 15)


def test_page_summary():
    sub = Subscription("ada", date(2024, 1, 15), 1250)
    assert page_summary(sub, date(2024, 1, 20)) == "ada: $12.50 on 2024-02-15"
