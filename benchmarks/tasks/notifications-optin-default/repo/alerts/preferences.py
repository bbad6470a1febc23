"""A user's notification preferences: a kind of mail -> on/off, as saved from the settings page.

A user who never saved a preference gets the kind's default from DEFAULTS.
"""

DEFAULTS = {
    "security": True,  # sign-ins from new devices, password changes
    "digest": True,  # the weekly summary
    "marketing": False,  # offers and newsletters: opt-in
}


def wants(preferences: dict[str, bool], kind: str) -> bool:
    """Whether a user with these saved preferences gets mail of this kind."""
    if kind not in DEFAULTS:
        raise KeyError(f"unknown kind of mail: {kind}")
    return preferences.get(kind, True)
