from datetime import date

from billing.dates import add_months
from billing.subscriptions import Subscription, next_renewal, page_summary


def test_a_shorter_month_renews_on_its_last_day():
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2023, 1, 31), 1) == date(2023, 2, 28)
    assert add_months(date(2024, 3, 31), 1) == date(2024, 4, 30)
    assert add_months(date(2024, 12, 31), 2) == date(2025, 2, 28)
    assert add_months(date(2024, 1, 30), 1) == date(2024, 2, 29)


def test_a_january_31_customer_sees_the_page():
    sub = Subscription("bo", date(2024, 1, 31), 900)
    assert next_renewal(sub, date(2024, 2, 10)) == date(2024, 2, 29)
    assert next_renewal(sub, date(2024, 3, 1)) == date(2024, 3, 31)  # back on the 31st after February
    assert page_summary(sub, date(2024, 4, 2)) == "bo: $9.00 on 2024-04-30"
