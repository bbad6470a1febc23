"""Who a mailing goes to."""

from dataclasses import dataclass, field

from alerts.preferences import wants


@dataclass
class User:
    email: str
    active: bool = True
    preferences: dict[str, bool] = field(default_factory=dict)


def recipients(users: list[User], kind: str) -> list[str]:
    """The addresses of the active users who want mail of this kind, sorted."""
    return sorted(user.email for user in users if user.active and wants(user.preferences, kind))
