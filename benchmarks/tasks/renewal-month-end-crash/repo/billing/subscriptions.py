"""A subscription renews every month on its sign-up day (or the month's last day, when it is shorter)."""

from dataclasses import dataclass
from datetime import date

from billing.dates import add_months


@dataclass
class Subscription:
    customer: str
    signed_up: date
    monthly_cents: int


def next_renewal(subscription: Subscription, today: date) -> date:
    """The first renewal after today. Counted from the sign-up day each time, so a short month does not
    move the later renewals."""
    months = 1
    while add_months(subscription.signed_up, months) <= today:
        months += 1
    return add_months(subscription.signed_up, months)


def page_summary(subscription: Subscription, today: date) -> str:
    renewal = next_renewal(subscription, today)
    return f"{subscription.customer}: ${subscription.monthly_cents / 100:.2f} on {renewal.isoformat()}"
