"""Sending the contact list to the mailing service, one request per batch."""

from collections.abc import Callable

from mailer.batches import batched

MAX_BATCH = 50  # the service rejects larger requests


def normalize(email: str) -> str:
    return email.strip().lower()


def export_contacts(emails: list[str], send: Callable[[list[str]], None], batch_size: int = MAX_BATCH) -> int:
    """Send every distinct address once, in batches of at most `batch_size`; returns the number of requests."""
    unique = list(dict.fromkeys(normalize(email) for email in emails if email.strip()))
    requests = 0
    for batch in batched(unique, batch_size):
        send(batch)
        requests += 1
    return requests
